-- PostgreSQL twin of migrations/0002_community.sql.
-- Per-server settings, edited with /threadpaint settings; JSON validated by bot.core.guild_settings.
CREATE TABLE guild_settings (
    guild_id    BIGINT  PRIMARY KEY,
    settings    TEXT    NOT NULL,
    updated_by  BIGINT,
    updated_at  TEXT    COLLATE "C" NOT NULL
);

-- Money in micro-dollars (integers) so budget sums are exact.
-- cost_reserved_micros: the estimate held against budgets while a job is queued or running.
-- cost_micros: what the job actually cost (from OpenAI's usage); charged to the member only when done.
ALTER TABLE turns ADD COLUMN cost_reserved_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE turns ADD COLUMN cost_micros BIGINT NOT NULL DEFAULT 0;

CREATE INDEX turns_guild ON turns (guild_id, created_at);
