"""Helpers for console (Textual) tests.

Accounts: every console test signs in against a real database file (``open_accounts`` on a
temporary directory, with argon2 parameters cheap enough for a test suite); ``SignedInApp``
is the console started on its sign-in screen with a session opened at once, so that tests of
the grid behave as before sign-in existed.

``StillHub`` stands in for :class:`cameras.hub.StreamHub` in snapshot tests only: it hands
out readers that show one fixed picture (the demo scene at t=0, scaled to the size asked),
so that a snapshot does not depend on which frame a live stream happened to be at. Every
behaviour test uses the real hub with real demo clips decoded by PyAV.

The access register's screens (``test_register_ui``, ``test_review_ui`` and the modules that
build on them) share a ``World``: a real database file, audit trail, accounts service and
register with three people signed in, made by ``make_world`` or the ``world`` fixture (import
it as ``register_world``, so that the name does not shadow the tests' ``world`` argument).

The sign-in and session screens (``test_signin_ui``, ``test_session_ui``) share the
``accounts`` fixture (import it as ``people_accounts``), ``still_context`` and the pilot helpers
(``sign_in``, ``wait_for``, ``screen_text``, ``shown_keys``, ...).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from textual.app import App
from textual.widgets import DataTable
from ui_support import OpenerApp

from cameras.config import CameraConfig
from cameras.hub import StreamHandle
from cameras.stream import StreamSource, StreamStats, StreamStatus, VideoFrame
from console import demo
from console.app import CentraleApp
from registry.accounts import Accounts
from registry.audit import AuditTrail
from registry.clock import utc_now
from registry.passwords import HashParameters, PasswordPolicy
from registry.people import create_person
from registry.register import AccessKind, AccessRegister, AccessRequest, RegisterEntry, ThirdParty
from registry.roles import Level
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore, SessionRow
from screens.context import ConsoleContext
from screens.register_form import RegisterContext
from screens.session_events import SessionStarted

FIXED_NOW = datetime(2026, 11, 23, 10, 30, 0)


def fixed_clock(tz: ZoneInfo) -> datetime:
    return FIXED_NOW.replace(tzinfo=tz)


def demo_picture(camera_id: str, size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """The demo scene of ``camera_id`` at t=0 as RGB."""
    cam = next(c for c in demo.CAMERAS if c.id == camera_id)
    w, h = size
    canvas = cam.background(w, h)
    cam.drawer(canvas, 0.0, w / 1280)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


class StillReader:
    """Reader-shaped object that always shows the same picture."""

    def __init__(self, camera_id: str, on_frame: Callable[[], None] | None,
                 status: StreamStatus = StreamStatus.LIVE) -> None:
        self.source = StreamSource(camera_id, "still")
        self._picture = demo_picture(camera_id) if status is StreamStatus.LIVE else None
        self._on_frame = on_frame
        self._frame: VideoFrame | None = None
        self._lock = threading.Lock()
        self.status = status
        self.status_detail = ""

    def set_target_size(self, width: int, height: int) -> None:
        if self._picture is None:
            return
        rgb = cv2.resize(self._picture, (width, height), interpolation=cv2.INTER_AREA)
        with self._lock:
            seq = (self._frame.seq + 1) if self._frame else 1
            self._frame = VideoFrame(rgb=rgb, seq=seq, pts_s=0.0, wallclock=time.time(),
                                     source_size=(640, 360))
        if self._on_frame:
            self._on_frame()

    def take(self, after_seq: int = 0) -> VideoFrame | None:
        frame = self._frame
        return frame if frame is not None and frame.seq > after_seq else None

    def latest(self) -> VideoFrame | None:
        return self._frame

    def stats(self) -> StreamStats:
        return StreamStats(fps=10.0, kbps=512.0, last_frame_age_s=0.05, frames=100, dropped=0,
                           width=640, height=360, reconnects=0)


class StillHub:
    def __init__(self, cameras: list[CameraConfig],
                 statuses: dict[str, StreamStatus] | None = None) -> None:
        self.cameras = {c.id: c for c in cameras}
        self.statuses = statuses or {}
        self.acquired: list[tuple[str, str]] = []

    def acquire(self, camera_id: str, which: str,
                on_frame: Callable[[], None] | None = None) -> StreamHandle:
        self.acquired.append((camera_id, which))
        status = self.statuses.get(camera_id, StreamStatus.LIVE)
        return StreamHandle(camera_id, which, StillReader(camera_id, on_frame, status))  # type: ignore[arg-type]

    def release(self, handle: StreamHandle, on_frame: Callable[[], None] | None = None) -> None:
        self.acquired.remove((handle.camera_id, handle.which))

    def close(self, timeout: float = 2.0) -> None:
        self.acquired.clear()


def demo_camera_configs(count: int = 6) -> list[CameraConfig]:
    """Camera configs of the demo comune, pointing nowhere (for StillHub)."""
    return [
        CameraConfig(id=c.id, name=c.name, place=c.place, kind=c.kind,
                     main_url=f"/nonexistent/{c.id}-main.mp4", anonymous=c.anonymous)
        for c in demo.CAMERAS[:count]
    ]


def context(hub: object, cameras: list[CameraConfig], layout: int = 4,
            accounts: Accounts | None = None) -> ConsoleContext:
    return ConsoleContext(
        hub=hub,  # type: ignore[arg-type]
        cameras=cameras,
        site_name="Comune di Valdemo",
        control_room="Centrale operativa",
        layout=layout,
        clock=fixed_clock,
        accounts=accounts,
    )


# -- accounts ---------------------------------------------------------------------------------

#: argon2id at its minimum cost: the same code path, a thousandth of the time
FAST_HASHING = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
FAST_POLICY = PasswordPolicy(hashing=FAST_HASHING)
AUDIT_KEY = b"k" * 32

#: one person per default role: username -> (full name, role, password)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "mrossi": ("Mario Rossi", "operatore", "Piazza-Duomo-71"),
    "lverdi": ("Lucia Verdi", "operatore_esperto", "Corso-Cavour-82"),
    "gneri": ("Giulia Neri", "supervisore", "Torre-Civica-93"),
    "pgallo": ("Paolo Gallo", "tecnico", "Cavo-Coassiale-14"),
    "sconti": ("Sara Conti", "amministratore", "Server-Rack-25"),
}


def open_accounts(data_dir: Path, clock: Callable[[], datetime] = utc_now,
                  policy: PasswordPolicy = FAST_POLICY) -> Accounts:
    """The accounts service on a real database file in ``data_dir``."""
    store = Store.open(data_dir)
    return Accounts(store, AuditTrail(store, AUDIT_KEY, clock), policy, clock=clock)


def add_people(accounts: Accounts, usernames: Iterable[str] | None = None, *,
               must_change: Iterable[str] = ()) -> None:
    """Store people of :data:`PEOPLE` (all by default) as an installation would have them."""
    now = accounts.clock()
    forced = set(must_change)
    people = PeopleStore(accounts.store)
    for username in usernames or PEOPLE:
        full_name, role, password = PEOPLE[username]
        person = create_person(username, full_name, role, Level.FIRST, password,
                               accounts.policy, now)
        people.add(replace(person, must_change_password=username in forced), now, "test")


def accounts_with_people(data_dir: Path, usernames: Iterable[str] | None = None, *,
                         must_change: Iterable[str] = ()) -> Iterator[Accounts]:
    """For a fixture, ``yield from`` it: :func:`open_accounts` with :func:`add_people`
    stored, and the store closed after the test."""
    accounts = open_accounts(data_dir)
    add_people(accounts, usernames, must_change=must_change)
    try:
        yield accounts
    finally:
        accounts.store.close()


def password_of(username: str) -> str:
    return PEOPLE[username][2]


class SignedInApp(CentraleApp):
    """The console with ``username`` signed in through the accounts service at start-up."""

    def __init__(self, context: ConsoleContext, username: str = "mrossi") -> None:
        super().__init__(context)
        self.username = username

    def show_sign_in(self) -> None:
        super().show_sign_in()
        accounts = self.context.accounts
        assert accounts is not None
        result = accounts.sign_in(self.username, password_of(self.username))
        assert result.session is not None, result.message
        self.on_session_started(SessionStarted(result.session))


def signed_in_context(context: ConsoleContext, data_dir: Path) -> ConsoleContext:
    """``context`` with an accounts service holding :data:`PEOPLE` in ``data_dir``."""
    accounts = open_accounts(data_dir)
    add_people(accounts)
    context.accounts = accounts
    return context


# --------------------------------------------------------------------------------------
# Sign-in and session screens (test_signin_ui, test_session_ui)
# --------------------------------------------------------------------------------------


@pytest.fixture(name="accounts")
def people_accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path / "db")


def still_context(accounts: Accounts | None, **changes: object) -> ConsoleContext:
    cams = demo_camera_configs()
    ctx = context(StillHub(cams), cams, accounts=accounts)
    for name, value in changes.items():
        setattr(ctx, name, value)
    return ctx


def hub_of(app: CentraleApp) -> StillHub:
    hub = app.context.hub
    assert isinstance(hub, StillHub)
    return hub


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def screen_text(app: CentraleApp) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text)


async def sign_in(pilot, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Type the credentials as a person would: user name, Enter, password, Enter."""
    await type_text(pilot, username)
    await pilot.press("enter")
    await type_text(pilot, password)
    await pilot.press("enter")


def sessions(accounts: Accounts, username: str) -> list[SessionRow]:
    people = PeopleStore(accounts.store)
    rows = [people.session(i) for i in range(1, 200)]
    return [r for r in rows if r is not None and r.username == username]


def actions(accounts: Accounts, target: str) -> list[str]:
    return [e.action for e in accounts.audit.entries() if e.target == target]


def shown_keys(app: CentraleApp) -> set[str]:
    """The actions the footer offers on the current screen."""
    return {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}


# --------------------------------------------------------------------------------------
# The access register, its form and its review (test_register_ui, test_review_ui, and the
# playback, holds, export and register-snapshot modules through test_register_ui)
# --------------------------------------------------------------------------------------


SIZE = (120, 40)
ROME = ZoneInfo("Europe/Rome")
#: 23/11/2026 10:30 in Rome, the console_support clock
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
VISITOR = ThirdParty("Giovanni Esposito", "C.I. CA12345AB", "prot. 1234/2026",
                     "Responsabile del trattamento")


class Clock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    audit: AuditTrail
    accounts: Accounts
    register: AccessRegister
    clock: Clock
    ctx: RegisterContext
    sessions: dict[str, Session]
    data_dir: Path

    def as_(self, username: str) -> RegisterContext:
        self.ctx.console.session = self.sessions[username]
        return self.ctx


def make_world(data_dir: Path, clock: Clock | None = None) -> World:
    clock = clock or Clock()
    store = Store.open(data_dir)
    audit = AuditTrail(store, b"k" * 32, clock)
    accounts = Accounts(store, audit, FAST_POLICY, clock=clock)
    add_people(accounts)
    sessions: dict[str, Session] = {}
    for username in ("mrossi", "lverdi", "gneri"):
        result = accounts.sign_in(username, password_of(username))
        assert result.session is not None, result.message
        sessions[username] = result.session
    register = AccessRegister(store, audit, accounts.verify_signature, clock,
                              extra_purposes=["Controllo mercato settimanale"])
    cams = demo_camera_configs()
    console = context(StillHub(cams), cams, accounts=accounts)
    ctx = RegisterContext(console=console, register=register, audit=audit,
                          data_dir=data_dir, clock=clock)
    return World(store, audit, accounts, register, clock, ctx, sessions, data_dir)


@pytest.fixture(name="world")
def register_world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "data")
    yield w
    w.store.close()


def sign(w: World, who: str, kind: AccessKind = AccessKind.PLAYBACK, *,
         hours_ago: float = 5, **changes: Any) -> RegisterEntry:
    """One entry signed through the service with the person's real password."""
    cams = [c.id for c in w.ctx.console.cameras]
    req = AccessRequest(
        kind=kind, purpose="road_accident", cameras=cams[:2],
        span_from=w.clock() - timedelta(hours=hours_ago + 1),
        span_to=w.clock() - timedelta(hours=hours_ago), observations="Incidente via Roma")
    if kind is AccessKind.VISIT:
        req = replace(req, third_party=VISITOR, confidentiality_declared=True)
    return w.register.open_entry(w.sessions[who], replace(req, **changes), password_of(who))


class RegisterApp(OpenerApp[RegisterContext]):
    """Keeps what the form returns in ``results``."""

    def __init__(self, ctx: RegisterContext, opener: Callable[[App[Any], RegisterContext],
                                                               object]) -> None:
        super().__init__(ctx, opener)
        self.results: list[RegisterEntry | None] = []


def table_ids(screen: Any, table_id: str) -> list[int]:
    table = screen.query_one(f"#{table_id}", DataTable)
    return [int(str(table.get_row_at(i)[0])) for i in range(table.row_count)]


def review_world(w: World) -> dict[str, RegisterEntry]:
    """Entries by two operators and a supervisor on different days, cameras, purposes."""
    cams = [c.id for c in w.ctx.console.cameras]
    made: dict[str, RegisterEntry] = {}
    w.clock.now = NOW - timedelta(days=3)
    made["lverdi_old"] = sign(w, "lverdi", cameras=[cams[0]])
    w.clock.now = NOW - timedelta(days=1)
    made["lverdi_visit"] = sign(w, "lverdi", AccessKind.VISIT, cameras=[cams[1]],
                                purpose="police_investigation")
    made["gneri"] = sign(w, "gneri", cameras=[cams[2]], purpose="urban_security")
    w.clock.now = NOW
    made["lverdi_new"] = sign(w, "lverdi", cameras=[cams[0], cams[3]], hours_ago=1)
    return made
