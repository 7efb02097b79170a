-- Webmail: folder pages in date order through an index (no scan of a
-- 10,000-message folder), and a summary of each message for the lists and
-- the search: its header fields decoded once (RFC 2047) and its text
-- lowercased. The summary is a cache of the stored message and goes with it.
CREATE INDEX entries_date ON entries(mailbox_id, internal_date, uid);

CREATE TABLE mail_summaries (
    message_id   BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    from_name    TEXT NOT NULL DEFAULT '',
    from_addr    TEXT NOT NULL DEFAULT '',
    recipients   TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    attachments  BIGINT NOT NULL DEFAULT 0,
    s_from       TEXT NOT NULL DEFAULT '',  -- lowercased, for search
    s_subject    TEXT NOT NULL DEFAULT '',
    s_text       TEXT NOT NULL DEFAULT ''
);

-- Unread messages of a folder, for the unread counts. (SQLite keeps counts
-- in mailboxes by triggers instead; here, row triggers on a folder's counter
-- would make concurrent IMAP sessions deadlock, and PostgreSQL counts an
-- index range fast enough.)
CREATE INDEX entries_unseen ON entries(mailbox_id, seen);
