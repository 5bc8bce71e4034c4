"""SQL for the access register and its reviews (schema step 3). Part of the store layer.

Queries are built so that each supervisor filter runs on one index range (see the
migration's docstring): with a camera the query starts from ``register_camera (camera, at)``,
otherwise from the entry index led by the most selective filter given. Rows leave as
:class:`~registry.register_model.RegisterEntry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from registry.clock import format_at, parse_at, parse_optional
from registry.register_model import (
    AccessKind,
    NewEntry,
    RegisterEntry,
    RegisterFilter,
    Review,
    ThirdParty,
)
from registry.store import Store

_ENTRY_COLUMNS = (
    "e.id, e.at, e.username, e.full_name, e.role, e.session_id, e.kind, e.purpose, "
    "e.purpose_title, e.purpose_text, e.span_from, e.span_to, e.third_name, e.third_document, "
    "e.auth_ref, e.auth_issuer, e.recipient, e.observations, e.confidentiality, e.audit_id, "
    "e.time_out, e.viewed_from, e.viewed_to, e.file_name, e.file_sha256, "
    "r.reviewer, r.reviewer_name, r.at, r.note, r.audit_id"
)
_FROM = "register_entry e LEFT JOIN register_review r ON r.entry_id = e.id"
_INSERT = (
    "INSERT INTO register_entry (at, username, full_name, role, session_id, kind, purpose, "
    "purpose_title, purpose_text, span_from, span_to, third_name, third_document, auth_ref, "
    "auth_issuer, recipient, observations, confidentiality) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WITH_ID = _INSERT.replace("(at,", "(id, at,", 1).replace("VALUES (", "VALUES (?, ", 1)
_INSERT_CAMERA = "INSERT INTO register_camera (entry_id, camera, at, viewed) VALUES (?, ?, ?, ?)"


def _values(e: NewEntry) -> tuple[object, ...]:
    t = e.third_party
    return (
        format_at(e.at), e.username, e.full_name, e.role, e.session_id, str(e.kind),
        e.purpose, e.purpose_title, e.purpose_text, format_at(e.span_from),
        format_at(e.span_to), t.name if t else None, t.document if t else None,
        t.authorization_ref if t else None, t.authorization_issuer if t else None,
        e.recipient, e.observations, int(e.confidentiality_declared),
    )  # fmt: skip


def _entry(row: tuple[Any, ...], cameras: tuple[str, ...], viewed: tuple[str, ...]
           ) -> RegisterEntry:  # fmt: skip
    third = (
        ThirdParty(str(row[12]), str(row[13] or ""), str(row[14] or ""), str(row[15] or ""))
        if row[12] is not None else None
    )  # fmt: skip
    review = (
        Review(str(row[25]), str(row[26]), parse_at(row[27]), str(row[28]),
               int(row[29]) if row[29] is not None else None)
        if row[25] is not None else None
    )  # fmt: skip
    return RegisterEntry(
        id=int(row[0]), at=parse_at(row[1]), username=str(row[2]), full_name=str(row[3]),
        role=str(row[4]), session_id=int(row[5]) if row[5] is not None else None,
        kind=AccessKind(row[6]), purpose=str(row[7]), purpose_title=str(row[8]),
        purpose_text=str(row[9]), cameras=cameras, span_from=parse_at(row[10]),
        span_to=parse_at(row[11]), third_party=third, recipient=row[16],
        observations=str(row[17]), confidentiality_declared=bool(row[18]),
        audit_id=int(row[19]) if row[19] is not None else None,
        time_out=parse_optional(row[20]), viewed_cameras=viewed,
        viewed_from=parse_optional(row[21]), viewed_to=parse_optional(row[22]),
        file_name=row[23], file_sha256=row[24], review=review,
    )  # fmt: skip


class RegisterStore:
    """The register's tables in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- writing

    def insert(self, entry: NewEntry) -> int:
        """Write a new entry and its requested cameras (call inside a transaction)."""
        with self.store.transaction():
            entry_id = self.store.insert(_INSERT, _values(entry))
            at = format_at(entry.at)
            self.store.execute_many(
                _INSERT_CAMERA, [(entry_id, c, at, 0) for c in entry.cameras]
            )
        return entry_id

    def set_audit_id(self, entry_id: int, audit_id: int) -> None:
        """Seal the entry with its audit event: from now on it counts as signed."""
        self.store.execute(
            "UPDATE register_entry SET audit_id = ? WHERE id = ?", (audit_id, entry_id)
        )

    def close_visit(self, entry_id: int, at: datetime) -> bool:
        """Set the visitor's time out; False when the visit was already closed."""
        changed = self.store.execute(
            "UPDATE register_entry SET time_out = ? "
            "WHERE id = ? AND kind = 'visit' AND time_out IS NULL",
            (format_at(at), entry_id),
        )
        return changed == 1

    def record_viewed(self, entry_id: int, cameras: Sequence[str], span_from: datetime,
                      span_to: datetime) -> None:  # fmt: skip
        """Widen the span actually viewed and add the cameras viewed beyond those asked."""
        with self.store.transaction():
            row = self.store.fetch_one("SELECT at FROM register_entry WHERE id = ?",
                                       (entry_id,))
            self.store.execute(
                "UPDATE register_entry SET "
                "viewed_from = MIN(COALESCE(viewed_from, ?1), ?1), "
                "viewed_to = MAX(COALESCE(viewed_to, ?2), ?2) WHERE id = ?3",
                (format_at(span_from), format_at(span_to), entry_id),
            )
            self.store.execute_many(
                "INSERT OR IGNORE INTO register_camera (entry_id, camera, at, viewed) "
                "VALUES (?, ?, ?, 1)",
                [(entry_id, c, row[0]) for c in cameras],
            )

    def attach_file(self, entry_id: int, file_name: str, sha256: str) -> bool:
        """Record the exported file; False when a file was already attached."""
        changed = self.store.execute(
            "UPDATE register_entry SET file_name = ?, file_sha256 = ? "
            "WHERE id = ? AND file_name IS NULL AND file_sha256 IS NULL",
            (file_name, sha256, entry_id),
        )
        return changed == 1

    def add_review(self, entry_id: int, reviewer: str, reviewer_name: str, at: datetime,
                   note: str) -> None:  # fmt: skip
        self.store.execute(
            "INSERT INTO register_review (entry_id, reviewer, reviewer_name, at, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (entry_id, reviewer, reviewer_name, format_at(at), note),
        )

    def set_review_audit_id(self, entry_id: int, audit_id: int) -> None:
        self.store.execute(
            "UPDATE register_review SET audit_id = ? WHERE entry_id = ?", (audit_id, entry_id)
        )

    def bulk_insert(self, entries: Iterable[NewEntry], audit_ids: Iterable[int | None]
                    ) -> None:  # fmt: skip
        """Fast fill for the benchmark only: one ``executemany`` per table, with ids.

        Not for the service: it skips nothing the triggers check, but it assumes the caller
        wrote matching audit events itself.
        """
        with self.store.transaction():
            first = int(self.store.fetch_one(
                "SELECT COALESCE(MAX(id), 0) + 1 FROM register_entry")[0])
            rows: list[tuple[object, ...]] = []
            cameras: list[tuple[object, ...]] = []
            for n, (entry, audit_id) in enumerate(zip(entries, audit_ids, strict=True)):
                entry_id = first + n
                rows.append((entry_id, *_values(entry), audit_id))
                at = format_at(entry.at)
                cameras.extend((entry_id, c, at, 0) for c in entry.cameras)
            # Sealed (audit id) only after the cameras: the trigger refuses requested cameras
            # of a sealed entry.
            self.store.execute_many(_INSERT_WITH_ID, [r[:-1] for r in rows])
            self.store.execute_many(_INSERT_CAMERA, cameras)
            self.store.execute_many(
                "UPDATE register_entry SET audit_id = ? WHERE id = ?",
                [(r[-1], r[0]) for r in rows if r[-1] is not None],
            )

    # ---------------------------------------------------------------- reading

    def get(self, entry_id: int) -> RegisterEntry | None:
        row = self.store.fetch_one(
            f"SELECT {_ENTRY_COLUMNS} FROM {_FROM} WHERE e.id = ?", (entry_id,)
        )
        return self._complete([row])[0] if row else None

    def query(self, flt: RegisterFilter, *, limit: int | None = None, offset: int = 0,
              oldest_first: bool = False) -> list[RegisterEntry]:  # fmt: skip
        """Entries matching *flt*, newest first (or oldest first)."""
        source, where, params, order = _where(flt)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        direction = "ASC" if oldest_first else "DESC"
        id_col = "c.entry_id" if flt.camera is not None else "e.id"  # the index's own order
        sql += f" ORDER BY {order} {direction}, {id_col} {direction}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return self._complete(self.store.fetch_all(sql, params))

    def count(self, flt: RegisterFilter) -> int:
        source, where, params, _order = _where(flt)
        sql = f"SELECT COUNT(*) FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return int(self.store.fetch_one(sql, params)[0])

    def open_visits(self) -> list[RegisterEntry]:
        rows = self.store.fetch_all(
            f"SELECT {_ENTRY_COLUMNS} FROM {_FROM} "
            "WHERE e.kind = 'visit' AND e.time_out IS NULL ORDER BY e.at, e.id"
        )
        return self._complete(rows)

    def _complete(self, rows: list[tuple[Any, ...]]) -> list[RegisterEntry]:
        """Attach each entry's cameras (one query for the whole page)."""
        if not rows:
            return []
        ids = [int(r[0]) for r in rows]
        requested: dict[int, list[str]] = {i: [] for i in ids}
        viewed: dict[int, list[str]] = {i: [] for i in ids}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ", ".join("?" * len(part))
            for entry_id, camera, was_viewed in self.store.fetch_all(
                "SELECT entry_id, camera, viewed FROM register_camera "
                f"WHERE entry_id IN ({marks}) ORDER BY entry_id, rowid", part,
            ):  # fmt: skip
                (viewed if was_viewed else requested)[int(entry_id)].append(str(camera))
        return [_entry(r, tuple(requested[int(r[0])]), tuple(viewed[int(r[0])]))
                for r in rows]  # fmt: skip


def _where(flt: RegisterFilter) -> tuple[str, list[str], list[object], str]:
    """FROM clause, conditions, parameters and the time column to order by."""
    where: list[str] = []
    params: list[object] = []
    if flt.camera is not None:
        # Start from the camera index; its copied ``at`` carries the period.
        source = ("register_camera c JOIN register_entry e ON e.id = c.entry_id "
                  "LEFT JOIN register_review r ON r.entry_id = e.id")
        time_col = "c.at"
        where.append("c.camera = ?")
        params.append(flt.camera)
    else:
        source, time_col = _FROM, "e.at"
    if flt.period_from is not None:
        where.append(f"{time_col} >= ?")
        params.append(format_at(flt.period_from))
    if flt.period_to is not None:
        where.append(f"{time_col} < ?")
        params.append(format_at(flt.period_to))
    for clause, value in (("e.username = ?", flt.person), ("e.purpose = ?", flt.purpose),
                          ("e.kind = ?", str(flt.kind) if flt.kind else None)):
        if value is not None:
            where.append(clause)
            params.append(value)
    if flt.reviewed is True:
        where.append("r.entry_id IS NOT NULL")
    elif flt.reviewed is False:
        where.append("r.entry_id IS NULL")
    return source, where, params, time_col

