CREATE INDEX people_name ON people (name);
CREATE INDEX people_salary ON people (salary);
CREATE INDEX aliases_person ON aliases (person_id);
CREATE INDEX follows_person ON follows (person_id, follows_id);
CREATE INDEX follows_target ON follows (follows_id);
