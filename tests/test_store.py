"""The store on real SQLite files: identity, pragmas, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from registry import store as store_mod
from registry.store import APPLICATION_ID, DB_FILE, SCHEMA_VERSION, Store, StoreError


def test_new_database_is_created_migrated_and_configured(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as s:
        assert s.path == data / DB_FILE
        assert s.schema_version == SCHEMA_VERSION
        assert s.audit_count() == 0
    raw = sqlite3.connect(data / DB_FILE)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"audit", "audit_head", "audit_checkpoint", "person", "session"} <= tables
    indexes = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"audit_at", "audit_actor_at", "audit_action_at"} <= indexes
    raw.close()


def test_connection_pragmas(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        conn = s._conn
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == store_mod.BUSY_TIMEOUT_MS


def test_migrations_apply_once_and_reopening_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(tmp_path).close()
    raw = sqlite3.connect(tmp_path / DB_FILE)
    raw.execute(
        "INSERT INTO audit (id, at, actor, action, prev_mac, mac) "
        "VALUES (1, 'a', 'b', 'c', 'd', 'e')"
    )
    raw.commit()
    raw.close()
    # Reopening runs no step again (a second CREATE TABLE would fail) and keeps the data.
    with Store.open(tmp_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.audit_count() == 1
    # A later step is applied once, in order, and only that one.
    step = (SCHEMA_VERSION + 1, "CREATE TABLE later_step (x INTEGER);")
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, step))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(tmp_path) as s:
        assert s.schema_version == SCHEMA_VERSION + 1
        assert s.audit_count() == 1
    with Store.open(tmp_path) as s:
        assert s.schema_version == SCHEMA_VERSION + 1


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(tmp_path).close()
    broken = (SCHEMA_VERSION + 1, "CREATE TABLE half (x INTEGER);\nCREATE TABLE audit (y);")
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, broken))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError):
        Store.open(tmp_path)
    raw = sqlite3.connect(tmp_path / DB_FILE)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='half'").fetchone()[0] == 0
    raw.close()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    (tmp_path / DB_FILE).write_bytes(b"this is a text file, not a database\n" * 200)
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path)
    assert info.value.title == "Not a Centrale database"


def test_another_programs_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / DB_FILE)
    raw.execute("CREATE TABLE songs (title TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path)
    assert info.value.title == "Not a Centrale database"
    raw = sqlite3.connect(tmp_path / DB_FILE)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    raw.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    raw = sqlite3.connect(tmp_path / DB_FILE)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path)
    assert info.value.title == "Database newer than Centrale"
    assert "update Centrale" in info.value.message


def test_statements_are_split_with_triggers_intact() -> None:
    script = store_mod.MIGRATIONS[0][1]
    statements = list(store_mod._statements(script))
    assert any(s.startswith("CREATE TRIGGER audit_no_update") and s.endswith("END;")
               for s in statements)
    assert all(sqlite3.complete_statement(s) for s in statements)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    from registry.store import AuditRow

    with Store.open(tmp_path) as s:
        with pytest.raises(RuntimeError), s.transaction():
            s.audit_insert(AuditRow(1, "t", "a", "b", "", "{}", "p", "m"))
            raise RuntimeError("boom")
        assert s.audit_count() == 0


def test_audit_rows_cannot_be_updated_or_deleted_through_sql(tmp_path: Path) -> None:
    from registry.store import AuditRow

    with Store.open(tmp_path) as s:
        s.audit_insert(AuditRow(1, "t", "a", "b", "", "{}", "p", "m"))
        with pytest.raises(StoreError, match="append-only"):
            s._exec("UPDATE audit SET actor = 'x'")
        with pytest.raises(StoreError, match="append-only"):
            s._exec("DELETE FROM audit")
        assert s.audit_count() == 1


def test_migration_steps_are_numbered_without_gaps() -> None:
    from registry.migrations import load_migrations

    versions = [v for v, _ in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == SCHEMA_VERSION


def test_people_and_sessions_round_trip(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from registry.people import DisabledReason, Person
    from registry.roles import Level
    from registry.store_people import PeopleStore

    now = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    person = Person(
        username="mrossi", full_name="Mario Rossi", role="operatore", level=Level.SECOND,
        password_hash="$argon2id$x", password_changed_at=now, password_history=("h1", "h2"),
        failed_attempts=2, locked_until=now + timedelta(minutes=15), must_change_password=True,
    )
    with Store.open(tmp_path) as s:
        people = PeopleStore(s)
        people.add(person, now, "admin")
        assert people.get("mrossi") == person
        with pytest.raises(StoreError):
            people.add(person, now, "admin")  # the user name is taken
        changed = Person(**{**person.__dict__, "active": False,
                            "disabled_reason": DisabledReason.REVOKED, "last_login_at": now})
        people.save(changed)
        sid = people.open_session("mrossi", now, workstation="PL-01")
        people.close_session(sid, now + timedelta(hours=1), "logout")
        people.close_session(sid, now + timedelta(hours=2), "again")  # a closed one stays
    with Store.open(tmp_path) as s:
        people = PeopleStore(s)
        assert people.get("mrossi") == changed
        assert people.get("nobody") is None
        assert people.count_with_role("operatore") == 0  # disabled
        session = people.session(sid)
        assert session is not None
        assert (session.ended_at, session.end_reason) == (now + timedelta(hours=1), "logout")
        assert people.open_sessions() == []
