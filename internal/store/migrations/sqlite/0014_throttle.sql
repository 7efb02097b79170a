-- Failed logins counted by auth.Throttle (SPEC §4: throttled logins), in the
-- database so that every node sees the same count: with several nodes an
-- attacker gets the same number of guesses as with one. key_hash is the
-- SHA-256 (hex) of the throttle's scope and key (an address and/or an IP):
-- no address or IP is kept here. Rows older than the window are pruned.
CREATE TABLE login_failures (
    scope     TEXT NOT NULL,     -- 'web', 'imap', 'smtp', 'ldap'…
    key_hash  TEXT NOT NULL,
    at        INTEGER NOT NULL   -- Unix milliseconds
);
CREATE INDEX login_failures_key ON login_failures(key_hash, at);
CREATE INDEX login_failures_scope_at ON login_failures(scope, at);
