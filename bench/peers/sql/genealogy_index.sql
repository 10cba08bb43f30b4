CREATE INDEX parents_person ON parents (person_id, parent_id);
CREATE INDEX parents_parent ON parents (parent_id);
