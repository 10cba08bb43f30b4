INSERT INTO datoms
	SELECT id, ':id', id, 1 FROM people UNION ALL
	SELECT id, ':name', name, 1 FROM people UNION ALL
	SELECT person_id, ':follows', follows_id, 2 FROM follows
	ORDER BY 1, 2;
DROP TABLE people;
DROP TABLE follows;
