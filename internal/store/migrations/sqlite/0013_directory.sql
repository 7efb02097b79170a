-- Directory (SPEC §2 Informations personnelles C, §4 Directory, §5 national
-- directory): a search index of the platform directory and the change log of
-- the national publication feed, both maintained by internal/directory.
--
-- Triggers mark an account "dirty" whenever a column the directory shows or
-- publishes changes (whatever code path wrote it: self-service, admin CLI,
-- console, joining); internal/directory re-indexes dirty accounts (in Go:
-- accent folding, city from the postal address) before every search, card
-- or feed read, in one transaction with the change log.
CREATE TABLE directory_dirty (
    account_id  INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL            -- Unix seconds of the first unprocessed change
);

-- One row per normalised word (lower case, accents stripped, [a-z0-9]) of
-- an account in the platform directory. rank: 1 last name (a box's label),
-- 2 first name, 3 other fields (profession, spécialité, raison sociale,
-- structure, city, postcode, local part of visible addresses), 4 domain of
-- visible addresses. sortkey orders results by
-- name. Only accounts shown in the directory have rows; only visible
-- addresses are indexed.
CREATE TABLE directory_terms (
    rank        INTEGER NOT NULL,
    term        TEXT NOT NULL,
    sortkey     TEXT NOT NULL,
    account_id  INTEGER NOT NULL,
    PRIMARY KEY (rank, term, sortkey, account_id)
) WITHOUT ROWID;
CREATE INDEX directory_terms_account ON directory_terms(account_id, term);

-- The vocabulary of directory_terms: how many rows hold each word, so that
-- a search with several words starts from the rarest one.
CREATE TABLE directory_vocab (
    term        TEXT PRIMARY KEY,
    df          INTEGER NOT NULL
) WITHOUT ROWID;

-- The last published state of each account in the national feed (JSON).
CREATE TABLE directory_published (
    account_id  INTEGER PRIMARY KEY,
    entry       TEXT NOT NULL
);

-- The feed's change log: kind is added, changed or removed; entry is the
-- published JSON (empty for removed). Older changes of an account are
-- deleted when a newer one is written (a compacted log: since=N yields the
-- latest change of every account changed after N).
CREATE TABLE directory_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    entry       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX directory_changes_account ON directory_changes(account_id);

CREATE TRIGGER directory_accounts_ins AFTER INSERT ON accounts BEGIN
    INSERT OR IGNORE INTO directory_dirty (account_id, at) VALUES (NEW.id, CAST(strftime('%s','now') AS INTEGER));
END;
CREATE TRIGGER directory_accounts_upd AFTER UPDATE OF structure_id, kind, login, mss, first_name, last_name, label,
        rpps, finess, disabled, phone, postal_address, raison_sociale, profession, specialite,
        visible_login, visible_mss, dematerialisation ON accounts BEGIN
    INSERT OR IGNORE INTO directory_dirty (account_id, at) VALUES (NEW.id, CAST(strftime('%s','now') AS INTEGER));
END;
CREATE TRIGGER directory_accounts_del AFTER DELETE ON accounts BEGIN
    INSERT OR IGNORE INTO directory_dirty (account_id, at) VALUES (OLD.id, CAST(strftime('%s','now') AS INTEGER));
END;
CREATE TRIGGER directory_structures_upd AFTER UPDATE OF name, finess, disabled ON structures BEGIN
    INSERT OR IGNORE INTO directory_dirty (account_id, at)
        SELECT id, CAST(strftime('%s','now') AS INTEGER) FROM accounts WHERE structure_id = NEW.id;
END;

INSERT INTO directory_dirty (account_id, at) SELECT id, CAST(strftime('%s','now') AS INTEGER) FROM accounts;
