-- Conversations: a Discord thread the bot opened, or a channel that is itself the chain.
CREATE TABLE threads (
    channel_id        INTEGER PRIMARY KEY,
    guild_id          INTEGER,
    parent_channel_id INTEGER,
    owner_id          INTEGER NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('thread', 'channel')),
    head_turn_id      INTEGER REFERENCES turns (id) ON DELETE SET NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
) STRICT;

-- One /draw or /edit, a job moving queued -> running -> delivering -> done | failed | interrupted.
CREATE TABLE turns (
    id                    INTEGER PRIMARY KEY,
    chain_id              INTEGER,
    interaction_id        INTEGER UNIQUE,
    guild_id              INTEGER,
    channel_id            INTEGER NOT NULL,
    user_id               INTEGER NOT NULL,
    kind                  TEXT    NOT NULL CHECK (kind IN ('draw', 'edit')),
    prompt                TEXT    NOT NULL,
    options               TEXT    NOT NULL,
    had_input_image       INTEGER NOT NULL DEFAULT 0,
    parent_turn_id        INTEGER REFERENCES turns (id) ON DELETE SET NULL,
    previous_response_id  TEXT,
    response_id           TEXT,
    image_call_id         TEXT,
    revised_prompt        TEXT,
    status                TEXT    NOT NULL
                          CHECK (status IN ('queued', 'running', 'delivering', 'done', 'failed', 'interrupted')),
    error_code            TEXT,
    error                 TEXT,
    reply_channel_id      INTEGER,
    reply_message_id      INTEGER,
    delivery_attempts     INTEGER NOT NULL DEFAULT 0,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    image_input_tokens    INTEGER NOT NULL DEFAULT 0,
    image_output_tokens   INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT    NOT NULL,
    finished_at           TEXT
) STRICT;

CREATE INDEX turns_chain ON turns (chain_id, id);
CREATE INDEX turns_user ON turns (user_id, created_at);
CREATE INDEX turns_unfinished ON turns (status) WHERE status IN ('queued', 'running', 'delivering');

-- Finished images not yet posted to Discord: written before posting, removed once posted (crash-safe).
CREATE TABLE outbox (
    turn_id     INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    image       BLOB    NOT NULL,
    format      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
) STRICT;
