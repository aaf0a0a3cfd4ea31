-- A server's own OpenAI key (/threadpaint settings key), encrypted by the bot (Fernet, the owner's
-- SERVER_KEYS_SECRET): the database never holds it in the clear. ciphertext NULL: the server removed its key,
-- which matters when the owner doesn't lend theirs afterwards (SERVER_KEY_FALLBACK).
CREATE TABLE server_keys (
    guild_id    INTEGER PRIMARY KEY,
    ciphertext  TEXT,
    updated_by  INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL
) STRICT;

-- Which key paid for a job: 'owner' (the bot's OPENAI_API_KEY) or 'server' (that server's own key). The owner's
-- bot-wide caps count only the owner's.
ALTER TABLE spend ADD COLUMN paid_by TEXT NOT NULL DEFAULT 'owner';
