"""Control leases (R9) on a real SQLite file, two consoles as two Store connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peers import IpycamPeer
from test_ptz_support import control_for

from ptz.control import Direction
from ptz.leases import (
    CAMERA_CLOSED,
    CAMERA_OPENED,
    LEASE_REFUSED,
    LEASE_TAKEN,
    LEASE_TAKEOVER,
    LeaseBook,
    LeaseLost,
    LeaseRefused,
)
from registry.audit import AuditTrail
from registry.people import Person
from registry.roles import Level, PermissionDenied, role_named
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore
from registry.store_ptz import PtzControlStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CAM = "dome"
KEY = b"k" * 32


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


def add_person(store: Store, username: str, full_name: str, role: str, level: Level) -> Session:
    person = Person(username=username, full_name=full_name, role=role, level=level,
                    password_hash="not-used", password_changed_at=T0)
    people = PeopleStore(store)
    people.add(person, T0, "test")
    sid = people.open_session(username, T0, workstation=f"ws-{username}")
    return Session(id=sid, person=person, role=role_named(role), started_at=T0,
                   workstation=f"ws-{username}")


class Console:
    """One console: its own connection to the shared database, audit trail and lease book."""

    def __init__(self, data: Path, clock: Clock) -> None:
        self.store = Store.open(data)
        self.audit = AuditTrail(self.store, KEY, clock)
        self.leases = LeaseBook(PtzControlStore(self.store), self.audit, clock, idle_s=30,
                                timezone="UTC")

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def consoles(tmp_path: Path, clock: Clock) -> Iterator[tuple[Console, Console]]:
    a, b = Console(tmp_path / "data", clock), Console(tmp_path / "data", clock)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def people(consoles: tuple[Console, Console]) -> dict[str, Session]:
    store = consoles[0].store
    return {
        "rossi": add_person(store, "rossi", "Mario Rossi", "operatore", Level.FIRST),
        "neri": add_person(store, "neri", "Anna Neri", "operatore", Level.FIRST),
        "capo": add_person(store, "capo", "Lucia Capo", "supervisore", Level.FIRST),
        "questura": add_person(store, "questura", "Paolo Questura", "operatore", Level.SECOND),
        "carabinieri": add_person(store, "carabinieri", "Ugo Arma", "operatore", Level.SECOND),
    }


def actions(audit: AuditTrail, action: str) -> list[tuple[str, str, dict[str, str]]]:
    return [(e.actor, e.target, dict(e.details)) for e in audit.entries() if e.action == action]


def test_same_level_is_refused_naming_the_holder_and_the_time(
    consoles: tuple[Console, Console], people: dict[str, Session], clock: Clock
) -> None:
    a, b = consoles
    lease = a.leases.take(people["rossi"], CAM)
    assert lease.holder == "rossi" and lease.expires_at == T0 + timedelta(seconds=30)
    with pytest.raises(LeaseRefused) as err:
        b.leases.take(people["neri"], CAM)
    assert err.value.message == "Camera dome is driven by Mario Rossi until 09:00:30"
    assert err.value.holder == "rossi"
    assert actions(b.audit, LEASE_REFUSED)[-1][:2] == ("neri", CAM)
    # a second-level person on an open camera is refused by a first-level holder too
    a.leases.open_camera(people["capo"], CAM, T0 + timedelta(hours=1))
    with pytest.raises(LeaseRefused, match="Mario Rossi"):
        b.leases.take(people["questura"], CAM)


def test_each_command_renews_and_the_lease_lapses_after_the_idle_time(
    consoles: tuple[Console, Console], people: dict[str, Session], clock: Clock
) -> None:
    a, b = consoles
    a.leases.take(people["rossi"], CAM)
    clock.advance(20)
    renewed = a.leases.take(people["rossi"], CAM)
    assert renewed.expires_at == T0 + timedelta(seconds=50)
    clock.advance(0.2)  # a held key: no new write within a second
    assert a.leases.take(people["rossi"], CAM).expires_at == renewed.expires_at
    clock.advance(25)  # 45.2 s: still held (renewed at 20 s)
    with pytest.raises(LeaseRefused, match="until 09:00:50"):
        b.leases.take(people["neri"], CAM)
    clock.advance(5)  # 50.2 s: lapsed
    assert b.leases.current(CAM) is None
    lease = b.leases.take(people["neri"], CAM)
    assert lease.holder == "neri"
    assert [x[0] for x in actions(a.audit, LEASE_TAKEN)] == ["rossi", "neri"]


def test_first_level_takes_over_a_second_level_lease_and_the_other_console_is_told(
    consoles: tuple[Console, Console], people: dict[str, Session], clock: Clock
) -> None:
    a, b = consoles
    a.leases.open_camera(people["capo"], CAM, T0 + timedelta(hours=1))
    b.leases.take(people["questura"], CAM)
    assert b.leases.poll(people["questura"], CAM).lost_to is None
    clock.advance(5)
    lease = a.leases.take(people["rossi"], CAM)
    assert lease.holder == "rossi" and lease.taken_from == "questura"
    assert actions(a.audit, LEASE_TAKEOVER) == [
        ("rossi", CAM, {"from": "questura", "until": "2026-03-01T09:00:35+00:00"})]
    # the second-level console learns it at its next poll ...
    told = b.leases.poll(people["questura"], CAM)
    assert told.lost_to is not None and told.lost_to.holder == "rossi"
    assert b.leases.poll(people["questura"], CAM).lost_to is None  # told once


def test_the_next_command_after_a_takeover_says_so(
    consoles: tuple[Console, Console], people: dict[str, Session], clock: Clock
) -> None:
    a, b = consoles
    a.leases.open_camera(people["capo"], CAM, T0 + timedelta(hours=1))
    b.leases.take(people["questura"], CAM)
    clock.advance(3)
    a.leases.take(people["rossi"], CAM)
    with pytest.raises(LeaseLost) as err:
        b.leases.take(people["questura"], CAM)
    assert err.value.message == ("Mario Rossi (first level) took over control of camera dome "
                                 "at 09:00:03; they hold it until 09:00:33")
    # told once: the next try is an ordinary refusal
    with pytest.raises(LeaseRefused) as again:
        b.leases.take(people["questura"], CAM)
    assert not isinstance(again.value, LeaseLost)
    # a second-level person never takes over a first-level lease
    held = a.leases.current(CAM)
    assert held is not None and held.holder == "rossi"


def test_first_level_cannot_take_over_first_level(
    consoles: tuple[Console, Console], people: dict[str, Session]
) -> None:
    a, b = consoles
    a.leases.take(people["rossi"], CAM)
    with pytest.raises(LeaseRefused):
        b.leases.take(people["capo"], CAM)  # a supervisor is first level, not above it
    assert a.leases.current(CAM).holder == "rossi"  # type: ignore[union-attr]


def test_second_level_drives_only_cameras_opened_to_it(
    consoles: tuple[Console, Console], people: dict[str, Session], clock: Clock
) -> None:
    a, b = consoles
    with pytest.raises(LeaseRefused, match="not open to second-level"):
        b.leases.take(people["questura"], CAM)
    # only a first-level supervisor opens a camera
    with pytest.raises(PermissionDenied):
        a.leases.open_camera(people["rossi"], CAM, T0 + timedelta(minutes=10))
    a.leases.open_camera(people["capo"], CAM, T0 + timedelta(minutes=10))
    assert b.leases.take(people["questura"], CAM).level is Level.SECOND
    with pytest.raises(LeaseRefused, match="not open"):
        b.leases.take(people["questura"], "other-camera")
    # closing ends it at once: the next command is refused
    assert a.leases.close_camera(people["capo"], CAM) == 1
    clock.advance(1.5)
    with pytest.raises(LeaseRefused, match="not open"):
        b.leases.take(people["questura"], CAM)
    # an opening lapses by itself too
    a.leases.open_camera(people["capo"], CAM, clock() + timedelta(minutes=1))
    b.leases.take(people["questura"], CAM)
    clock.advance(61)
    with pytest.raises(LeaseRefused, match="not open"):
        b.leases.take(people["questura"], CAM)
    opened = actions(a.audit, CAMERA_OPENED)
    assert [(x[0], x[2]["level"]) for x in opened] == [("capo", "2"), ("capo", "2")]
    assert actions(a.audit, CAMERA_CLOSED) == [("capo", CAM, {"openings": "1"})]


def test_two_consoles_racing_for_a_camera_cannot_both_win(
    consoles: tuple[Console, Console], people: dict[str, Session]
) -> None:
    a, b = consoles
    for round_ in range(20):
        cam = f"race-{round_}"
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def take(console: Console, who: str, cam: str, barrier: threading.Barrier,
                 results: dict[str, object]) -> None:
            barrier.wait()
            try:
                results[who] = console.leases.take(people[who], cam)
            except LeaseRefused as exc:
                results[who] = exc

        threads = [threading.Thread(target=take, args=(c, who, cam, barrier, results))
                   for c, who in ((a, "rossi"), (b, "neri"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [w for w, r in results.items() if not isinstance(r, LeaseRefused)]
        assert len(won) == 1, results
        holder = a.leases.current(cam)
        assert holder is not None and holder.holder == won[0]


def test_release_gives_the_camera_back(
    consoles: tuple[Console, Console], people: dict[str, Session]
) -> None:
    a, b = consoles
    a.leases.take(people["rossi"], CAM)
    assert a.leases.release(people["rossi"], CAM)
    assert b.leases.take(people["neri"], CAM).holder == "neri"
    assert not a.leases.release(people["rossi"], CAM)  # not theirs any more


@pytest.mark.peers
async def test_ptz_control_takes_the_lease_before_each_command(
    ipycam_window: IpycamPeer, consoles: tuple[Console, Console], people: dict[str, Session],
    clock: Clock,
) -> None:
    """Two consoles drive the real camera: the second is refused before anything is sent."""
    a, b = consoles
    sent: list[str] = []

    class Listener:
        def command_sent(self, what: str) -> None:
            sent.append(what)

        def command_failed(self, what: str) -> None:
            pass

    ctl_a = control_for(ipycam_window, a.audit, leases=a.leases)
    ctl_b = control_for(ipycam_window, b.audit, leases=b.leases, listener=Listener())
    try:
        await ctl_a.move(people["rossi"], Direction.LEFT)
        with pytest.raises(LeaseRefused, match="Mario Rossi"):
            await ctl_b.move(people["neri"], Direction.RIGHT)
        with pytest.raises(LeaseRefused):
            await ctl_b.home(people["neri"])
        assert sent == []  # refused before the picture was even blanked
        clock.advance(31)
        await ctl_b.home(people["neri"])
        assert sent == ["home"]
        assert b.leases.current(CAM).holder == "neri"  # type: ignore[union-attr]
    finally:
        await ctl_a.close()
        await ctl_b.close()
