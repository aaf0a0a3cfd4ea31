-- Variations (/draw count): the turns of one request share a group (the /draw's interaction id), each keeps its
-- cell number, and a reroll of one cell joins the group under the same number. A finished variation keeps its
-- image in the outbox until "Use" posts it full size (or retention and /forget delete the turn).
ALTER TABLE turns ADD COLUMN variation_group INTEGER;
ALTER TABLE turns ADD COLUMN variation_index INTEGER;

CREATE INDEX turns_variation ON turns (variation_group, id) WHERE variation_group IS NOT NULL;
