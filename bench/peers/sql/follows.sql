-- follows: DataScript's rules-benchmark trees and chains (`datalite gen
-- follows`); ids are DataScript's node numbers.
CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL
);
CREATE TABLE follows (
	person_id INTEGER NOT NULL,
	follows_id INTEGER NOT NULL
);
