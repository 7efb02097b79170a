-- Organisational boxes (SPEC §3): the fields only an administrator changes
-- (responsable du compte, description; FINESS is accounts.finess), shown
-- read-only to members, and the box's journal: which member did what in
-- the box (traceability, SPEC §4). Times are Unix milliseconds.
ALTER TABLE accounts ADD COLUMN responsable TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE box_journal (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    box_id        INTEGER NOT NULL REFERENCES accounts(id),
    member_id     INTEGER NOT NULL DEFAULT 0,
    member_login  TEXT NOT NULL DEFAULT '',   -- kept as it was when the member acted
    at            INTEGER NOT NULL,
    action        TEXT NOT NULL,              -- read, send, move, delete, settings, member_add, member_remove…
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX box_journal_box ON box_journal(box_id, id);
