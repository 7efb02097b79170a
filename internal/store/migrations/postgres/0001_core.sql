-- Core schema: structures, accounts and boxes, mailboxes, messages, jobs, audit.
CREATE TABLE structures (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    finess      TEXT NOT NULL DEFAULT '',
    disabled    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

-- accounts holds individual accounts (MED, PER, INT) and organisational boxes (ORG).
CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    structure_id  BIGINT NOT NULL REFERENCES structures(id),
    kind          TEXT NOT NULL,
    login         TEXT NOT NULL UNIQUE,
    mss           TEXT UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    label         TEXT NOT NULL DEFAULT '',
    rpps          TEXT NOT NULL DEFAULT '',
    finess        TEXT NOT NULL DEFAULT '',
    notify        TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE box_members (
    box_id      BIGINT NOT NULL REFERENCES accounts(id),
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    notify      BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (box_id, account_id)
);
CREATE INDEX box_members_account ON box_members(account_id);

CREATE TABLE mailboxes (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    special_use  TEXT NOT NULL DEFAULT '',
    uidvalidity  BIGINT NOT NULL,
    uidnext      BIGINT NOT NULL DEFAULT 1,
    subscribed   BIGINT NOT NULL DEFAULT 1,
    UNIQUE (account_id, name)
);

-- messages holds each message once, whatever the number of local recipients.
CREATE TABLE messages (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    size        BIGINT NOT NULL,
    body        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    refs        BIGINT NOT NULL DEFAULT 0
);

-- entries places a message in a mailbox under an IMAP UID (RFC 9051 §2.3.1.1).
CREATE TABLE entries (
    mailbox_id     BIGINT NOT NULL REFERENCES mailboxes(id),
    uid            BIGINT NOT NULL,
    message_id     BIGINT NOT NULL REFERENCES messages(id),
    flags          TEXT NOT NULL DEFAULT '',
    seen           BIGINT NOT NULL DEFAULT 0,
    internal_date  BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX entries_message ON entries(message_id);

-- jobs is the transactional outbox: every side effect of a delivery.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    attempts     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_at);

CREATE TABLE audit (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    protocol    TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    remote_ip   TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL DEFAULT '',
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    recipients  TEXT NOT NULL DEFAULT '',
    route       TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_address ON audit(address);
