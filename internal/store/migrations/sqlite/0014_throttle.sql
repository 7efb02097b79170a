-- Login attempts counted by auth.Throttle (SPEC §4: throttled logins), in
-- the database so that every node sees the same count: with several nodes
-- an attacker gets the same number of guesses as with one. A row is written
-- when an attempt starts and removed if it succeeds: failed attempts and
-- attempts in flight count. key_hash is the SHA-256 (hex) of the throttle's
-- scope and key (a person and/or an IP): no address or IP is kept here.
-- Rows older than the window are pruned.
CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY,
    scope     TEXT NOT NULL,     -- 'web', 'imap', 'smtp', 'ldap'…
    key_hash  TEXT NOT NULL,
    at        INTEGER NOT NULL   -- Unix milliseconds
);
CREATE INDEX login_attempts_key ON login_attempts(key_hash, at);
CREATE INDEX login_attempts_scope_at ON login_attempts(scope, at);
