INSERT INTO datoms
	SELECT id, ':age', age, 1 FROM people UNION ALL
	SELECT id, ':id', id, 1 FROM people UNION ALL
	SELECT id, ':last-name', last_name, 1 FROM people UNION ALL
	SELECT id, ':name', name, 1 FROM people UNION ALL
	SELECT id, ':salary', salary, 1 FROM people UNION ALL
	SELECT id, ':sex', ':' || sex, 1 FROM people UNION ALL
	SELECT person_id, ':alias', alias, 1 FROM aliases UNION ALL
	SELECT person_id, ':follows', follows_id, 2 FROM follows
	ORDER BY 1, 2;
DROP TABLE people;
DROP TABLE aliases;
DROP TABLE follows;
