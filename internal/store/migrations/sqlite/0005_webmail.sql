-- Webmail: folder pages in date order through an index (no scan of a
-- 10,000-message folder), and a summary of each message for the lists and
-- the search: its header fields decoded once (RFC 2047) and its text
-- lowercased. The summary is a cache of the stored message and goes with it.
CREATE INDEX entries_date ON entries(mailbox_id, internal_date, uid);

CREATE TABLE mail_summaries (
    message_id   INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    from_name    TEXT NOT NULL DEFAULT '',
    from_addr    TEXT NOT NULL DEFAULT '',
    recipients   TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    attachments  INTEGER NOT NULL DEFAULT 0,
    s_from       TEXT NOT NULL DEFAULT '',  -- lowercased, for search
    s_subject    TEXT NOT NULL DEFAULT '',
    s_text       TEXT NOT NULL DEFAULT ''
);

-- Message and unread counts of each folder, kept by triggers in the same
-- transaction as every change of entries: the folder list and the pages of
-- a large folder read them instead of counting entries (IMAP STATUS can
-- too). SQLite runs one writer at a time, so the counter rows cannot
-- deadlock (PostgreSQL counts instead: see its 0005).
ALTER TABLE mailboxes ADD COLUMN msg_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET
    msg_count = (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = mailboxes.id),
    unseen_count = (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = mailboxes.id AND e.seen = 0);

CREATE TRIGGER entries_count_insert AFTER INSERT ON entries BEGIN
    UPDATE mailboxes SET msg_count = msg_count + 1, unseen_count = unseen_count + (NEW.seen = 0) WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER entries_count_delete AFTER DELETE ON entries BEGIN
    UPDATE mailboxes SET msg_count = msg_count - 1, unseen_count = unseen_count - (OLD.seen = 0) WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER entries_count_update AFTER UPDATE OF mailbox_id, seen ON entries
    WHEN OLD.mailbox_id <> NEW.mailbox_id OR OLD.seen <> NEW.seen BEGIN
    UPDATE mailboxes SET msg_count = msg_count - 1, unseen_count = unseen_count - (OLD.seen = 0) WHERE id = OLD.mailbox_id;
    UPDATE mailboxes SET msg_count = msg_count + 1, unseen_count = unseen_count + (NEW.seen = 0) WHERE id = NEW.mailbox_id;
END;
