-- genealogy: people in generations, two parents each from the previous one.
CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	generation INTEGER NOT NULL
);
CREATE TABLE parents (
	person_id INTEGER NOT NULL,
	parent_id INTEGER NOT NULL
);
