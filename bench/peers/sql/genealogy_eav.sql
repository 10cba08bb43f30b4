-- (the generation is CSV-only: the EDN has no attribute for it)
INSERT INTO datoms
	SELECT id, ':person/id', id, 1 FROM people UNION ALL
	SELECT person_id, ':person/parent', parent_id, 1 FROM parents
	ORDER BY 1, 2;
DROP TABLE people;
DROP TABLE parents;
