-- Appareils mobiles (SPEC §2): devices paired with an individual account
-- through a QR code, and the pairing secrets the QR codes carry. Secrets
-- and credentials are stored as SHA-256 hashes (hex), never in clear.
-- Times are Unix seconds; 0 means never.
CREATE TABLE devices (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,      -- SHA-256 of the device credential
    created_at    BIGINT NOT NULL,          -- pairing date
    last_used_at  BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_account ON devices(account_id);

CREATE TABLE device_pairings (
    id_hash     TEXT PRIMARY KEY,            -- SHA-256 of the pairing secret
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX device_pairings_account ON device_pairings(account_id);
