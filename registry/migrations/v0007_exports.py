"""Schema 7: exported packages and their removable-media lifecycle (issue 6, R20, R23).

One row per package written by ``footage.export``: which register entry it answers, its file
and hashes, and where the copy is now. Lumezzane 11.16 asks that copies on removable media be
tracked until they reach the authority or are destroyed; the states are ``on_disk`` (only the
package in the control room's export folder), ``copied`` (onto a medium, named), ``delivered``
(to whom, when) and ``destroyed`` (when, by whom). Each change is also in the audit trail.
The fixed columns never change after the insert (trigger); states only move forward.
"""

VERSION = 7

SQL = """
CREATE TABLE export_package (
    id                INTEGER PRIMARY KEY,
    register_entry_id INTEGER NOT NULL UNIQUE REFERENCES register_entry (id),
    file_name         TEXT NOT NULL,
    folder            TEXT NOT NULL,
    -- of the .zip package (what is handed over) and of the clip inside it
    sha256            TEXT NOT NULL,
    clip_sha256       TEXT NOT NULL,
    bytes             INTEGER NOT NULL,
    camera            TEXT NOT NULL,
    span_from         TEXT NOT NULL,
    span_to           TEXT NOT NULL,
    recipient_kind    TEXT NOT NULL,
    recipient         TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'on_disk'
                      CHECK (state IN ('on_disk', 'copied', 'delivered', 'destroyed')),
    medium            TEXT,
    copied_by         TEXT,
    copied_at         TEXT,
    delivered_to      TEXT,
    delivered_by      TEXT,
    delivered_at      TEXT,
    destroyed_by      TEXT,
    destroyed_at      TEXT,
    note              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX export_package_state ON export_package (state, created_at);
CREATE INDEX export_package_person ON export_package (created_by, created_at);
CREATE TRIGGER export_package_fixed BEFORE UPDATE ON export_package
WHEN NEW.register_entry_id IS NOT OLD.register_entry_id OR NEW.file_name IS NOT OLD.file_name
  OR NEW.sha256 IS NOT OLD.sha256 OR NEW.clip_sha256 IS NOT OLD.clip_sha256
  OR NEW.camera IS NOT OLD.camera OR NEW.created_by IS NOT OLD.created_by
  OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'an exported package''s identity never changes');
END;
CREATE TRIGGER export_package_no_delete BEFORE DELETE ON export_package
BEGIN
    SELECT RAISE(ABORT, 'exported packages are never deleted from the list');
END;
"""
