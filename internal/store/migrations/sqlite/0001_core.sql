-- Core schema: structures, accounts and boxes, mailboxes, messages, jobs, audit.
CREATE TABLE structures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    finess      TEXT NOT NULL DEFAULT '',
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- accounts holds individual accounts (MED, PER, INT) and organisational boxes (ORG).
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    structure_id  INTEGER NOT NULL REFERENCES structures(id),
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
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE box_members (
    box_id      INTEGER NOT NULL REFERENCES accounts(id),
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    notify      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (box_id, account_id)
);
CREATE INDEX box_members_account ON box_members(account_id);

CREATE TABLE mailboxes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    special_use  TEXT NOT NULL DEFAULT '',
    uidvalidity  INTEGER NOT NULL,
    uidnext      INTEGER NOT NULL DEFAULT 1,
    subscribed   INTEGER NOT NULL DEFAULT 1,
    UNIQUE (account_id, name)
);

-- messages holds each message once, whatever the number of local recipients.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    size        INTEGER NOT NULL,
    body        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    refs        INTEGER NOT NULL DEFAULT 0
);

-- entries places a message in a mailbox under an IMAP UID (RFC 9051 §2.3.1.1).
CREATE TABLE entries (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id),
    uid            INTEGER NOT NULL,
    message_id     INTEGER NOT NULL REFERENCES messages(id),
    flags          TEXT NOT NULL DEFAULT '',
    seen           INTEGER NOT NULL DEFAULT 0,
    internal_date  INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX entries_message ON entries(message_id);

-- jobs is the transactional outbox: every side effect of a delivery.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    run_at       INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_at);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
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
