-- Notifications (SPEC §2 Notifications): the daily digest counts the INBOX
-- entries of a day, by date; and an opening must not keep its message from
-- being deleted once every copy is expunged (0004 declared openings with a
-- plain foreign key, which made such an expunge fail): openings now go with
-- their message. SQLite cannot change a constraint in place, so the table
-- is rebuilt.
CREATE INDEX entries_mailbox_date ON entries(mailbox_id, internal_date);

CREATE TABLE openings_new (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    opened_at   INTEGER NOT NULL,
    PRIMARY KEY (message_id, account_id)
);
INSERT INTO openings_new (message_id, account_id, opened_at) SELECT message_id, account_id, opened_at FROM openings;
DROP TABLE openings;
ALTER TABLE openings_new RENAME TO openings;
