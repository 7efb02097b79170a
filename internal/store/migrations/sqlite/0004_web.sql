-- Web application: sessions, password resets, the self-service settings of
-- SPEC §2 (« Gérer mon compte »), signatures, automatic reply, delegations,
-- opening receipts.
CREATE TABLE web_sessions (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the cookie token, hex
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    remote_ip   TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_account ON web_sessions(account_id);

CREATE TABLE password_resets (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the token, hex
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX password_resets_account ON password_resets(account_id);

-- Informations personnelles (A, B, C), Dématérialisation, Notifications,
-- default account (Identifiants de connexion C).
ALTER TABLE accounts ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN postal_address TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN raison_sociale TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN profession TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN specialite TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN visible_login INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN visible_mss INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN dematerialisation INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN notify_each INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN notify_daily INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN notify_open INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN default_account_id INTEGER NOT NULL DEFAULT 0;

CREATE TABLE signatures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    label       TEXT NOT NULL,
    html        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX signatures_account ON signatures(account_id);

CREATE TABLE autoreplies (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id),
    enabled     INTEGER NOT NULL DEFAULT 0,
    start_date  TEXT NOT NULL DEFAULT '',  -- YYYY-MM-DD, inclusive
    end_date    TEXT NOT NULL DEFAULT '',  -- YYYY-MM-DD, inclusive
    subject     TEXT NOT NULL DEFAULT '',
    html        TEXT NOT NULL DEFAULT '',
    period      INTEGER NOT NULL DEFAULT 0 -- bumped at each save: one reply per sender per period
);

CREATE TABLE autoreply_sent (
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    period      INTEGER NOT NULL,
    sender      TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, period, sender)
);

CREATE TABLE delegations (
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    delegate_id  INTEGER NOT NULL REFERENCES accounts(id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, delegate_id)
);

-- First opening of a received message by a platform recipient.
CREATE TABLE openings (
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    opened_at   INTEGER NOT NULL,
    PRIMARY KEY (message_id, account_id)
);
