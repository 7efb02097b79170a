-- Web application: sessions, password resets, the self-service settings of
-- SPEC §2 (« Gérer mon compte »), signatures, automatic reply, delegations,
-- opening receipts.
CREATE TABLE web_sessions (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the cookie token, hex
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    remote_ip   TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_account ON web_sessions(account_id);

CREATE TABLE password_resets (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the token, hex
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX password_resets_account ON password_resets(account_id);

-- Informations personnelles (A, B, C), Dématérialisation, Notifications,
-- default account (Identifiants de connexion C).
ALTER TABLE accounts ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN postal_address TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN raison_sociale TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN profession TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN specialite TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN visible_login BIGINT NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN visible_mss BIGINT NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN dematerialisation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN notify_each BIGINT NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN notify_daily BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN notify_open BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN default_account_id BIGINT NOT NULL DEFAULT 0;

CREATE TABLE signatures (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    label       TEXT NOT NULL,
    html        TEXT NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX signatures_account ON signatures(account_id);

CREATE TABLE autoreplies (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts(id),
    enabled     BIGINT NOT NULL DEFAULT 0,
    start_date  TEXT NOT NULL DEFAULT '',  -- YYYY-MM-DD, inclusive
    end_date    TEXT NOT NULL DEFAULT '',  -- YYYY-MM-DD, inclusive
    subject     TEXT NOT NULL DEFAULT '',
    html        TEXT NOT NULL DEFAULT '',
    period      BIGINT NOT NULL DEFAULT 0 -- bumped at each save: one reply per sender per period
);

CREATE TABLE autoreply_sent (
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    period      BIGINT NOT NULL,
    sender      TEXT NOT NULL,
    sent_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, period, sender)
);

CREATE TABLE delegations (
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    delegate_id  BIGINT NOT NULL REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, delegate_id)
);

-- First opening of a received message by a platform recipient.
CREATE TABLE openings (
    message_id  BIGINT NOT NULL REFERENCES messages(id),
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    opened_at   BIGINT NOT NULL,
    PRIMARY KEY (message_id, account_id)
);
