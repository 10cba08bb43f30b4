INSERT INTO datoms
	SELECT id, ':node/id', id, 1 FROM nodes UNION ALL
	SELECT id, ':edge/from', from_id, 2 FROM edges UNION ALL
	SELECT id, ':edge/to', to_id, 2 FROM edges
	ORDER BY 1, 2;
DROP TABLE nodes;
DROP TABLE edges;
