"""Schema 4: recorded segments with their keys, holds and recorder health (issue 4).

Invariants and ordering: docs/design/recording.md. ``segment.key`` is the segment's AES key
(crypto-shredding): zeroed when the row becomes ``garbage``, before the file is unlinked.
"""

VERSION = 4

SQL = """
CREATE TABLE segment (
    id         INTEGER PRIMARY KEY,
    camera     TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('writing', 'complete', 'garbage')),
    start_at   TEXT NOT NULL,
    end_at     TEXT,
    -- relative to the data directory, e.g. footage/cam1/2025-01-02/030405-17.mp4
    path       TEXT NOT NULL UNIQUE,
    bytes      INTEGER NOT NULL DEFAULT 0,
    sha256     TEXT,
    frames     INTEGER NOT NULL DEFAULT 0,
    key        BLOB NOT NULL CHECK (length(key) = 16),
    created_at TEXT NOT NULL,
    CHECK (state <> 'complete' OR (end_at IS NOT NULL AND sha256 IS NOT NULL)),
    CHECK (state <> 'garbage' OR key = zeroblob(16))
);
CREATE INDEX segment_camera_start ON segment (camera, start_at);
CREATE INDEX segment_start ON segment (start_at);
CREATE INDEX segment_unfinished ON segment (state) WHERE state <> 'complete';
-- Longer keeping only under a hold with its legal ground (R17, R30).
CREATE TABLE hold (
    id             INTEGER PRIMARY KEY,
    ground         TEXT NOT NULL,
    authority      TEXT NOT NULL,
    reference      TEXT NOT NULL,
    -- JSON array of camera ids
    cameras        TEXT NOT NULL,
    span_start     TEXT NOT NULL,
    span_end       TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_by    TEXT,
    released_at    TEXT,
    release_reason TEXT,
    CHECK (span_end > span_start)
);
CREATE INDEX hold_active ON hold (expires_at) WHERE released_at IS NULL;
-- One row per camera: what the recorder is doing, for the console.
CREATE TABLE camera_health (
    camera           TEXT PRIMARY KEY,
    state            TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '',
    since            TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    last_segment_end TEXT
);
"""
