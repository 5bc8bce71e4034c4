"""The audit trail on real SQLite files: chain, tampering, pruning, key storage.

Tampering goes through a raw ``sqlite3`` connection that first drops our append-only
triggers, as anyone with write access to ``centrale.db`` could.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from registry.audit import (
    GENESIS,
    AuditError,
    AuditTrail,
    entry_mac,
    months_before,
    open_audit_trail,
)
from registry.audit_key import (
    HEAD_FILE,
    KEY_ENV,
    KEY_FILE,
    KEYRING_SERVICE,
    AuditKeyError,
    FileHeadMirror,
    load_audit_key,
)
from registry.store import DB_FILE, AuditRow, Store

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_trail(store: Store, clock: Clock, tmp_path: Path, n: int = 0,
               key: bytes = KEY) -> AuditTrail:
    trail = AuditTrail(store, key, clock, mirror=FileHeadMirror(tmp_path / HEAD_FILE))
    for i in range(n):
        clock.advance(timedelta(minutes=1))
        trail.append(f"user{i % 3}", "login" if i % 2 == 0 else "logout", f"ws{i}",
                     {"n": i, "città": "Bologna"})
    return trail


def tamper(store: Store, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TRIGGER IF EXISTS audit_no_update")
    raw.execute("DROP TRIGGER IF EXISTS audit_delete_only_pruned")
    for s in statements:
        if isinstance(s, tuple):
            raw.execute(*s)
        else:
            raw.execute(s)
    raw.commit()
    raw.close()


def rows(store: Store) -> list[AuditRow]:
    return list(store.audit_rows())


# ---------------------------------------------------------------------- round trip


def test_append_then_verify(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path)
    assert trail.verify().ok and trail.verify().checked == 0
    first = trail.append("mrossi", "login", "ws1", {"ip": "10.0.0.5"})
    assert first.id == 1 and first.prev_mac == GENESIS
    assert first.at == T0 and first.details == {"ip": "10.0.0.5"}
    second = trail.append("mrossi", "logout", "ws1")
    assert second.id == 2 and second.prev_mac == first.mac and second.details == {}
    result = trail.verify()
    assert result.ok and result.checked == 2 and result.first_bad_id is None
    assert store.audit_head() is not None and store.audit_head().last_mac == second.mac  # type: ignore[union-attr]
    assert FileHeadMirror(tmp_path / HEAD_FILE).load().last_id == 2  # type: ignore[union-attr]


def test_mac_covers_canonical_fields(store: Store, clock: Clock, tmp_path: Path) -> None:
    make_trail(store, clock, tmp_path, n=3)
    for r in rows(store):
        assert r.mac == entry_mac(KEY, r)
        assert r.at.endswith("Z")


def test_entries_filters(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=10)
    assert len(trail.entries()) == 10
    assert [e.id for e in trail.entries(actor="user0")] == [1, 4, 7, 10]
    assert all(e.action == "logout" for e in trail.entries(action="logout"))
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    assert [e.id for e in trail.entries(since=since, until=until)] == [3, 4, 5]
    assert [e.id for e in trail.entries(action="login", limit=2)] == [1, 3]
    assert trail.entries(actor="nobody") == []


def test_details_must_be_json(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path)
    with pytest.raises(AuditError):
        trail.append("a", "b", details={"when": datetime.now(UTC)})
    with pytest.raises(ValueError):
        AuditTrail(store, KEY, lambda: datetime(2026, 1, 1)).append("a", "naive clock")
    assert store.audit_count() == 0


def test_a_fresh_process_continues_the_chain(tmp_path: Path, clock: Clock) -> None:
    with Store.open(tmp_path / "data") as s:
        make_trail(s, clock, tmp_path, n=3)
    with Store.open(tmp_path / "data") as s:
        trail = make_trail(s, clock, tmp_path, n=2)
        assert trail.verify().checked == 5 and trail.verify().ok


# ---------------------------------------------------------------------- tampering


def test_edited_field_is_detected(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=6)
    tamper(store, "UPDATE audit SET actor = 'someone_else' WHERE id = 4")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 4 and result.checked == 3
    assert "altered" in result.reason


@pytest.mark.parametrize("column, value", [
    ("at", "2026-01-01T08:03:00.000001Z"), ("action", "view"), ("target", "x"),
    ("details", '{"n":2}'), ("prev_mac", "f" * 64), ("mac", "0" * 64),
])
def test_every_column_is_covered(store: Store, clock: Clock, tmp_path: Path,
                                 column: str, value: str) -> None:
    trail = make_trail(store, clock, tmp_path, n=5)
    tamper(store, (f"UPDATE audit SET {column} = ? WHERE id = 3", (value,)))
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


def test_deleted_middle_entry_is_detected(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=6)
    tamper(store, "DELETE FROM audit WHERE id = 3")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3 and "missing" in result.reason


def test_deleted_middle_entry_with_renumbering_is_detected(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=6)
    tamper(store, "DELETE FROM audit WHERE id = 3",
           *(f"UPDATE audit SET id = {i - 1} WHERE id = {i}" for i in range(4, 7)))
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


def test_deleted_last_entry_is_detected(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=6)
    tamper(store, "DELETE FROM audit WHERE id = 6")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 6 and result.checked == 5


def test_deleted_last_entries_with_a_rewound_head_are_detected_by_the_mirror(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=4)
    saved_head = store.audit_head()  # an attacker copies the head row at entry 4 ...
    assert saved_head is not None
    clock.advance(timedelta(minutes=1))
    trail.append("mrossi", "export", "cam3", {"clip": "evidence"})
    trail.append("mrossi", "logout")
    # ... and later removes entries 5-6 and puts the old, genuinely signed head back.
    tamper(store, "DELETE FROM audit WHERE id > 4",
           ("UPDATE audit_head SET last_id = ?, last_mac = ?, mac = ?",
            (saved_head.last_id, saved_head.last_mac, saved_head.mac)))
    no_mirror = AuditTrail(store, KEY, clock)
    assert no_mirror.verify().ok  # the database alone cannot tell (documented)
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 5 and "mirror" in result.reason


def test_head_forged_without_the_key_is_detected(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    make_trail(store, clock, tmp_path, n=4)
    last = store.audit_row(3)
    assert last is not None
    tamper(store, "DELETE FROM audit WHERE id = 4",
           ("UPDATE audit_head SET last_id = 3, last_mac = ?", (last.mac,)))
    result = AuditTrail(store, KEY, clock).verify()  # even without the mirror
    assert not result.ok and result.first_bad_id == 4 and "head" in result.reason


def test_wiping_everything_is_detected_by_the_mirror(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=3)
    tamper(store, "DELETE FROM audit", "DELETE FROM audit_head")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 1


def test_inserted_forged_entry_is_detected(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=4)
    head = store.audit_head()
    assert head is not None
    forged = AuditRow(5, "2026-01-01T08:05:00.000000Z", "mrossi", "login", "", "{}",
                      head.last_mac, "")
    mac = entry_mac(OTHER_KEY, forged)
    tamper(store, ("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (5, forged.at, forged.actor, forged.action, "", "{}", forged.prev_mac, mac)),
           ("UPDATE audit_head SET last_id = 5, last_mac = ?", (mac,)))
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 5


def test_entry_inserted_in_the_middle_is_detected(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=5)
    before = store.audit_row(2)
    assert before is not None
    shift = [f"UPDATE audit SET id = {i + 1} WHERE id = {i}" for i in range(5, 2, -1)]
    forged = ("INSERT INTO audit VALUES (3, ?, 'x', 'login', '', '{}', ?, ?)",
              ("2026-01-01T08:02:30.000000Z", before.mac, "a" * 64))
    tamper(store, *shift, forged)
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


def test_reordered_entries_are_detected(store: Store, clock: Clock, tmp_path: Path) -> None:
    trail = make_trail(store, clock, tmp_path, n=6)
    tamper(store, "UPDATE audit SET id = -1 WHERE id = 2",
           "UPDATE audit SET id = 2 WHERE id = 5",
           "UPDATE audit SET id = 5 WHERE id = -1")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 2


def test_a_whole_chain_made_with_another_key_is_detected(tmp_path: Path, clock: Clock) -> None:
    with Store.open(tmp_path / "data") as real, Store.open(tmp_path / "fake") as fake:
        trail = make_trail(real, clock, tmp_path, n=5)
        make_trail(fake, Clock(), tmp_path / "fake", n=5, key=OTHER_KEY)
        forged = rows(fake)
        head = fake.audit_head()
        assert head is not None
        tamper(real, "DELETE FROM audit",
               *(("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (r.id, r.at, r.actor, r.action, r.target, r.details, r.prev_mac, r.mac))
                 for r in forged),
               ("UPDATE audit_head SET last_id = ?, last_mac = ?, mac = ?",
                (head.last_id, head.last_mac, head.mac)))
        result = trail.verify()
        assert not result.ok and result.first_bad_id == 1 and result.checked == 0
        # With the other key the forgery is self-consistent: only the key tells them apart.
        assert AuditTrail(real, OTHER_KEY, clock).verify().ok


def test_a_mirror_one_step_behind_after_a_crash_is_not_an_alarm(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=3)
    mirror = FileHeadMirror(tmp_path / HEAD_FILE)
    behind = mirror.load()
    AuditTrail(store, KEY, clock).append("mrossi", "logout")  # "crash": mirror not written
    assert mirror.load() == behind
    assert trail.verify().ok
    mirror.save(type(behind)(3, "b" * 64))  # type: ignore[misc]
    assert not trail.verify().ok


def test_an_append_inside_a_rolled_back_transaction_leaves_the_mirror_alone(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=2)
    mirror = FileHeadMirror(tmp_path / HEAD_FILE)
    before = mirror.load()
    with pytest.raises(RuntimeError), store.transaction():
        trail.append("mrossi", "permission_refused")
        assert mirror.load() == before  # not before the commit
        raise RuntimeError("the caller's operation failed")
    assert mirror.load() == before
    assert trail.verify().ok
    with store.transaction():
        entry = trail.append("mrossi", "logout")
    assert mirror.load() == type(before)(entry.id, entry.mac)  # type: ignore[misc]
    assert trail.verify().ok


# ---------------------------------------------------------------------- pruning


def test_prune_refuses_anything_younger_than_six_months(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=5)
    clock.advance(timedelta(days=200))
    with pytest.raises(AuditError, match="6 months"):
        trail.prune(clock.now - timedelta(days=150))
    assert store.audit_count() == 5
    with pytest.raises(AuditError):
        AuditTrail(store, KEY, clock, min_retention_months=5)
    longer = AuditTrail(store, KEY, clock, min_retention_months=12)
    with pytest.raises(AuditError, match="12 months"):
        longer.prune(months_before(clock.now, 7))
    assert store.audit_count() == 5


def test_legal_prune_keeps_the_chain_verifiable(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=4)          # January 2026
    clock.now = datetime(2026, 5, 1, tzinfo=UTC)
    make_trail(store, clock, tmp_path, n=3)                  # May 2026, ids 5-7
    clock.now = datetime(2026, 9, 1, tzinfo=UTC)
    assert trail.prune(datetime(2026, 2, 1, tzinfo=UTC)) == 4
    assert [e.id for e in trail.entries()] == [5, 6, 7, 8]
    assert trail.entries(action="audit.prune")[0].details == {
        "before": "2026-02-01T00:00:00.000000Z", "count": 4, "first_id": 1, "last_id": 4}
    result = trail.verify()
    assert result.ok and result.checked == 4
    trail.append("mrossi", "login")
    assert trail.verify().ok
    # Nothing more to prune; then deleting the first kept entry is still detected.
    assert trail.prune(datetime(2026, 2, 1, tzinfo=UTC)) == 0
    tamper(store, "DELETE FROM audit WHERE id = 5")
    assert trail.verify().first_bad_id == 5


def test_prune_checkpoint_cannot_be_moved_without_the_key(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=4)
    clock.now = datetime(2026, 9, 1, tzinfo=UTC)
    make_trail(store, clock, tmp_path, n=3)
    clock.now = datetime(2027, 1, 1, tzinfo=UTC)
    trail.prune(datetime(2026, 2, 1, tzinfo=UTC))
    victim = store.audit_row(5)
    assert victim is not None
    tamper(store, "DELETE FROM audit WHERE id = 5",
           ("UPDATE audit_checkpoint SET last_id = 5, last_mac = ?", (victim.mac,)))
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 6 and "checkpoint" in result.reason


def test_prune_refuses_a_chain_that_does_not_verify(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    trail = make_trail(store, clock, tmp_path, n=4)
    tamper(store, "UPDATE audit SET actor = 'x' WHERE id = 2")
    clock.now = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(AuditError, match="does not verify"):
        trail.prune(datetime(2026, 6, 1, tzinfo=UTC))
    assert store.audit_count() == 4


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28,
                                                                          tzinfo=UTC)
    assert months_before(datetime(2026, 3, 15, tzinfo=UTC), 6) == datetime(2025, 9, 15,
                                                                          tzinfo=UTC)


# ---------------------------------------------------------------------- key storage


def file_keyring(tmp_path: Path) -> PlaintextKeyring:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring.cfg")  # type: ignore[misc]
    return kr


def test_key_from_the_keyring_is_created_once_and_reused(tmp_path: Path) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    kr = file_keyring(tmp_path)
    first = load_audit_key(data, keys, create=True, environ={}, backend=kr)
    assert first.source == "keyring" and len(first.key) == 32
    assert kr.get_password(KEYRING_SERVICE, str(data.resolve())) == first.key.hex()
    again = load_audit_key(data, keys, create=False, environ={}, backend=kr)
    assert again.key == first.key and again.source == "keyring"
    assert not (keys / KEY_FILE).exists()
    assert "key=" not in repr(first)


def test_keyring_mirror_detects_a_truncation(tmp_path: Path, clock: Clock) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    kr = file_keyring(tmp_path)
    found = load_audit_key(data, keys, create=True, environ={}, backend=kr)
    with Store.open(data) as s:
        trail = AuditTrail(s, found.key, clock, mirror=found.mirror)
        for _ in range(3):
            trail.append("mrossi", "login")
        assert kr.get_password(KEYRING_SERVICE, str(data.resolve()) + "#head").startswith("3:")
        tamper(s, "DELETE FROM audit WHERE id = 3", "DELETE FROM audit_head")
        assert trail.verify().first_bad_id == 3


def test_key_from_the_environment(tmp_path: Path) -> None:
    key = os.urandom(32)
    found = load_audit_key(tmp_path / "d", tmp_path / "k", create=False,
                           environ={KEY_ENV: key.hex()}, backend=file_keyring(tmp_path))
    assert found.key == key and found.source == "env"
    with pytest.raises(AuditKeyError, match="hexadecimal"):
        load_audit_key(tmp_path / "d", tmp_path / "k", create=False,
                       environ={KEY_ENV: "zz"})
    with pytest.raises(AuditKeyError, match="too short"):
        load_audit_key(tmp_path / "d", tmp_path / "k", create=False,
                       environ={KEY_ENV: "00" * 8})


def test_key_file_created_0600_without_a_keyring(tmp_path: Path) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    found = load_audit_key(data, keys, create=True, environ={}, backend=fail.Keyring())
    assert found.source == "file"
    path = keys / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bytes.fromhex(path.read_text()) == found.key
    again = load_audit_key(data, keys, create=False, environ={}, backend=fail.Keyring())
    assert again.key == found.key
    # The file stays in use even if a keyring shows up later.
    later = load_audit_key(data, keys, create=True, environ={}, backend=file_keyring(tmp_path))
    assert later.key == found.key and later.source == "file"
    path.chmod(0o644)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        load_audit_key(data, keys, create=False, environ={}, backend=fail.Keyring())


def test_no_key_is_invented_for_an_existing_trail(tmp_path: Path, clock: Clock) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    with pytest.raises(AuditKeyError, match="restore it"):
        load_audit_key(data, keys, create=False, environ={}, backend=fail.Keyring())
    with pytest.raises(AuditKeyError, match="must not be the data directory"):
        load_audit_key(data, data, create=True, environ={}, backend=fail.Keyring())


def test_open_audit_trail_creates_the_key_only_for_an_empty_trail(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    data, keys = tmp_path / "data", tmp_path / "keys"
    with Store.open(data) as s:
        trail = open_audit_trail(s, data, keys, environ={}, clock=clock)
        trail.append("mrossi", "login")
    (keys / KEY_FILE).unlink()
    with Store.open(data) as s, pytest.raises(AuditKeyError):
        open_audit_trail(s, data, keys, environ={}, clock=clock)
    assert (data / DB_FILE).exists()


def test_two_connections_appending_interleaved_keep_one_chain(
    tmp_path: Path, clock: Clock
) -> None:
    import threading

    with Store.open(tmp_path / "data") as a, Store.open(tmp_path / "data") as b:
        trails = [AuditTrail(a, KEY, clock), AuditTrail(b, KEY, clock)]

        def work(t: AuditTrail, who: str) -> None:
            for _ in range(50):
                t.append(who, "ptz.move", "cam1")

        threads = [threading.Thread(target=work, args=(t, f"ws{i}"))
                   for i, t in enumerate(trails)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        result = trails[0].verify()
        assert result.ok and result.checked == 100


def test_verify_while_others_append_sees_one_snapshot_and_no_false_alarm(
    tmp_path: Path,
) -> None:
    """A console verifies while the recorder and other consoles keep appending."""
    import threading

    from registry.audit import utc_now as real_clock

    store = Store.open(tmp_path)
    mirror = FileHeadMirror(tmp_path / "keys" / HEAD_FILE)
    trail = AuditTrail(store, KEY, real_clock, mirror=mirror)
    for i in range(3000):
        trail.append("recorder", "purge", f"cam-{i % 16}")
    writer_store = Store.open(tmp_path)  # another process's connection
    writer = AuditTrail(writer_store, KEY, real_clock, mirror=mirror)
    stop = threading.Event()
    appended = 0

    def keep_appending() -> None:
        nonlocal appended
        while not stop.is_set():
            writer.append("mrossi", "ptz_move", "cam-1")
            trail.append("recorder", "segment", "cam-2")  # and on the verifier's connection
            appended += 2

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        results = [trail.verify() for _ in range(5)]
    finally:
        stop.set()
        thread.join()
    assert appended > 0
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    assert results[0].checked >= 3000
    final = trail.verify()
    assert final.ok and final.checked == 3000 + appended
    writer_store.close()
    store.close()
