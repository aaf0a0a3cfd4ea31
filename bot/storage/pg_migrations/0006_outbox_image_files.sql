-- Mirrors SQLite's migration 6, which moved finished images out of SQLite's outbox rows into files beside the
-- database. PostgreSQL serves several bot processes, possibly on several machines, so its outbox rows keep the
-- image (image stays NOT NULL); only the table's description changes.
COMMENT ON TABLE outbox IS 'Finished images not yet posted to Discord: written before posting, removed once posted.';
