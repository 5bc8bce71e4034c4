"""SQL for recorded segments, holds and recorder health (schema step 4). See store.py.

The ordering rules that make these rows agree with the files on disk (reserve, complete,
mark garbage, forget) are in docs/design/recording.md; :mod:`footage.index` calls these
methods in that order. ``PRAGMA secure_delete`` is switched on for the connection, so that
the bytes of a destroyed key or a deleted row are zeroed in the database file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from registry.clock import format_at, format_optional, parse_at, parse_optional
from registry.store import Store

#: What a destroyed key is overwritten with (same length: SQLite rewrites the cell in place).
ZERO_KEY: Final = bytes(16)

WRITING: Final = "writing"
COMPLETE: Final = "complete"
GARBAGE: Final = "garbage"

_SEGMENT_COLUMNS = (
    "id, camera, state, start_at, end_at, path, bytes, sha256, frames, key, created_at"
)
_HOLD_COLUMNS = (
    "id, ground, authority, reference, cameras, span_start, span_end, expires_at, note, "
    "placed_by, placed_at, released_by, released_at, release_reason"
)


@dataclass(frozen=True, slots=True)
class SegmentRow:
    id: int
    camera: str
    state: str
    start_at: datetime
    end_at: datetime | None
    #: relative to the data directory
    path: str
    #: file size in bytes (column ``bytes``)
    size: int
    sha256: str | None
    frames: int
    key: bytes
    created_at: datetime

    @property
    def duration_s(self) -> float:
        if self.end_at is None:
            return 0.0
        return (self.end_at - self.start_at).total_seconds()


@dataclass(frozen=True, slots=True)
class HoldRow:
    id: int
    ground: str
    authority: str
    reference: str
    cameras: tuple[str, ...]
    span_start: datetime
    span_end: datetime
    expires_at: datetime
    note: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None


@dataclass(frozen=True, slots=True)
class HealthRow:
    camera: str
    state: str
    detail: str
    since: datetime
    updated_at: datetime
    last_segment_end: datetime | None


def _fast_at(text: str) -> datetime:
    """:func:`registry.clock.parse_at` for hot paths: ``fromisoformat`` reads the same fixed
    format (UTC, ``Z``) about fifty times faster than ``strptime``; a purge of a week of 16
    cameras parses half a million of them."""
    return datetime.fromisoformat(text)


def _segment(row: tuple[Any, ...]) -> SegmentRow:
    return SegmentRow(
        id=int(row[0]), camera=str(row[1]), state=str(row[2]), start_at=_fast_at(row[3]),
        end_at=_fast_at(row[4]) if row[4] else None, path=str(row[5]), size=int(row[6]),
        sha256=row[7], frames=int(row[8]), key=bytes(row[9]), created_at=_fast_at(row[10]),
    )  # fmt: skip


def _hold(row: tuple[Any, ...]) -> HoldRow:
    return HoldRow(
        id=int(row[0]), ground=str(row[1]), authority=str(row[2]), reference=str(row[3]),
        cameras=tuple(json.loads(row[4])), span_start=parse_at(row[5]),
        span_end=parse_at(row[6]), expires_at=parse_at(row[7]), note=str(row[8]),
        placed_by=str(row[9]), placed_at=parse_at(row[10]), released_by=row[11],
        released_at=parse_optional(row[12]), release_reason=row[13],
    )  # fmt: skip


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class FootageStore:
    """Segments, holds and health rows in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Freed cells (a deleted row, the old value of an updated key) are zeroed on disk.
        self.store.execute("PRAGMA secure_delete = ON")

    # ---------------------------------------------------------------- segments

    def reserve_segment(
        self, camera: str, start_at: datetime, key: bytes, created_at: datetime,
        path_for: Callable[[int], str],
    ) -> SegmentRow:  # fmt: skip
        """Commit a ``writing`` row (with its key) whose path is ``path_for(id)``."""
        with self.store.transaction():
            seg_id = self.store.insert(
                "INSERT INTO segment (camera, state, start_at, path, key, created_at) "
                "VALUES (?, 'writing', ?, ?, ?, ?)",
                (camera, format_at(start_at), f"reserving/{camera}/{format_at(created_at)}",
                 key, format_at(created_at)),
            )  # fmt: skip
            self.store.execute(
                "UPDATE segment SET path = ? WHERE id = ?", (path_for(seg_id), seg_id)
            )
        row = self.segment(seg_id)
        assert row is not None
        return row

    def complete_segment(
        self, seg_id: int, *, start_at: datetime, end_at: datetime, size: int, sha256: str,
        frames: int,
    ) -> None:  # fmt: skip
        changed = self.store.execute(
            "UPDATE segment SET state = 'complete', start_at = ?, end_at = ?, bytes = ?, "
            "sha256 = ?, frames = ? WHERE id = ? AND state = 'writing'",
            (format_at(start_at), format_at(end_at), size, sha256, frames, seg_id),
        )
        if changed != 1:
            raise ValueError(f"segment {seg_id} is not being written")

    def segment(self, seg_id: int) -> SegmentRow | None:
        row = self.store.fetch_one(
            f"SELECT {_SEGMENT_COLUMNS} FROM segment WHERE id = ?", (seg_id,)
        )
        return _segment(row) if row else None

    def segments(
        self, *, camera: str | None = None, states: Sequence[str] = (COMPLETE,),
        since: datetime | None = None, until: datetime | None = None,
    ) -> list[SegmentRow]:  # fmt: skip
        """Segments in the given states, by camera and start time; ``since``/``until``
        select those that overlap ``[since, until)``."""
        where = [f"state IN ({_placeholders(len(states))})"]
        params: list[object] = list(states)
        if camera is not None:
            where.append("camera = ?")
            params.append(camera)
        if until is not None:
            where.append("start_at < ?")
            params.append(format_at(until))
        if since is not None:
            where.append("COALESCE(end_at, start_at) > ?")
            params.append(format_at(since))
        rows = self.store.fetch_all(
            f"SELECT {_SEGMENT_COLUMNS} FROM segment WHERE {' AND '.join(where)} "
            "ORDER BY camera, start_at, id",
            params,
        )
        return [_segment(r) for r in rows]

    def started_before(self, camera: str, before: datetime) -> list[SegmentRow]:
        """``complete`` segments of *camera* that started before *before* (purge candidates)."""
        rows = self.store.fetch_all(
            f"SELECT {_SEGMENT_COLUMNS} FROM segment WHERE camera = ? AND state = 'complete' "
            "AND start_at < ? ORDER BY start_at, id",
            (camera, format_at(before)),
        )
        return [_segment(r) for r in rows]

    def cameras(self) -> list[str]:
        """Every camera that has segment rows."""
        return [str(r[0]) for r in self.store.fetch_all(
            "SELECT DISTINCT camera FROM segment ORDER BY camera")]  # fmt: skip

    def unfinished(self) -> list[SegmentRow]:
        """``writing`` and ``garbage`` rows (what reconciliation looks at first)."""
        rows = self.store.fetch_all(
            f"SELECT {_SEGMENT_COLUMNS} FROM segment WHERE state <> 'complete' ORDER BY id"
        )
        return [_segment(r) for r in rows]

    def paths(self) -> set[str]:
        return {str(r[0]) for r in self.store.fetch_all("SELECT path FROM segment")}

    def mark_garbage(self, ids: Iterable[int]) -> int:
        """Destroy the keys of *ids* and mark them ``garbage``, in one transaction."""
        ids = list(ids)
        changed = 0
        with self.store.transaction():
            for chunk in _chunks(ids, 500):
                changed += self.store.execute(
                    "UPDATE segment SET state = 'garbage', key = ? "
                    f"WHERE id IN ({_placeholders(len(chunk))}) AND state <> 'garbage'",
                    (ZERO_KEY, *chunk),
                )
        return changed

    def forget(self, ids: Iterable[int]) -> int:
        """Delete rows of *ids*; only ``garbage`` rows (their files are gone)."""
        ids = list(ids)
        changed = 0
        with self.store.transaction():
            for chunk in _chunks(ids, 500):
                changed += self.store.execute(
                    f"DELETE FROM segment WHERE id IN ({_placeholders(len(chunk))}) "
                    "AND state = 'garbage'",
                    chunk,
                )
        return changed

    def drop(self, seg_id: int) -> None:
        """Delete a row that has no file (a reservation never used, a file removed outside)."""
        self.store.execute("DELETE FROM segment WHERE id = ?", (seg_id,))

    def totals(self) -> tuple[int, int]:
        """(segments, bytes) of the ``complete`` rows."""
        row = self.store.fetch_one(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM segment WHERE state = 'complete'"
        )
        return int(row[0]), int(row[1])

    def checkpoint_wal(self) -> bool:
        """Copy the WAL into the database and cut it to zero bytes; False when blocked."""
        row = self.store.fetch_one("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(row) and int(row[0]) == 0

    # ---------------------------------------------------------------- holds

    def add_hold(
        self, *, ground: str, authority: str, reference: str, cameras: Sequence[str],
        span_start: datetime, span_end: datetime, expires_at: datetime, note: str,
        placed_by: str, placed_at: datetime,
    ) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO hold (ground, authority, reference, cameras, span_start, span_end, "
            "expires_at, note, placed_by, placed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ground, authority, reference, json.dumps(list(cameras)), format_at(span_start),
             format_at(span_end), format_at(expires_at), note, placed_by,
             format_at(placed_at)),
        )  # fmt: skip

    def hold(self, hold_id: int) -> HoldRow | None:
        row = self.store.fetch_one(f"SELECT {_HOLD_COLUMNS} FROM hold WHERE id = ?", (hold_id,))
        return _hold(row) if row else None

    def holds(self, *, active_at: datetime | None = None) -> list[HoldRow]:
        """All holds, or only those protecting at *active_at* (not released, not expired)."""
        sql = f"SELECT {_HOLD_COLUMNS} FROM hold"
        params: tuple[object, ...] = ()
        if active_at is not None:
            sql += " WHERE released_at IS NULL AND expires_at > ?"
            params = (format_at(active_at),)
        return [_hold(r) for r in self.store.fetch_all(sql + " ORDER BY id", params)]

    def update_hold(
        self, hold_id: int, *, span_start: datetime, span_end: datetime, expires_at: datetime,
    ) -> None:  # fmt: skip
        self.store.execute(
            "UPDATE hold SET span_start = ?, span_end = ?, expires_at = ? "
            "WHERE id = ? AND released_at IS NULL",
            (format_at(span_start), format_at(span_end), format_at(expires_at), hold_id),
        )

    def release_hold(self, hold_id: int, *, by: str, at: datetime, reason: str) -> None:
        self.store.execute(
            "UPDATE hold SET released_by = ?, released_at = ?, release_reason = ? "
            "WHERE id = ? AND released_at IS NULL",
            (by, format_at(at), reason, hold_id),
        )

    # ---------------------------------------------------------------- health

    def set_health(
        self, camera: str, state: str, detail: str, at: datetime,
        last_segment_end: datetime | None = None,
    ) -> None:  # fmt: skip
        """Upsert a camera's health; ``since`` moves only when the state changes."""
        at_text = format_at(at)
        self.store.execute(
            "INSERT INTO camera_health (camera, state, detail, since, updated_at, "
            "last_segment_end) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (camera) DO UPDATE SET "
            "since = CASE WHEN camera_health.state = excluded.state THEN camera_health.since "
            "ELSE excluded.since END, state = excluded.state, detail = excluded.detail, "
            "updated_at = excluded.updated_at, "
            "last_segment_end = COALESCE(excluded.last_segment_end, "
            "camera_health.last_segment_end)",
            (camera, state, detail, at_text, at_text, format_optional(last_segment_end)),
        )

    def health(self, camera: str) -> HealthRow | None:
        row = self.store.fetch_one(
            "SELECT camera, state, detail, since, updated_at, last_segment_end "
            "FROM camera_health WHERE camera = ?",
            (camera,),
        )
        return _health(row) if row else None

    def all_health(self) -> list[HealthRow]:
        rows = self.store.fetch_all(
            "SELECT camera, state, detail, since, updated_at, last_segment_end "
            "FROM camera_health ORDER BY camera"
        )
        return [_health(r) for r in rows]


def _health(row: tuple[Any, ...]) -> HealthRow:
    return HealthRow(
        camera=str(row[0]), state=str(row[1]), detail=str(row[2]), since=parse_at(row[3]),
        updated_at=parse_at(row[4]), last_segment_end=parse_optional(row[5]),
    )  # fmt: skip


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
