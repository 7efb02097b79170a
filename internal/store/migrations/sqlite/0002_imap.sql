-- IMAP support: header size (to serve ENVELOPE and BODY[HEADER] without
-- reading the body), the time zone of INTERNALDATE (RFC 9051 §2.3.3: APPEND
-- dates keep their zone), and per-member unsubscriptions of shared box
-- folders (RFC 9051 §6.3.7: a subscription belongs to the user).
ALTER TABLE messages ADD COLUMN header_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN internal_tz INTEGER NOT NULL DEFAULT 0;

CREATE TABLE folder_unsubscriptions (
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id),
    PRIMARY KEY (account_id, mailbox_id)
);
CREATE INDEX folder_unsubscriptions_mailbox ON folder_unsubscriptions(mailbox_id);
