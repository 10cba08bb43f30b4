-- ohlc, normalized: the tables `datalite gen ohlc --format csv` fills.
-- Ids are the generator's entity ids (unique across both tables).
CREATE TABLE symbols (
	id INTEGER PRIMARY KEY,
	ticker TEXT NOT NULL,
	name TEXT NOT NULL
);
CREATE TABLE prices (
	id INTEGER PRIMARY KEY,
	symbol_id INTEGER NOT NULL,
	time_ms INTEGER NOT NULL, -- UTC epoch milliseconds
	minute_of_day INTEGER NOT NULL,
	open REAL NOT NULL,
	high REAL NOT NULL,
	low REAL NOT NULL,
	close REAL NOT NULL,
	volume INTEGER NOT NULL
);
