"""Schema 3: the access register (R24-R27) and its supervisor review (R25).

One row per access to recorded footage, signed by the operator's password when it is written.
After that only the fields that the regulations fill in later may change, each in one
direction: the audit reference and the visitor's time out are set once, the span actually
viewed only widens, the exported file's name and hash are set once. Reviews are rows of their
own, never edited. Triggers refuse everything else, as for the audit trail (v0001), against
mistakes in our own code; tampering by someone with the file is the audit chain's job.

Index design (docs/benchmarks.md, "Access register and audit trail"): the supervisor filters
by period together with one of person, camera, purpose or kind, newest first, so each of
those has an index led by it and followed by ``at``. Cameras live in their own table with the
entry's time copied in, so "camera X in this period" is one index range as well.
"""

VERSION = 3

SQL = """
CREATE TABLE register_entry (
    id              INTEGER PRIMARY KEY,
    -- signed at (UTC, registry.clock.format_at); for visitors also the time in
    at              TEXT NOT NULL,
    username        TEXT NOT NULL REFERENCES person (username),
    -- the signer's name and role as they were at signing (people change names and roles)
    full_name       TEXT NOT NULL,
    role            TEXT NOT NULL,
    session_id      INTEGER,
    kind            TEXT NOT NULL CHECK (kind IN ('playback', 'export', 'visit', 'erasure')),
    purpose         TEXT NOT NULL CHECK (purpose <> ''),
    -- the purpose's wording as signed (the regulation's Italian text, or the site's)
    purpose_title   TEXT NOT NULL,
    purpose_text    TEXT NOT NULL DEFAULT '',
    span_from       TEXT NOT NULL,
    span_to         TEXT NOT NULL CHECK (span_to > span_from),
    third_name      TEXT,
    third_document  TEXT,
    auth_ref        TEXT,
    auth_issuer     TEXT,
    recipient       TEXT,
    observations    TEXT NOT NULL DEFAULT '',
    confidentiality INTEGER NOT NULL CHECK (confidentiality IN (0, 1)),
    -- completed later, once or widening only (see the triggers)
    audit_id        INTEGER,
    time_out        TEXT,
    viewed_from     TEXT,
    viewed_to       TEXT,
    file_name       TEXT,
    file_sha256     TEXT
);
CREATE INDEX register_at ON register_entry (at);
CREATE INDEX register_user_at ON register_entry (username, at);
CREATE INDEX register_purpose_at ON register_entry (purpose, at);
CREATE INDEX register_kind_at ON register_entry (kind, at);
CREATE INDEX register_open_visits ON register_entry (at)
    WHERE kind = 'visit' AND time_out IS NULL;

-- The cameras of an entry: requested when signing (viewed = 0), or added by record_viewed;
-- rowid order is the order they were named in.
CREATE TABLE register_camera (
    entry_id INTEGER NOT NULL REFERENCES register_entry (id),
    camera   TEXT NOT NULL CHECK (camera <> ''),
    at       TEXT NOT NULL,
    viewed   INTEGER NOT NULL DEFAULT 0 CHECK (viewed IN (0, 1)),
    PRIMARY KEY (entry_id, camera)
);
CREATE INDEX register_camera_at ON register_camera (camera, at, entry_id);

-- The responsabile's verification of an entry (Lum. 10ter.5): one per entry, never edited.
CREATE TABLE register_review (
    entry_id  INTEGER PRIMARY KEY REFERENCES register_entry (id),
    reviewer  TEXT NOT NULL REFERENCES person (username),
    reviewer_name TEXT NOT NULL,
    at        TEXT NOT NULL,
    note      TEXT NOT NULL CHECK (note <> ''),
    audit_id  INTEGER
);

CREATE TRIGGER register_entry_no_delete BEFORE DELETE ON register_entry
BEGIN
    SELECT RAISE(ABORT, 'register entries are never deleted');
END;
CREATE TRIGGER register_entry_signed_fields BEFORE UPDATE ON register_entry
WHEN NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.username IS NOT OLD.username
    OR NEW.full_name IS NOT OLD.full_name OR NEW.role IS NOT OLD.role
    OR NEW.session_id IS NOT OLD.session_id OR NEW.kind IS NOT OLD.kind
    OR NEW.purpose IS NOT OLD.purpose OR NEW.purpose_title IS NOT OLD.purpose_title
    OR NEW.purpose_text IS NOT OLD.purpose_text OR NEW.span_from IS NOT OLD.span_from
    OR NEW.span_to IS NOT OLD.span_to OR NEW.third_name IS NOT OLD.third_name
    OR NEW.third_document IS NOT OLD.third_document OR NEW.auth_ref IS NOT OLD.auth_ref
    OR NEW.auth_issuer IS NOT OLD.auth_issuer OR NEW.recipient IS NOT OLD.recipient
    OR NEW.observations IS NOT OLD.observations
    OR NEW.confidentiality IS NOT OLD.confidentiality
BEGIN
    SELECT RAISE(ABORT, 'register entries are signed: their fields cannot change');
END;
CREATE TRIGGER register_entry_once_fields BEFORE UPDATE ON register_entry
WHEN (OLD.audit_id IS NOT NULL AND NEW.audit_id IS NOT OLD.audit_id)
    OR (OLD.time_out IS NOT NULL AND NEW.time_out IS NOT OLD.time_out)
    OR (OLD.file_name IS NOT NULL AND NEW.file_name IS NOT OLD.file_name)
    OR (OLD.file_sha256 IS NOT NULL AND NEW.file_sha256 IS NOT OLD.file_sha256)
    OR (NEW.time_out IS NOT NULL AND NEW.time_out < OLD.at)
BEGIN
    SELECT RAISE(ABORT, 'register entry: this field is completed once and then kept');
END;
CREATE TRIGGER register_entry_viewed_widens BEFORE UPDATE ON register_entry
WHEN (OLD.viewed_from IS NOT NULL
      AND (NEW.viewed_from IS NULL OR NEW.viewed_from > OLD.viewed_from))
    OR (OLD.viewed_to IS NOT NULL
        AND (NEW.viewed_to IS NULL OR NEW.viewed_to < OLD.viewed_to))
BEGIN
    SELECT RAISE(ABORT, 'register entry: the span viewed only widens');
END;
CREATE TRIGGER register_camera_no_update BEFORE UPDATE ON register_camera
BEGIN
    SELECT RAISE(ABORT, 'register cameras are never changed');
END;
CREATE TRIGGER register_camera_no_delete BEFORE DELETE ON register_camera
BEGIN
    SELECT RAISE(ABORT, 'register cameras are never deleted');
END;
-- Requested cameras belong to the signature: none may be added once the entry is signed.
CREATE TRIGGER register_camera_requested_before_signing BEFORE INSERT ON register_camera
WHEN NEW.viewed = 0
    AND (SELECT audit_id FROM register_entry WHERE id = NEW.entry_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'register entry is signed: its requested cameras cannot change');
END;
CREATE TRIGGER register_review_no_update BEFORE UPDATE ON register_review
WHEN NEW.entry_id IS NOT OLD.entry_id OR NEW.reviewer IS NOT OLD.reviewer
    OR NEW.reviewer_name IS NOT OLD.reviewer_name OR NEW.at IS NOT OLD.at
    OR NEW.note IS NOT OLD.note OR OLD.audit_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'register reviews are never changed');
END;
CREATE TRIGGER register_review_no_delete BEFORE DELETE ON register_review
BEGIN
    SELECT RAISE(ABORT, 'register reviews are never deleted');
END;
"""
