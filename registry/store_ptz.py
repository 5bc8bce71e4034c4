"""SQL for PTZ presets, masks and the mask-state timeline (schema step 5). See store.py.

Masks travel as JSON text here; ``ptz.presets`` turns them into ``cameras.masks.MaskSet``
(this module sits below ``cameras`` and knows nothing of polygons).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.clock import format_at, format_optional, parse_at, parse_optional
from registry.store import Store

_PRESET_COLUMNS = (
    "id, camera_id, name, token, pan, tilt, zoom, masks, defined_by, defined_at, "
    "approved_by, approved_at, removed_by, removed_at"
)


@dataclass(frozen=True, slots=True)
class PresetRow:
    id: int
    camera_id: str
    name: str
    token: str
    pan: float
    tilt: float
    zoom: float
    masks: str
    defined_by: str
    defined_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    removed_by: str | None
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class MaskStateRow:
    id: int
    camera_id: str
    at: datetime
    state: str
    preset_id: int | None
    shown: bool
    masks: str


def _preset(row: tuple[Any, ...]) -> PresetRow:
    return PresetRow(
        id=int(row[0]), camera_id=str(row[1]), name=str(row[2]), token=str(row[3]),
        pan=float(row[4]), tilt=float(row[5]), zoom=float(row[6]), masks=str(row[7]),
        defined_by=str(row[8]), defined_at=parse_at(row[9]),
        approved_by=row[10], approved_at=parse_optional(row[11]),
        removed_by=row[12], removed_at=parse_optional(row[13]),
    )  # fmt: skip


def _state(row: tuple[Any, ...]) -> MaskStateRow:
    return MaskStateRow(
        id=int(row[0]), camera_id=str(row[1]), at=parse_at(row[2]), state=str(row[3]),
        preset_id=int(row[4]) if row[4] is not None else None, shown=bool(row[5]),
        masks=str(row[6]),
    )  # fmt: skip


class PtzStore:
    """Presets, fixed-camera masks and mask states in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- presets

    def add_preset(
        self, camera_id: str, name: str, token: str, position: tuple[float, float, float],
        defined_by: str, defined_at: datetime, *, masks: str = "[]",
    ) -> int:  # fmt: skip
        """A new preset, not approved; :class:`StoreError` if the name is taken."""
        pan, tilt, zoom = position
        return self.store.insert(
            "INSERT INTO ptz_preset (camera_id, name, token, pan, tilt, zoom, masks, "
            "defined_by, defined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (camera_id, name, token, pan, tilt, zoom, masks, defined_by, format_at(defined_at)),
        )

    def preset(self, preset_id: int) -> PresetRow | None:
        row = self.store.fetch_one(
            f"SELECT {_PRESET_COLUMNS} FROM ptz_preset WHERE id = ?", (preset_id,)
        )
        return _preset(row) if row else None

    def preset_named(self, camera_id: str, name: str) -> PresetRow | None:
        row = self.store.fetch_one(
            f"SELECT {_PRESET_COLUMNS} FROM ptz_preset "
            "WHERE camera_id = ? AND name = ? AND removed_at IS NULL",
            (camera_id, name),
        )
        return _preset(row) if row else None

    def presets(self, camera_id: str, *, approved_only: bool) -> list[PresetRow]:
        """Live (not removed) presets of a camera, by name."""
        sql = f"SELECT {_PRESET_COLUMNS} FROM ptz_preset WHERE camera_id = ? AND removed_at IS NULL"
        if approved_only:
            sql += " AND approved_at IS NOT NULL"
        rows = self.store.fetch_all(sql + " ORDER BY name", (camera_id,))
        return [_preset(r) for r in rows]

    def approve_preset(self, preset_id: int, by: str, at: datetime) -> bool:
        return self.store.execute(
            "UPDATE ptz_preset SET approved_by = ?, approved_at = ? "
            "WHERE id = ? AND removed_at IS NULL",
            (by, format_at(at), preset_id),
        ) == 1

    def remove_preset(self, preset_id: int, by: str, at: datetime) -> bool:
        return self.store.execute(
            "UPDATE ptz_preset SET removed_by = ?, removed_at = ? "
            "WHERE id = ? AND removed_at IS NULL",
            (by, format_at(at), preset_id),
        ) == 1

    def set_preset_masks(self, preset_id: int, masks: str) -> bool:
        return self.store.execute(
            "UPDATE ptz_preset SET masks = ? WHERE id = ? AND removed_at IS NULL",
            (masks, preset_id),
        ) == 1

    # ---------------------------------------------------------------- fixed cameras

    def fixed_masks(self, camera_id: str) -> str | None:
        row = self.store.fetch_one("SELECT masks FROM fixed_mask WHERE camera_id = ?",
                                   (camera_id,))  # fmt: skip
        return str(row[0]) if row else None

    def all_fixed_masks(self) -> dict[str, str]:
        rows = self.store.fetch_all("SELECT camera_id, masks FROM fixed_mask ORDER BY camera_id")
        return {str(r[0]): str(r[1]) for r in rows}

    def set_fixed_masks(self, camera_id: str, masks: str, by: str, at: datetime) -> None:
        self.store.execute(
            "INSERT INTO fixed_mask (camera_id, masks, changed_by, changed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (camera_id) DO UPDATE SET "
            "masks = excluded.masks, changed_by = excluded.changed_by, "
            "changed_at = excluded.changed_at",
            (camera_id, masks, by, format_at(at)),
        )

    # ---------------------------------------------------------------- mask-state timeline

    def add_mask_state(
        self, camera_id: str, at: datetime, state: str, preset_id: int | None, shown: bool,
        masks: str,
    ) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO mask_state (camera_id, at, state, preset_id, shown, masks) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (camera_id, format_at(at), state, preset_id, int(shown), masks),
        )

    def mask_states(
        self, camera_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[MaskStateRow]:
        """States with ``since <= at < until``, oldest first."""
        sql = ("SELECT id, camera_id, at, state, preset_id, shown, masks FROM mask_state "
               "WHERE camera_id = ?")  # fmt: skip
        params: list[object] = [camera_id]
        if since is not None:
            sql += " AND at >= ?"
            params.append(format_at(since))
        if until is not None:
            sql += " AND at < ?"
            params.append(format_at(until))
        return [_state(r) for r in self.store.fetch_all(sql + " ORDER BY at, id", params)]

    def mask_state_at(self, camera_id: str, at: datetime) -> MaskStateRow | None:
        """The state in force at ``at``: the newest one recorded at or before it."""
        row = self.store.fetch_one(
            "SELECT id, camera_id, at, state, preset_id, shown, masks FROM mask_state "
            "WHERE camera_id = ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1",
            (camera_id, format_optional(at)),
        )
        return _state(row) if row else None


# -------------------------------------------------------------------------------------------
# Control leases, openings to the second level, tours (schema steps 5 and 6; ptz.leases,
# ptz.tours). Kept apart from PtzStore's first part so both halves stay readable.
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaseRow:
    camera_id: str
    holder: str
    #: the holder's full name (from ``person``), for the refusal message
    holder_name: str
    level: int
    session_id: int | None
    workstation: str
    taken_at: datetime
    expires_at: datetime
    taken_from: str | None


@dataclass(frozen=True, slots=True)
class OpeningRow:
    id: int
    camera_id: str
    level: int
    opened_by: str
    from_at: datetime
    until_at: datetime


@dataclass(frozen=True, slots=True)
class TourRow:
    id: int
    camera_id: str
    name: str
    defined_by: str
    defined_at: datetime
    #: (preset id, dwell seconds) in order
    stops: tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True)
class TourRunRow:
    camera_id: str
    tour_id: int
    state: str
    stop_index: int
    started_by: str
    started_at: datetime
    updated_at: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class TourCommandRow:
    id: int
    camera_id: str
    action: str
    tour_id: int | None
    requested_by: str
    requested_at: datetime
    done_at: datetime | None
    result: str | None


_LEASE_SELECT = (
    "SELECT l.camera_id, l.holder, COALESCE(p.full_name, l.holder), l.level, l.session_id, "
    "l.workstation, l.taken_at, l.expires_at, l.taken_from FROM ptz_lease l "
    "LEFT JOIN person p ON p.username = l.holder"
)
_RUN_COLUMNS = ("camera_id, tour_id, state, stop_index, started_by, started_at, updated_at, "
                "detail")  # fmt: skip
_COMMAND_COLUMNS = ("id, camera_id, action, tour_id, requested_by, requested_at, done_at, "
                    "result")  # fmt: skip


def _lease(row: tuple[Any, ...]) -> LeaseRow:
    return LeaseRow(
        camera_id=str(row[0]), holder=str(row[1]), holder_name=str(row[2]), level=int(row[3]),
        session_id=int(row[4]) if row[4] is not None else None, workstation=str(row[5]),
        taken_at=parse_at(row[6]), expires_at=parse_at(row[7]), taken_from=row[8],
    )  # fmt: skip


def _opening(row: tuple[Any, ...]) -> OpeningRow:
    return OpeningRow(id=int(row[0]), camera_id=str(row[1]), level=int(row[2]),
                      opened_by=str(row[3]), from_at=parse_at(row[4]),
                      until_at=parse_at(row[5]))  # fmt: skip


def _run(row: tuple[Any, ...]) -> TourRunRow:
    return TourRunRow(
        camera_id=str(row[0]), tour_id=int(row[1]), state=str(row[2]), stop_index=int(row[3]),
        started_by=str(row[4]), started_at=parse_at(row[5]), updated_at=parse_at(row[6]),
        detail=str(row[7]),
    )  # fmt: skip


def _command(row: tuple[Any, ...]) -> TourCommandRow:
    return TourCommandRow(
        id=int(row[0]), camera_id=str(row[1]), action=str(row[2]),
        tour_id=int(row[3]) if row[3] is not None else None, requested_by=str(row[4]),
        requested_at=parse_at(row[5]), done_at=parse_optional(row[6]), result=row[7],
    )  # fmt: skip


class PtzControlStore:
    """Leases, openings and tours in one :class:`Store` (``ptz.leases``, ``ptz.tours``).

    Callers that read and then write (taking a lease) wrap both in ``store.transaction()``
    (BEGIN IMMEDIATE), so two consoles cannot both win.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- leases

    def lease(self, camera_id: str) -> LeaseRow | None:
        row = self.store.fetch_one(_LEASE_SELECT + " WHERE l.camera_id = ?", (camera_id,))
        return _lease(row) if row else None

    def leases(self, live_at: datetime | None = None) -> list[LeaseRow]:
        """Every lease row, or only those not expired at ``live_at``."""
        if live_at is None:
            rows = self.store.fetch_all(_LEASE_SELECT + " ORDER BY l.camera_id")
        else:
            rows = self.store.fetch_all(_LEASE_SELECT + " WHERE l.expires_at > ? "
                                        "ORDER BY l.camera_id", (format_at(live_at),))  # fmt: skip
        return [_lease(r) for r in rows]

    def put_lease(
        self, camera_id: str, holder: str, level: int, session_id: int | None, workstation: str,
        taken_at: datetime, expires_at: datetime, taken_from: str | None = None,
    ) -> None:  # fmt: skip
        """Make ``holder`` the lease holder of the camera (replacing any row)."""
        self.store.execute(
            "INSERT INTO ptz_lease (camera_id, holder, level, session_id, workstation, taken_at, "
            "expires_at, taken_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (camera_id) "
            "DO UPDATE SET holder = excluded.holder, level = excluded.level, "
            "session_id = excluded.session_id, workstation = excluded.workstation, "
            "taken_at = excluded.taken_at, expires_at = excluded.expires_at, "
            "taken_from = excluded.taken_from",
            (camera_id, holder, level, session_id, workstation, format_at(taken_at),
             format_at(expires_at), taken_from),
        )  # fmt: skip

    def renew_lease(self, camera_id: str, holder: str, expires_at: datetime) -> bool:
        return self.store.execute(
            "UPDATE ptz_lease SET expires_at = ? WHERE camera_id = ? AND holder = ?",
            (format_at(expires_at), camera_id, holder),
        ) == 1

    def release_lease(self, camera_id: str, holder: str) -> bool:
        return self.store.execute("DELETE FROM ptz_lease WHERE camera_id = ? AND holder = ?",
                                  (camera_id, holder)) == 1  # fmt: skip

    # ---------------------------------------------------------------- openings

    def add_opening(self, camera_id: str, level: int, opened_by: str, from_at: datetime,
                    until_at: datetime) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO ptz_opening (camera_id, level, opened_by, from_at, until_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (camera_id, level, opened_by, format_at(from_at), format_at(until_at)),
        )

    def openings(self, at: datetime, camera_id: str | None = None) -> list[OpeningRow]:
        """Openings in force at ``at`` (``from_at <= at < until_at``)."""
        sql = ("SELECT id, camera_id, level, opened_by, from_at, until_at FROM ptz_opening "
               "WHERE from_at <= ? AND until_at > ?")  # fmt: skip
        params: list[object] = [format_at(at), format_at(at)]
        if camera_id is not None:
            sql += " AND camera_id = ?"
            params.append(camera_id)
        return [_opening(r) for r in self.store.fetch_all(sql + " ORDER BY id", params)]

    def close_openings(self, camera_id: str, at: datetime) -> int:
        """End every opening of the camera still in force at ``at``; how many."""
        return self.store.execute(
            "UPDATE ptz_opening SET until_at = ? WHERE camera_id = ? AND until_at > ?",
            (format_at(at), camera_id, format_at(at)),
        )

    # ---------------------------------------------------------------- tours

    def add_tour(self, camera_id: str, name: str, defined_by: str, defined_at: datetime,
                 stops: list[tuple[int, float]]) -> int:  # fmt: skip
        with self.store.transaction():
            tour_id = self.store.insert(
                "INSERT INTO ptz_tour (camera_id, name, defined_by, defined_at) "
                "VALUES (?, ?, ?, ?)", (camera_id, name, defined_by, format_at(defined_at)),
            )  # fmt: skip
            self.store.execute_many(
                "INSERT INTO ptz_tour_stop (tour_id, position, preset_id, dwell_s) "
                "VALUES (?, ?, ?, ?)",
                [(tour_id, i, preset_id, dwell) for i, (preset_id, dwell) in enumerate(stops)],
            )
        return tour_id

    def _stops(self, tour_id: int) -> tuple[tuple[int, float], ...]:
        rows = self.store.fetch_all("SELECT preset_id, dwell_s FROM ptz_tour_stop "
                                    "WHERE tour_id = ? ORDER BY position", (tour_id,))  # fmt: skip
        return tuple((int(r[0]), float(r[1])) for r in rows)

    def _tour(self, row: tuple[Any, ...]) -> TourRow:
        return TourRow(id=int(row[0]), camera_id=str(row[1]), name=str(row[2]),
                       defined_by=str(row[3]), defined_at=parse_at(row[4]),
                       stops=self._stops(int(row[0])))  # fmt: skip

    def tour(self, tour_id: int) -> TourRow | None:
        row = self.store.fetch_one("SELECT id, camera_id, name, defined_by, defined_at "
                                   "FROM ptz_tour WHERE id = ?", (tour_id,))  # fmt: skip
        return self._tour(row) if row else None

    def tours(self, camera_id: str) -> list[TourRow]:
        rows = self.store.fetch_all("SELECT id, camera_id, name, defined_by, defined_at "
                                    "FROM ptz_tour WHERE camera_id = ? ORDER BY name",
                                    (camera_id,))  # fmt: skip
        return [self._tour(r) for r in rows]

    def tour_run(self, camera_id: str) -> TourRunRow | None:
        row = self.store.fetch_one(f"SELECT {_RUN_COLUMNS} FROM ptz_tour_run "
                                   "WHERE camera_id = ?", (camera_id,))  # fmt: skip
        return _run(row) if row else None

    def tour_runs(self) -> list[TourRunRow]:
        rows = self.store.fetch_all(f"SELECT {_RUN_COLUMNS} FROM ptz_tour_run "
                                    "ORDER BY camera_id")  # fmt: skip
        return [_run(r) for r in rows]

    def put_tour_run(self, camera_id: str, tour_id: int, started_by: str,
                     at: datetime) -> None:  # fmt: skip
        self.store.execute(
            f"INSERT OR REPLACE INTO ptz_tour_run ({_RUN_COLUMNS}) "
            "VALUES (?, ?, 'running', 0, ?, ?, ?, '')",
            (camera_id, tour_id, started_by, format_at(at), format_at(at)),
        )

    def update_tour_run(self, camera_id: str, state: str, stop_index: int, at: datetime,
                        detail: str = "") -> bool:  # fmt: skip
        return self.store.execute(
            "UPDATE ptz_tour_run SET state = ?, stop_index = ?, updated_at = ?, detail = ? "
            "WHERE camera_id = ?", (state, stop_index, format_at(at), detail, camera_id),
        ) == 1  # fmt: skip

    def delete_tour_run(self, camera_id: str) -> bool:
        return self.store.execute("DELETE FROM ptz_tour_run WHERE camera_id = ?",
                                  (camera_id,)) == 1  # fmt: skip

    def add_tour_command(self, camera_id: str, action: str, tour_id: int | None,
                         requested_by: str, at: datetime) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO ptz_tour_command (camera_id, action, tour_id, requested_by, "
            "requested_at) VALUES (?, ?, ?, ?, ?)",
            (camera_id, action, tour_id, requested_by, format_at(at)),
        )

    def tour_command(self, command_id: int) -> TourCommandRow | None:
        row = self.store.fetch_one(f"SELECT {_COMMAND_COLUMNS} FROM ptz_tour_command "
                                   "WHERE id = ?", (command_id,))  # fmt: skip
        return _command(row) if row else None

    def pending_tour_commands(self, camera_id: str | None = None) -> list[TourCommandRow]:
        sql = f"SELECT {_COMMAND_COLUMNS} FROM ptz_tour_command WHERE done_at IS NULL"
        params: list[object] = []
        if camera_id is not None:
            sql += " AND camera_id = ?"
            params.append(camera_id)
        return [_command(r) for r in self.store.fetch_all(sql + " ORDER BY id", params)]

    def finish_tour_command(self, command_id: int, at: datetime, result: str) -> bool:
        return self.store.execute(
            "UPDATE ptz_tour_command SET done_at = ?, result = ? "
            "WHERE id = ? AND done_at IS NULL", (format_at(at), result, command_id),
        ) == 1  # fmt: skip
