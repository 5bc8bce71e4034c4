"""Schema 2: people (personal accounts, R10-R12) and their console sessions (R13, R14)."""

VERSION = 2

SQL = """
CREATE TABLE person (
    username             TEXT PRIMARY KEY,
    full_name            TEXT NOT NULL,
    role                 TEXT NOT NULL,
    level                INTEGER NOT NULL CHECK (level IN (1, 2)),
    password_hash        TEXT NOT NULL,
    password_changed_at  TEXT NOT NULL,
    -- previous hashes, newest first, as a JSON array (no reuse of the last ones, R11)
    password_history     TEXT NOT NULL DEFAULT '[]',
    active               INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    disabled_reason      TEXT,
    failed_attempts      INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT,
    last_login_at        TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    created_at           TEXT NOT NULL,
    created_by           TEXT NOT NULL
);
-- One row per console session: who, with which co-signing operator (R14), from when to when.
CREATE TABLE session (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES person (username),
    cosigner    TEXT REFERENCES person (username),
    workstation TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    end_reason  TEXT
);
CREATE INDEX session_user_started ON session (username, started_at);
CREATE INDEX session_open ON session (ended_at) WHERE ended_at IS NULL;
"""
