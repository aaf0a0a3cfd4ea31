-- PostgreSQL twin of migrations/0004_variations.sql: the turns of one /draw count request share a group, each
-- keeps its cell number; a finished variation keeps its image in the outbox until "Use" posts it full size.
ALTER TABLE turns ADD COLUMN variation_group BIGINT;
ALTER TABLE turns ADD COLUMN variation_index BIGINT;

CREATE INDEX turns_variation ON turns (variation_group, id) WHERE variation_group IS NOT NULL;
