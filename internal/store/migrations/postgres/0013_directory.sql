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
    account_id  BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL             -- Unix seconds of the first unprocessed change
);

-- One row per normalised word (lower case, accents stripped, [a-z0-9]) of
-- an account in the platform directory. rank: 1 last name (a box's label),
-- 2 first name, 3 other fields (profession, spécialité, raison sociale,
-- structure, city, postcode, local part of visible addresses), 4 domain of
-- visible addresses. sortkey orders results by
-- name. COLLATE "C" makes prefix ranges (term >= 'dup' AND term < 'dup{')
-- byte-ordered and served by the index whatever the database's locale.
CREATE TABLE directory_terms (
    rank        BIGINT NOT NULL,
    term        TEXT COLLATE "C" NOT NULL,
    sortkey     TEXT COLLATE "C" NOT NULL,
    account_id  BIGINT NOT NULL,
    PRIMARY KEY (rank, term, sortkey, account_id)
);
CREATE INDEX directory_terms_account ON directory_terms(account_id, term);

-- The vocabulary of directory_terms: how many rows hold each word, so that
-- a search with several words starts from the rarest one.
CREATE TABLE directory_vocab (
    term        TEXT COLLATE "C" PRIMARY KEY,
    df          BIGINT NOT NULL
);

-- The last published state of each account in the national feed (JSON).
CREATE TABLE directory_published (
    account_id  BIGINT PRIMARY KEY,
    entry       TEXT NOT NULL
);

-- The feed's change log: kind is added, changed or removed; entry is the
-- published JSON (empty for removed). Older changes of an account are
-- deleted when a newer one is written (a compacted log: since=N yields the
-- latest change of every account changed after N).
CREATE TABLE directory_changes (
    seq         BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    entry       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX directory_changes_account ON directory_changes(account_id);

CREATE FUNCTION directory_mark_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO directory_dirty (account_id, at) VALUES (OLD.id, EXTRACT(EPOCH FROM clock_timestamp())::BIGINT)
            ON CONFLICT DO NOTHING;
        RETURN OLD;
    END IF;
    INSERT INTO directory_dirty (account_id, at) VALUES (NEW.id, EXTRACT(EPOCH FROM clock_timestamp())::BIGINT)
        ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;

CREATE FUNCTION directory_mark_structure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO directory_dirty (account_id, at)
        SELECT id, EXTRACT(EPOCH FROM clock_timestamp())::BIGINT FROM accounts WHERE structure_id = NEW.id
        ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;

CREATE TRIGGER directory_accounts_ins AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION directory_mark_account();
CREATE TRIGGER directory_accounts_upd AFTER UPDATE OF structure_id, kind, login, mss, first_name, last_name, label,
        rpps, finess, disabled, phone, postal_address, raison_sociale, profession, specialite,
        visible_login, visible_mss, dematerialisation ON accounts FOR EACH ROW EXECUTE FUNCTION directory_mark_account();
CREATE TRIGGER directory_accounts_del AFTER DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION directory_mark_account();
CREATE TRIGGER directory_structures_upd AFTER UPDATE OF name, finess, disabled ON structures
    FOR EACH ROW EXECUTE FUNCTION directory_mark_structure();

INSERT INTO directory_dirty (account_id, at) SELECT id, EXTRACT(EPOCH FROM now())::BIGINT FROM accounts;
