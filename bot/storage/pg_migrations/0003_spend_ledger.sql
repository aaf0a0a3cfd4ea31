-- PostgreSQL twin of migrations/0003_spend_ledger.sql: the spend ledger, apart from the conversation records,
-- never reduced by /forget or retention. No foreign key to turns on purpose: the row outlives the turn.
CREATE TABLE spend (
    turn_id         BIGINT  PRIMARY KEY,
    user_id         BIGINT  NOT NULL,
    guild_id        BIGINT,
    held_micros     BIGINT  NOT NULL DEFAULT 0,
    charged_micros  BIGINT  NOT NULL DEFAULT 0,
    started         BIGINT  NOT NULL DEFAULT 0,
    created_at      TEXT    COLLATE "C" NOT NULL
);

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
