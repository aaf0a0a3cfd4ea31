-- Finished images waiting to be posted are files beside the database (bot/storage/image_files.py): a NULL image
-- means "in the file". Rows written before keep their BLOB and are posted from it. SQLite can't drop a NOT NULL
-- constraint in place, so the table is rebuilt (nothing references it).
CREATE TABLE outbox_new (
    turn_id     INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    image       BLOB,
    format      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
) STRICT;
INSERT INTO outbox_new (turn_id, image, format, created_at) SELECT turn_id, image, format, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
