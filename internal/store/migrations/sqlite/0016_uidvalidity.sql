-- The last UIDVALIDITY given to a folder of the account (internal/mailbox
-- Create): a folder deleted and created again gets a strictly greater one
-- (RFC 9051 §2.3.1.1) whichever node serves each command, which a per-process
-- counter could not promise.
ALTER TABLE accounts ADD COLUMN uidvalidity_last INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET uidvalidity_last = COALESCE((SELECT MAX(uidvalidity) FROM mailboxes WHERE mailboxes.account_id = accounts.id), 0);
