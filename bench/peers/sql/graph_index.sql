CREATE INDEX edges_from ON edges (from_id, to_id);
CREATE INDEX edges_to ON edges (to_id);
