-- Notifications (SPEC §2 Notifications): the daily digest counts the INBOX
-- entries of a day, by date; and an opening must not keep its message from
-- being deleted once every copy is expunged (0004 declared openings with a
-- plain foreign key, which made such an expunge fail): openings now go with
-- their message.
CREATE INDEX entries_mailbox_date ON entries(mailbox_id, internal_date);

ALTER TABLE openings DROP CONSTRAINT openings_message_id_fkey;
ALTER TABLE openings ADD CONSTRAINT openings_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id) ON DELETE CASCADE;
