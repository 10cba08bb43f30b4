-- ohlc: the normalized tables (just imported) as datoms, then dropped.
-- tx: 1 for the symbols, 2 for the bars (the peers' queries ignore it).
INSERT INTO datoms SELECT id, ':symbol/ticker', ticker, 1 FROM symbols;
INSERT INTO datoms SELECT id, ':symbol/name', name, 1 FROM symbols;
INSERT INTO datoms
	SELECT id, ':price/close', close, 2 FROM prices UNION ALL
	SELECT id, ':price/high', high, 2 FROM prices UNION ALL
	SELECT id, ':price/low', low, 2 FROM prices UNION ALL
	SELECT id, ':price/minute-of-day', minute_of_day, 2 FROM prices UNION ALL
	SELECT id, ':price/open', open, 2 FROM prices UNION ALL
	SELECT id, ':price/symbol', symbol_id, 2 FROM prices UNION ALL
	SELECT id, ':price/time', time_ms, 2 FROM prices UNION ALL
	SELECT id, ':price/volume', volume, 2 FROM prices
	ORDER BY 1, 2;
DROP TABLE prices;
DROP TABLE symbols;
