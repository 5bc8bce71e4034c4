"""Schema 5: PTZ presets, privacy masks, the mask-state timeline; leases and tours (issue 5).

Presets are never deleted, only marked removed: the mask-state timeline refers to them, and
playback must know which masks were in force at any moment. The timeline also stores a copy
of the masks in force, so a later edit of a preset's masks does not change the past.
Leases and tours are laid out here for the next round (their code is not built yet).
"""

VERSION = 5

SQL = """
-- Presets of PTZ cameras, defined and approved by the responsabile (R8).
CREATE TABLE ptz_preset (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- the token the device returned (devices may ignore the one we ask for)
    token       TEXT NOT NULL,
    pan         REAL NOT NULL,
    tilt        REAL NOT NULL,
    zoom        REAL NOT NULL,
    -- privacy masks of this view, JSON [[[x, y], ...], ...] in normalised coordinates
    masks       TEXT NOT NULL DEFAULT '[]',
    defined_by  TEXT NOT NULL,
    defined_at  TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    removed_by  TEXT,
    removed_at  TEXT,
    CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);
CREATE UNIQUE INDEX ptz_preset_live_name ON ptz_preset (camera_id, name) WHERE removed_at IS NULL;
CREATE INDEX ptz_preset_camera ON ptz_preset (camera_id);
-- The one mask set of each fixed camera.
CREATE TABLE fixed_mask (
    camera_id  TEXT PRIMARY KEY,
    masks      TEXT NOT NULL DEFAULT '[]',
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
-- Every change of a camera's mask state, and what could be seen from then on (R7).
CREATE TABLE mask_state (
    id        INTEGER PRIMARY KEY,
    camera_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('at_preset', 'moving', 'off_preset', 'unknown')),
    preset_id INTEGER REFERENCES ptz_preset (id),
    -- 1 when the picture was shown (with masks), 0 when it was blanked
    shown     INTEGER NOT NULL CHECK (shown IN (0, 1)),
    masks     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX mask_state_camera_at ON mask_state (camera_id, at);
-- Control leases (R9), next round: who drives a camera until when.
CREATE TABLE ptz_lease (
    camera_id  TEXT PRIMARY KEY,
    holder     TEXT NOT NULL REFERENCES person (username),
    level      INTEGER NOT NULL CHECK (level IN (1, 2)),
    session_id INTEGER REFERENCES session (id),
    workstation TEXT NOT NULL DEFAULT '',
    taken_at   TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- Cameras a first-level supervisor opened to second-level control rooms (R9), next round.
CREATE TABLE ptz_opening (
    id         INTEGER PRIMARY KEY,
    camera_id  TEXT NOT NULL,
    level      INTEGER NOT NULL CHECK (level IN (1, 2)),
    opened_by  TEXT NOT NULL REFERENCES person (username),
    from_at    TEXT NOT NULL,
    until_at   TEXT NOT NULL
);
CREATE INDEX ptz_opening_camera ON ptz_opening (camera_id, until_at);
-- Tours over approved presets (R7), next round.
CREATE TABLE ptz_tour (
    id         INTEGER PRIMARY KEY,
    camera_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    defined_by TEXT NOT NULL,
    defined_at TEXT NOT NULL,
    UNIQUE (camera_id, name)
);
CREATE TABLE ptz_tour_stop (
    tour_id   INTEGER NOT NULL REFERENCES ptz_tour (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    preset_id INTEGER NOT NULL REFERENCES ptz_preset (id),
    dwell_s   REAL NOT NULL CHECK (dwell_s > 0),
    PRIMARY KEY (tour_id, position)
);
"""
