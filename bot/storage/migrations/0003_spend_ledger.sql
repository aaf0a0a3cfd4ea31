-- The spend ledger: what each job cost, apart from the conversation records. It holds amounts and ids, no prompt
-- text, so /forget and retention leave it alone and can never lower a budget's spend (bot.core.budgets).
-- No foreign key to turns on purpose: the row outlives the turn it was written for.
-- held_micros: the estimate held while the job is queued or running; charged_micros: what it cost.
-- started: the stream to OpenAI began, so an interruption after a crash is charged the held estimate.
CREATE TABLE spend (
    turn_id         INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL,
    guild_id        INTEGER,
    held_micros     INTEGER NOT NULL DEFAULT 0,
    charged_micros  INTEGER NOT NULL DEFAULT 0,
    started         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL
) STRICT;

INSERT INTO spend (turn_id, user_id, guild_id, held_micros, charged_micros, started, created_at)
SELECT id, user_id, guild_id,
       CASE WHEN status IN ('queued', 'running') THEN cost_reserved_micros ELSE 0 END,
       CASE WHEN status IN ('done', 'delivering') THEN cost_micros ELSE 0 END,
       CASE WHEN status = 'running' THEN 1 ELSE 0 END,
       created_at
FROM turns;

CREATE INDEX spend_user ON spend (user_id, created_at);
CREATE INDEX spend_guild ON spend (guild_id, created_at);
CREATE INDEX spend_time ON spend (created_at);
