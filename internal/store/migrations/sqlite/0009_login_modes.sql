-- Login modes (SPEC §2, Identifiants de connexion B): OpenID Connect
-- identities associated with an account, « Carte CPS / e-CPS » (Pro Santé
-- Connect, subject = SubjectNameID) and « PASS » (regional SSO).
CREATE TABLE login_modes (
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    provider    TEXT NOT NULL,             -- 'cps' | 'pass'
    subject     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX login_modes_account ON login_modes(account_id);

-- Joining with a card (SPEC §4): a health professional whose structure is
-- not known yet; the platform operators accept or refuse the request.
CREATE TABLE join_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    rpps            TEXT NOT NULL DEFAULT '',
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    profession      TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    finess          TEXT NOT NULL DEFAULT '',
    siret           TEXT NOT NULL DEFAULT '',
    raison_sociale  TEXT NOT NULL DEFAULT '',
    claims          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending',   -- pending | accepted | refused
    created_at      INTEGER NOT NULL
);
CREATE INDEX join_requests_subject ON join_requests(provider, subject);

-- OpenID Connect logins in progress: state (RFC 6749 §10.12), nonce and
-- PKCE verifier (RFC 7636), single use, a few minutes.
CREATE TABLE oidc_states (
    id           TEXT PRIMARY KEY,         -- SHA-256 of the state, hex
    provider     TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    next         TEXT NOT NULL DEFAULT '',
    link_account INTEGER NOT NULL DEFAULT 0, -- associating from « Identifiants de connexion »
    expires_at   INTEGER NOT NULL
);

-- An identity returned by a provider that no account is associated with
-- yet, waiting for the person to prove an account (« Associer ») or to
-- create one (« Créer mon compte »).
CREATE TABLE oidc_pending (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the cookie token, hex
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    identity    TEXT NOT NULL,             -- JSON
    expires_at  INTEGER NOT NULL
);
