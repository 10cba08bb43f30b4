CREATE INDEX follows_person ON follows (person_id, follows_id);
CREATE INDEX follows_target ON follows (follows_id, person_id);
