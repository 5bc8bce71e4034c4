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
