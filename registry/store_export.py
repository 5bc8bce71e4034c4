"""SQL for exported packages and their removable-media states (schema step 7). See store.py.

The rules (who may move a package to which state, the audit entries) are in
:mod:`footage.media`; the schema's triggers keep a package's identity fixed and its row
undeletable (registry/migrations/v0007_exports.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from registry.clock import format_at, parse_at, parse_optional
from registry.store import Store

ON_DISK: Final = "on_disk"
COPIED: Final = "copied"
DELIVERED: Final = "delivered"
DESTROYED: Final = "destroyed"
STATES: Final = (ON_DISK, COPIED, DELIVERED, DESTROYED)

_COLUMNS = (
    "id, register_entry_id, file_name, folder, sha256, clip_sha256, bytes, camera, span_from, "
    "span_to, recipient_kind, recipient, created_by, created_at, state, medium, copied_by, "
    "copied_at, delivered_to, delivered_by, delivered_at, destroyed_by, destroyed_at, note"
)


@dataclass(frozen=True, slots=True)
class PackageRow:
    id: int
    register_entry_id: int
    file_name: str
    #: the folder it was written to (absolute)
    folder: str
    sha256: str
    clip_sha256: str
    size: int
    camera: str
    span_from: datetime
    span_to: datetime
    recipient_kind: str
    recipient: str
    created_by: str
    created_at: datetime
    state: str
    medium: str | None = None
    copied_by: str | None = None
    copied_at: datetime | None = None
    delivered_to: str | None = None
    delivered_by: str | None = None
    delivered_at: datetime | None = None
    destroyed_by: str | None = None
    destroyed_at: datetime | None = None
    note: str = ""


def _row(r: tuple[Any, ...]) -> PackageRow:
    return PackageRow(
        id=int(r[0]), register_entry_id=int(r[1]), file_name=str(r[2]), folder=str(r[3]),
        sha256=str(r[4]), clip_sha256=str(r[5]), size=int(r[6]), camera=str(r[7]),
        span_from=parse_at(r[8]), span_to=parse_at(r[9]), recipient_kind=str(r[10]),
        recipient=str(r[11]), created_by=str(r[12]), created_at=parse_at(r[13]),
        state=str(r[14]), medium=r[15], copied_by=r[16], copied_at=parse_optional(r[17]),
        delivered_to=r[18], delivered_by=r[19], delivered_at=parse_optional(r[20]),
        destroyed_by=r[21], destroyed_at=parse_optional(r[22]), note=str(r[23]),
    )  # fmt: skip


class ExportStore:
    """Exported packages in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self, *, register_entry_id: int, file_name: str, folder: str, sha256: str,
        clip_sha256: str, size: int, camera: str, span_from: datetime, span_to: datetime,
        recipient_kind: str, recipient: str, created_by: str, created_at: datetime,
    ) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO export_package (register_entry_id, file_name, folder, sha256, "
            "clip_sha256, bytes, camera, span_from, span_to, recipient_kind, recipient, "
            "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (register_entry_id, file_name, folder, sha256, clip_sha256, size, camera,
             format_at(span_from), format_at(span_to), recipient_kind, recipient, created_by,
             format_at(created_at)),
        )  # fmt: skip

    def get(self, package_id: int) -> PackageRow | None:
        row = self.store.fetch_one(f"SELECT {_COLUMNS} FROM export_package WHERE id = ?",
                                   (package_id,))  # fmt: skip
        return _row(row) if row else None

    def list(self, *, created_by: str | None = None, states: tuple[str, ...] = STATES,
             limit: int = 200) -> list[PackageRow]:  # fmt: skip
        """Packages in *states*, newest first; only *created_by*'s when given."""
        sql = (f"SELECT {_COLUMNS} FROM export_package "
               f"WHERE state IN ({', '.join('?' * len(states))})")  # fmt: skip
        params: list[object] = list(states)
        if created_by is not None:
            sql += " AND created_by = ?"
            params.append(created_by)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_row(r) for r in self.store.fetch_all(sql, params)]

    def mark_copied(self, package_id: int, *, medium: str, by: str, at: datetime,
                    from_states: tuple[str, ...]) -> bool:  # fmt: skip
        return self._move(package_id, COPIED, from_states,
                          "medium = ?, copied_by = ?, copied_at = ?",
                          (medium, by, format_at(at)))  # fmt: skip

    def mark_delivered(self, package_id: int, *, to: str, by: str, at: datetime,
                       from_states: tuple[str, ...]) -> bool:  # fmt: skip
        return self._move(package_id, DELIVERED, from_states,
                          "delivered_to = ?, delivered_by = ?, delivered_at = ?",
                          (to, by, format_at(at)))  # fmt: skip

    def mark_destroyed(self, package_id: int, *, by: str, at: datetime, note: str,
                       from_states: tuple[str, ...]) -> bool:  # fmt: skip
        return self._move(package_id, DESTROYED, from_states,
                          "destroyed_by = ?, destroyed_at = ?, note = ?",
                          (by, format_at(at), note))  # fmt: skip

    def _move(self, package_id: int, state: str, from_states: tuple[str, ...], sets: str,
              values: tuple[object, ...]) -> bool:  # fmt: skip
        """Set *state* and *sets* only if the row is in one of *from_states* (atomic)."""
        changed = self.store.execute(
            f"UPDATE export_package SET state = ?, {sets} WHERE id = ? "
            f"AND state IN ({', '.join('?' * len(from_states))})",
            (state, *values, package_id, *from_states),
        )
        return changed == 1
