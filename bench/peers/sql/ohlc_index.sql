-- ohlc, normalized: the natural indexes (after the import, which is faster).
CREATE UNIQUE INDEX symbols_ticker ON symbols (ticker);
CREATE INDEX prices_symbol_time ON prices (symbol_id, time_ms);
CREATE INDEX prices_time ON prices (time_ms);
