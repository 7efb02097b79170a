-- Notifications (SPEC §2 Notifications): an opening must not keep its
-- message from being deleted once every copy is expunged (0004 declared
-- openings with a plain foreign key, which made such an expunge fail):
-- openings now go with their message. (The digest counts INBOX entries by
-- date through 0005's entries_date index.)
ALTER TABLE openings DROP CONSTRAINT openings_message_id_fkey;
ALTER TABLE openings ADD CONSTRAINT openings_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id) ON DELETE CASCADE;
