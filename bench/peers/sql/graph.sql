-- graph: nodes and random directed edges (edges are entities too).
CREATE TABLE nodes (id INTEGER PRIMARY KEY);
CREATE TABLE edges (
	id INTEGER PRIMARY KEY,
	from_id INTEGER NOT NULL,
	to_id INTEGER NOT NULL
);
