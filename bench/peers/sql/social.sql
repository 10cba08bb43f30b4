-- social (DataScript's benchmark people), normalized.
CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	last_name TEXT NOT NULL,
	sex TEXT NOT NULL, -- 'male' or 'female'
	age INTEGER NOT NULL,
	salary INTEGER NOT NULL
);
CREATE TABLE aliases (
	person_id INTEGER NOT NULL,
	alias TEXT NOT NULL
);
CREATE TABLE follows (
	person_id INTEGER NOT NULL,
	follows_id INTEGER NOT NULL
);
