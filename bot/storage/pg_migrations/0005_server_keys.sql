-- PostgreSQL twin of migrations/0004_server_keys.sql: servers' own OpenAI keys (encrypted by the bot) and which
-- key paid for each job.
CREATE TABLE server_keys (
    guild_id    BIGINT  PRIMARY KEY,
    ciphertext  TEXT,
    updated_by  BIGINT  NOT NULL,
    updated_at  TEXT    COLLATE "C" NOT NULL
);

ALTER TABLE spend ADD COLUMN paid_by TEXT NOT NULL DEFAULT 'owner';
