"""The one place where Centrale talks SQL.

A :class:`Store` is one SQLite file, ``centrale.db`` in the data directory, opened in WAL
mode with foreign keys on and a busy timeout, and brought to the newest schema by the
versioned :data:`MIGRATIONS` (``PRAGMA user_version``). Every other module calls the small
typed methods below and never writes SQL, so that a PostgreSQL backend (several
workstations, DESIGN.md "Scale") is a second implementation of these methods, not a
rewrite. Rows leave this module as frozen dataclasses, never as ``sqlite3.Row``.

``sqlite3`` errors are translated here into :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from registry.errors import CentraleError
from registry.i18n import N_
from registry.migrations import load_migrations

#: File name of the database inside the data directory.
DB_FILE: Final = "centrale.db"
#: ``PRAGMA application_id`` of a Centrale database ("CNTR"): tells our file from others.
APPLICATION_ID: Final = 0x434E5452
BUSY_TIMEOUT_MS: Final = 5000

#: Versioned schema changes, applied in order, each inside one transaction together with
#: the new ``user_version``. One module per step in :mod:`registry.migrations`, named
#: ``vNNNN_topic.py`` with ``VERSION`` and ``SQL``, so that features add their tables without
#: touching each other's. Never edit a released step: add a new one.
MIGRATIONS: Final[tuple[tuple[int, str], ...]] = load_migrations()
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


class StoreError(CentraleError):
    """The database cannot be used: not ours, too new, damaged or busy."""

    title = N_("Database error")


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored audit entry, exactly as written (``details`` is JSON text)."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    details: str
    prev_mac: str
    mac: str


@dataclass(frozen=True, slots=True)
class AuditHeadRow:
    """The newest entry's id and MAC, with a MAC of its own."""

    last_id: int
    last_mac: str
    mac: str


@dataclass(frozen=True, slots=True)
class AuditCheckpointRow:
    """The last pruned entry: the chain continues from ``last_id + 1``."""

    last_id: int
    last_mac: str
    before: str
    mac: str


def _statements(script: str) -> Iterator[str]:
    """Split a migration into single statements (triggers included)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending.strip() and line.lstrip().startswith("--"):
            continue  # a comment between statements
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")


class Store:
    """One Centrale database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (creating it if needed) ``centrale.db`` in *data_dir* and migrate it."""
        path = Path(data_dir) / DB_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the database {path}: {e}") from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _check_identity(conn, path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn, path)
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(f"{path} is not a usable Centrale database: {e}") from e
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """A read-only view of the database as of now, on a connection of its own.

        Long reads that must see one consistent state (verifying the audit chain while
        consoles keep appending) use it: WAL lets them read while others write, and writers
        on this store's connection are not blocked by the open read transaction.
        """
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                   check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute("BEGIN")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # start the read
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open a read snapshot: {e}") from e
        try:
            yield Store(conn, self.path)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._one("PRAGMA user_version")[0])

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``); nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: cannot start a transaction: {e}") from e
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._after_commit.clear()
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._after_commit.clear()
                self._conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: cannot commit: {e}") from e
            callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run *callback* once the current transaction commits (at once outside one).

        For effects outside the database that must never run ahead of it, such as the audit
        head mirror: on a rollback the callbacks are dropped.
        """
        with self._lock:
            if self._depth:
                self._after_commit.append(callback)
                return
        callback()

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...]:
        with self._lock:
            try:
                row = self._conn.execute(sql, params).fetchone()
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e
        return tuple(row) if row is not None else ()

    def _exec(self, sql: str, params: tuple[object, ...] = ()) -> int:
        with self._lock:
            try:
                return self._conn.execute(sql, params).rowcount
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e

    # ------------------------------------------------- for the store_* repository modules
    # The ``registry/store_*.py`` modules (people, register, footage, PTZ) hold the rest of
    # the project's SQL and reach the connection only through these four methods; a
    # PostgreSQL backend implements them (and translates ``?`` placeholders) once.

    def fetch_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...]:
        """The first row of *sql* as a tuple, or ``()`` when there is none."""
        return self._one(sql, tuple(params))

    def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return [tuple(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        return self._exec(sql, tuple(params))

    def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one INSERT; returns the new row's id."""
        with self._lock:
            try:
                cursor = self._conn.execute(sql, tuple(params))
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e
            return int(cursor.lastrowid or 0)

    def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self._lock:
            try:
                self._conn.executemany(sql, (tuple(r) for r in rows))
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e

    # ---------------------------------------------------------------- audit trail

    def audit_head(self) -> AuditHeadRow | None:
        row = self._one("SELECT last_id, last_mac, mac FROM audit_head WHERE one = 1")
        return AuditHeadRow(int(row[0]), str(row[1]), str(row[2])) if row else None

    def audit_set_head(self, head: AuditHeadRow) -> None:
        self._exec(
            "INSERT INTO audit_head (one, last_id, last_mac, mac) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id, "
            "last_mac = excluded.last_mac, mac = excluded.mac",
            (head.last_id, head.last_mac, head.mac),
        )

    def audit_checkpoint(self) -> AuditCheckpointRow | None:
        row = self._one(
            "SELECT last_id, last_mac, before, mac FROM audit_checkpoint WHERE one = 1"
        )
        if not row:
            return None
        return AuditCheckpointRow(int(row[0]), str(row[1]), str(row[2]), str(row[3]))

    def audit_insert(self, row: AuditRow) -> None:
        self._exec(
            "INSERT INTO audit (id, at, actor, action, target, details, prev_mac, mac) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.at, row.actor, row.action, row.target, row.details,
             row.prev_mac, row.mac),
        )

    def audit_rows(self, after_id: int = 0, batch: int = 5000) -> Iterator[AuditRow]:
        """Every entry with ``id > after_id`` in id order, read in batches."""
        last = after_id
        while True:
            with self._lock:
                try:
                    rows = self._conn.execute(
                        "SELECT id, at, actor, action, target, details, prev_mac, mac "
                        "FROM audit WHERE id > ? ORDER BY id LIMIT ?",
                        (last, batch),
                    ).fetchall()
                except sqlite3.Error as e:
                    raise StoreError(f"{self.path}: {e}") from e
            if not rows:
                return
            for r in rows:
                yield AuditRow(*r)
            last = rows[-1][0]

    def audit_row(self, entry_id: int) -> AuditRow | None:
        row = self._one(
            "SELECT id, at, actor, action, target, details, prev_mac, mac "
            "FROM audit WHERE id = ?",
            (entry_id,),
        )
        return AuditRow(*row) if row else None

    def audit_query(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        """Entries with ``since <= at < until`` (ISO-8601 UTC text), oldest first."""
        where: list[str] = []
        params: list[object] = []
        for clause, value in (("at >= ?", since), ("at < ?", until),
                              ("actor = ?", actor), ("action = ?", action)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = "SELECT id, at, actor, action, target, details, prev_mac, mac FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            try:
                rows = self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: {e}") from e
        return [AuditRow(*r) for r in rows]

    def audit_first_id_at_or_after(self, at: str) -> int | None:
        """The smallest id whose ``at`` is not older than *at* (uses the ``at`` index)."""
        row = self._one("SELECT MIN(id) FROM audit WHERE at >= ?", (at,))
        return int(row[0]) if row and row[0] is not None else None

    def audit_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM audit")[0])

    def audit_prune(self, checkpoint: AuditCheckpointRow) -> int:
        """Record *checkpoint*, then delete every entry up to its ``last_id``."""
        with self.transaction():
            self._exec(
                "INSERT INTO audit_checkpoint (one, last_id, last_mac, before, mac) "
                "VALUES (1, ?, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET "
                "last_id = excluded.last_id, last_mac = excluded.last_mac, "
                "before = excluded.before, mac = excluded.mac",
                (checkpoint.last_id, checkpoint.last_mac, checkpoint.before, checkpoint.mac),
            )
            return self._exec("DELETE FROM audit WHERE id <= ?", (checkpoint.last_id,))


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse files that are not Centrale databases, and schemas newer than this code."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise StoreError(
            f"{path} is not a Centrale database ({e}); move it away or choose another "
            "data directory",
            title=N_("Not a Centrale database"),
        ) from e
    if app_id == 0 and version == 0 and objects == 0:
        return  # a new, empty file
    if app_id != APPLICATION_ID:
        raise StoreError(
            f"{path} is an SQLite file of another program; move it away or choose another "
            "data directory",
            title=N_("Not a Centrale database"),
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this Centrale "
            f"({SCHEMA_VERSION}): update Centrale before opening it",
            title=N_("Database newer than Centrale"),
        )


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:  # another process upgraded it meanwhile
            raise StoreError(
                f"{path} has schema version {version}, newer than this Centrale "
                f"({SCHEMA_VERSION}): update Centrale before opening it",
                title=N_("Database newer than Centrale"),
            )
        if version == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for step, script in MIGRATIONS:
            if step <= version:
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(step)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
