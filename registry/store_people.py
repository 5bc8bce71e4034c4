"""SQL for people and sessions (schema step 2). Part of the store layer: see store.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.clock import format_at, format_optional, parse_at, parse_optional
from registry.people import DisabledReason, Person
from registry.roles import Level
from registry.store import Store

_PERSON_COLUMNS = (
    "username, full_name, role, level, password_hash, password_changed_at, password_history, "
    "active, disabled_reason, failed_attempts, locked_until, last_login_at, "
    "must_change_password"
)


def _person(row: tuple[Any, ...]) -> Person:
    return Person(
        username=str(row[0]),
        full_name=str(row[1]),
        role=str(row[2]),
        level=Level(int(row[3])),
        password_hash=str(row[4]),
        password_changed_at=parse_at(row[5]),
        password_history=tuple(json.loads(row[6])),
        active=bool(row[7]),
        disabled_reason=DisabledReason(row[8]) if row[8] else None,
        failed_attempts=int(row[9]),
        locked_until=parse_optional(row[10]),
        last_login_at=parse_optional(row[11]),
        must_change_password=bool(row[12]),
    )


def _values(p: Person) -> tuple[object, ...]:
    return (
        p.username, p.full_name, p.role, int(p.level), p.password_hash,
        format_at(p.password_changed_at), json.dumps(list(p.password_history)),
        int(p.active), str(p.disabled_reason) if p.disabled_reason else None,
        p.failed_attempts, format_optional(p.locked_until), format_optional(p.last_login_at),
        int(p.must_change_password),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    username: str
    cosigner: str | None
    workstation: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class PeopleStore:
    """People and sessions in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- people

    def get(self, username: str) -> Person | None:
        row = self.store.fetch_one(
            f"SELECT {_PERSON_COLUMNS} FROM person WHERE username = ?", (username,)
        )
        return _person(row) if row else None

    def all(self) -> list[Person]:
        rows = self.store.fetch_all(f"SELECT {_PERSON_COLUMNS} FROM person ORDER BY username")
        return [_person(r) for r in rows]

    def count(self) -> int:
        return int(self.store.fetch_one("SELECT COUNT(*) FROM person")[0])

    def count_with_role(self, role: str, *, active_only: bool = True) -> int:
        sql = "SELECT COUNT(*) FROM person WHERE role = ?"
        if active_only:
            sql += " AND active = 1"
        return int(self.store.fetch_one(sql, (role,))[0])

    def count_active_in_roles(self, roles: Iterable[str]) -> int:
        names = list(roles)
        if not names:
            return 0
        marks = ", ".join("?" * len(names))
        sql = f"SELECT COUNT(*) FROM person WHERE active = 1 AND role IN ({marks})"
        return int(self.store.fetch_one(sql, names)[0])

    def add(self, person: Person, created_at: datetime, created_by: str) -> None:
        """Insert a new person; :class:`~registry.store.StoreError` if the name is taken."""
        self.store.execute(
            f"INSERT INTO person ({_PERSON_COLUMNS}, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_values(person), format_at(created_at), created_by),
        )

    def save(self, person: Person) -> None:
        """Write every field of an existing person."""
        values = _values(person)
        self.store.execute(
            "UPDATE person SET full_name = ?, role = ?, level = ?, password_hash = ?, "
            "password_changed_at = ?, password_history = ?, active = ?, disabled_reason = ?, "
            "failed_attempts = ?, locked_until = ?, last_login_at = ?, "
            "must_change_password = ? WHERE username = ?",
            (*values[1:], person.username),
        )

    # ---------------------------------------------------------------- sessions

    def open_session(
        self, username: str, started_at: datetime, *, cosigner: str | None = None,
        workstation: str = "",
    ) -> int:  # fmt: skip
        return self.store.insert(
            "INSERT INTO session (username, cosigner, workstation, started_at) "
            "VALUES (?, ?, ?, ?)",
            (username, cosigner, workstation, format_at(started_at)),
        )

    def close_session(self, session_id: int, ended_at: datetime, reason: str) -> bool:
        """End an open session; False when it had already ended."""
        changed = self.store.execute(
            "UPDATE session SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
            (format_at(ended_at), reason, session_id),
        )
        return changed > 0

    def close_sessions_of(self, username: str, ended_at: datetime, reason: str) -> list[int]:
        """End every open session of *username* (a technician's included when they co-signed
        it: the operator present is gone); the ids that were open."""
        ids = [
            int(r[0])
            for r in self.store.fetch_all(
                "SELECT id FROM session WHERE ended_at IS NULL "
                "AND (username = ? OR cosigner = ?) ORDER BY id",
                (username, username),
            )
        ]
        for session_id in ids:
            self.close_session(session_id, ended_at, reason)
        return ids

    def session(self, session_id: int) -> SessionRow | None:
        row = self.store.fetch_one(
            "SELECT id, username, cosigner, workstation, started_at, ended_at, end_reason "
            "FROM session WHERE id = ?",
            (session_id,),
        )
        return _session(row) if row else None

    def open_sessions(self) -> list[SessionRow]:
        rows = self.store.fetch_all(
            "SELECT id, username, cosigner, workstation, started_at, ended_at, end_reason "
            "FROM session WHERE ended_at IS NULL ORDER BY id"
        )
        return [_session(r) for r in rows]


def _session(row: tuple[Any, ...]) -> SessionRow:
    return SessionRow(
        id=int(row[0]), username=str(row[1]), cosigner=row[2], workstation=str(row[3]),
        started_at=parse_at(row[4]), ended_at=parse_optional(row[5]), end_reason=row[6],
    )  # fmt: skip
