CREATE INDEX datoms_avet ON datoms (a, v, e);
