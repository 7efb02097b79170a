-- Notifications (SPEC §2 Notifications): an opening must not keep its
-- message from being deleted once every copy is expunged (0004 declared
-- openings with a plain foreign key, which made such an expunge fail):
-- openings now go with their message. (The digest counts INBOX entries by
-- date through 0005's entries_date index.) SQLite cannot change a
-- constraint in place, so the table is rebuilt.
CREATE TABLE openings_new (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    opened_at   INTEGER NOT NULL,
    PRIMARY KEY (message_id, account_id)
);
INSERT INTO openings_new (message_id, account_id, opened_at) SELECT message_id, account_id, opened_at FROM openings;
DROP TABLE openings;
ALTER TABLE openings_new RENAME TO openings;
