"""Removable media (R23): packages tracked on disk -> copied -> delivered, or destroyed; who
may see and change which; every change audited; the schema keeps a package's identity."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from db_support import stored_session

from footage.media import MediaError, MediaLog, is_open
from registry.audit import AuditTrail
from registry.register import AccessKind, AccessRegister, AccessRequest
from registry.roles import PermissionDenied
from registry.session import Session
from registry.store import Store, StoreError
from registry.store_export import ExportStore

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def trail(store: Store) -> AuditTrail:
    return AuditTrail(store, b"k" * 32, lambda: NOW)


def session(store: Store, username: str, role: str) -> Session:
    return stored_session(store, username, role, NOW)


def package(store: Store, trail: AuditTrail, who: Session, folder: Path) -> int:
    """A package as the export leaves it: a signed export entry, a file, a row."""
    register = AccessRegister(store, trail, lambda s, p: True, lambda: NOW)
    entry = register.open_entry(who, AccessRequest(
        kind=AccessKind.EXPORT, purpose="road_accident", cameras=["cam1"],
        span_from=NOW - timedelta(hours=2), span_to=NOW - timedelta(hours=1),
        recipient="Polizia Stradale"), "pw")  # fmt: skip
    name = f"2026-03-14_0900-1000_Piazza_cam1-{entry.id}.zip"
    (folder / name).write_bytes(b"package")
    return ExportStore(store).add(
        register_entry_id=entry.id, file_name=name, folder=str(folder), sha256="a" * 64,
        clip_sha256="b" * 64, size=7, camera="cam1", span_from=entry.span_from,
        span_to=entry.span_to, recipient_kind="police_force", recipient="Polizia Stradale",
        created_by=who.username, created_at=NOW)  # fmt: skip


def test_lifecycle_copied_then_delivered_is_audited_and_final(
    store: Store, trail: AuditTrail, tmp_path: Path
) -> None:
    op = session(store, "esperto", "operatore_esperto")
    log = MediaLog(ExportStore(store), trail, lambda: NOW)
    pid = package(store, trail, op, tmp_path)
    assert [r.state for r in log.packages(op)] == ["on_disk"]
    row = log.copied(op, pid, "  chiavetta USB n. 3 ")
    assert (row.state, row.medium, row.copied_by, row.copied_at) == (
        "copied", "chiavetta USB n. 3", "esperto", NOW)
    row = log.delivered(op, pid, "Isp. Verdi, Polizia Stradale")
    assert row.state == "delivered" and row.delivered_to == "Isp. Verdi, Polizia Stradale"
    assert not is_open(row) and log.packages(op, open_only=True) == []
    with pytest.raises(MediaError, match="is delivered: it cannot become copied"):
        log.copied(op, pid, "DVD")
    with pytest.raises(MediaError, match="cannot become destroyed"):
        log.destroyed(op, pid, "shredded")
    events = [(e.action, e.details.get("from_state")) for e in trail.entries()
              if e.action.startswith("media.")]  # fmt: skip
    assert events == [("media.copied", "on_disk"), ("media.delivered", "copied")]


def test_destroyed_with_the_file_and_missing_details_refused(
    store: Store, trail: AuditTrail, tmp_path: Path
) -> None:
    op = session(store, "esperto", "operatore_esperto")
    log = MediaLog(ExportStore(store), trail, lambda: NOW)
    pid = package(store, trail, op, tmp_path)
    with pytest.raises(MediaError, match="medium"):
        log.copied(op, pid, "  ")
    with pytest.raises(MediaError, match="note"):
        log.destroyed(op, pid, "")
    row = log.copied(op, pid, "chiavetta USB n. 5")
    assert (tmp_path / row.file_name).exists()
    row = log.destroyed(op, pid, "chiavetta formattata e distrutta", delete_file=True)
    assert row.state == "destroyed" and row.destroyed_by == "esperto"
    assert not (tmp_path / row.file_name).exists()
    event = [e for e in trail.entries() if e.action == "media.destroyed"][-1]
    assert event.details["file_deleted"] == "True"


def test_operators_see_their_own_the_supervisor_sees_all(
    store: Store, trail: AuditTrail, tmp_path: Path
) -> None:
    a = session(store, "anna", "operatore_esperto")
    b = session(store, "bruno", "operatore_esperto")
    boss = session(store, "capo", "supervisore")
    watcher = session(store, "vede", "operatore")
    log = MediaLog(ExportStore(store), trail, lambda: NOW)
    pa, pb = package(store, trail, a, tmp_path), package(store, trail, b, tmp_path)
    assert [r.id for r in log.packages(a)] == [pa]
    assert sorted(r.id for r in log.packages(boss, everyone=True)) == [pa, pb]
    with pytest.raises(PermissionDenied):
        log.packages(a, everyone=True)
    with pytest.raises(PermissionDenied):
        log.copied(a, pb, "DVD")  # not hers
    with pytest.raises(PermissionDenied):
        log.packages(watcher)  # may not export at all
    assert log.delivered(boss, pb, "Carabinieri").state == "delivered"
    with pytest.raises(MediaError, match="no exported package 99"):
        log.get(boss, 99)


def test_the_schema_keeps_a_package_identity_and_its_row(
    store: Store, trail: AuditTrail, tmp_path: Path
) -> None:
    op = session(store, "esperto", "operatore_esperto")
    pid = package(store, trail, op, tmp_path)
    with pytest.raises((StoreError, sqlite3.DatabaseError), match="identity never changes"):
        store.execute("UPDATE export_package SET sha256 = ? WHERE id = ?", ("c" * 64, pid))
    with pytest.raises((StoreError, sqlite3.DatabaseError), match="never deleted"):
        store.execute("DELETE FROM export_package WHERE id = ?", (pid,))
    with pytest.raises((StoreError, sqlite3.DatabaseError)):
        store.execute("UPDATE export_package SET state = 'lost' WHERE id = ?", (pid,))
