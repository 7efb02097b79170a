-- Administration (SPEC §1): roles, the journal of administrative changes
-- and the sign-up requests for MED accounts.

-- roles gives a person the right to administer: 'operator' (the whole
-- platform; structure_id 0) or 'structure_admin' (one structure).
CREATE TABLE roles (
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    role          TEXT NOT NULL,              -- 'operator' | 'structure_admin'
    structure_id  INTEGER NOT NULL DEFAULT 0, -- 0 for 'operator'
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, role, structure_id)
);
CREATE INDEX roles_structure ON roles(structure_id);

-- admin_changes records every administrative change: who, what, before,
-- after (« Journal des modifications »).
CREATE TABLE admin_changes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    actor_id      INTEGER NOT NULL DEFAULT 0,  -- 0: the command line
    actor         TEXT NOT NULL DEFAULT '',    -- login as it was, or 'cli'
    structure_id  INTEGER NOT NULL DEFAULT 0,
    target        TEXT NOT NULL DEFAULT '',    -- account, box, structure or job concerned
    action        TEXT NOT NULL,
    before_value  TEXT NOT NULL DEFAULT '',
    after_value   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_changes_structure ON admin_changes(structure_id, id);

-- signup_requests are the public requests for a MED account: unconfirmed
-- until the personal address is confirmed by its mailed link, then pending
-- for the structure's administrators, then accepted or refused.
CREATE TABLE signup_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT NOT NULL UNIQUE,        -- SHA-256 of the confirmation token, hex
    structure_id  INTEGER NOT NULL REFERENCES structures(id),
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    login         TEXT NOT NULL,               -- the platform address asked for
    email         TEXT NOT NULL,               -- personal address: confirmation and notifications
    profession    TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'unconfirmed', -- unconfirmed | pending | accepted | refused
    remote_ip     TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,            -- of the confirmation link
    decided_at    INTEGER NOT NULL DEFAULT 0,
    decided_by    INTEGER NOT NULL DEFAULT 0,
    account_id    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX signup_requests_structure ON signup_requests(structure_id, status);
