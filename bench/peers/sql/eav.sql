-- The EAV layout: one row per datom, clustered like EAVT, with an AVET index.
-- `v` has no declared type, so every value keeps its own (integer, real,
-- text); refs are the target's entity id, keywords are text with the colon,
-- instants are epoch milliseconds.
CREATE TABLE datoms (
	e INTEGER NOT NULL,
	a TEXT NOT NULL,
	v NOT NULL,
	tx INTEGER NOT NULL,
	PRIMARY KEY (e, a, v)
) WITHOUT ROWID;
