"""Schema 6: what schema 5's lease and tour tables lacked (issue 5, second part).

Leases (``ptz_lease``, ``ptz_opening``) fit as laid out in step 5; a takeover only needs to
say whose lease it replaced, so the console that lost it can be told. Tours (``ptz_tour``,
``ptz_tour_stop``) are defined in step 5; running them needs two more tables, because tours
run in the recorder service while the consoles start and stop them: the run state each
console shows (``ptz_tour_run``) and the requests the service polls (``ptz_tour_command``).
"""

VERSION = 6

SQL = """
-- whose lease a first-level person took over (R9), NULL for an ordinary take
ALTER TABLE ptz_lease ADD COLUMN taken_from TEXT;
-- The tour each PTZ camera is running, written only by the recorder service (R7).
CREATE TABLE ptz_tour_run (
    camera_id  TEXT PRIMARY KEY,
    tour_id    INTEGER NOT NULL REFERENCES ptz_tour (id),
    state      TEXT NOT NULL CHECK (state IN ('running', 'paused')),
    -- index (0-based) of the stop the camera is at or travelling to
    stop_index INTEGER NOT NULL DEFAULT 0,
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
-- Start/stop requests from consoles; the recorder service carries them out in id order.
CREATE TABLE ptz_tour_command (
    id           INTEGER PRIMARY KEY,
    camera_id    TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('start', 'stop')),
    tour_id      INTEGER REFERENCES ptz_tour (id),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    done_at      TEXT,
    result       TEXT
);
CREATE INDEX ptz_tour_command_pending ON ptz_tour_command (id) WHERE done_at IS NULL;
"""
