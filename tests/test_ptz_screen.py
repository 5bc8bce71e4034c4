"""Pilot tests of the PTZ screen: keys drive the real ipycam camera (checked with GetStatus),
the panel shows mask state, lease and presets, and every failure is a notification."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from console_support import SignedInApp, StillHub, accounts_with_people, context
from peers import IpycamPeer, free_port
from test_ptz_support import camera_for, control_for, supervisor

from cameras.config import CameraConfig, StreamSettings
from cameras.hub import StreamHub
from cameras.masks import GATES
from cameras.stream import StreamStatus
from ptz.control import PtzControl, PtzPosition
from ptz.leases import LeaseBook
from ptz.presets import PresetBook
from ptz.runtime import PtzRuntime, start_ptz_runtime
from registry.accounts import Accounts
from registry.audit import AuditTrail
from registry.store import Store
from registry.store_ptz import PtzControlStore, PtzStore
from screens.ptz import PtzScreen, open_ptz
from screens.widgets.video import VideoView

pytestmark = pytest.mark.peers

SQUARE_VIEW = PtzPosition(-0.8, -0.8, 0.6)
HOME = PtzPosition(0.0, 0.0, 0.0)


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path / "data")


async def _until(pilot: object, check: Callable[[], bool], timeout: float = 8.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if check():
            return True
        await pilot.pause(0.1)  # type: ignore[attr-defined]
    return check()


async def _position(probe: PtzControl) -> PtzPosition:
    status = await probe.status()
    assert status.position is not None
    return status.position


def _runtime(cam: CameraConfig, accounts: Accounts, password: str, **kw: object) -> PtzRuntime:
    return start_ptz_runtime([cam], accounts.store, accounts.audit,
                             password_for=lambda _id: password, poll_s=0.1, timezone="UTC",
                             **kw)  # fmt: skip


def _text(screen: PtzScreen, widget_id: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(f"#{widget_id}", Static).render())


async def test_keys_drive_the_camera_and_the_panel_follows(
    ipycam_window: IpycamPeer, accounts: Accounts, tmp_path: Path
) -> None:
    cam = camera_for(ipycam_window, "screen-dome")
    audit: AuditTrail = accounts.audit  # type: ignore[assignment]
    probe = control_for(ipycam_window, audit, camera=cam)
    await probe.home(supervisor())
    book = PresetBook(PtzStore(accounts.store), audit)
    await book.define(supervisor(), probe, "piazza", approve=True)
    await probe.move_to(supervisor(), SQUARE_VIEW)
    await asyncio.sleep(0.3)
    await book.define(supervisor(), probe, "giardini", approve=True)
    await probe.home(supervisor())

    runtime = _runtime(cam, accounts, ipycam_window.password, lease_idle_s=2.0)
    hub = StreamHub([cam], StreamSettings(), password_for=lambda _id: ipycam_window.password)
    app = SignedInApp(context(hub, [cam], accounts=accounts), "mrossi")
    try:
        async with app.run_test(size=(150, 42)) as pilot:
            assert open_ptz(app, cam.id, runtime)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PtzScreen)
            assert "1 giardini" in _text(screen, "ptz-presets")
            assert "2 piazza" in _text(screen, "ptz-presets")

            await pilot.press("1")  # giardini (presets are listed by name)
            assert await _until(pilot, lambda: "preset giardini" in _text(screen, "ptz-mask"),
                                10), _text(screen, "ptz-mask")  # fmt: skip
            assert (await _position(probe)).near(SQUARE_VIEW)
            assert "▶ 1 giardini" in _text(screen, "ptz-presets")
            assert _text(screen, "ptz-lease").startswith("Control: yours until")

            await pilot.press("h")
            assert await _until(pilot, lambda: "preset piazza" in _text(screen, "ptz-mask"), 10)
            await pilot.press("right", "right", "up")
            assert await _until(pilot, lambda: len(screen.commands) >= 5)
            assert "moving" in _text(screen, "ptz-mask") or "off preset" in _text(
                screen, "ptz-mask")
            await asyncio.sleep(0.8)
            moved = await _position(probe)
            assert moved.pan > 0.02 and moved.tilt > 0.0, moved
            await pilot.press("plus")
            assert await _until(pilot, lambda: len(screen.commands) >= 6)
            await asyncio.sleep(0.8)
            assert (await _position(probe)).zoom > moved.zoom
            assert await _until(pilot, lambda: "off preset" in _text(screen, "ptz-mask"), 6)

            await pilot.press("right_square_bracket", "right_square_bracket")
            assert _text(screen, "ptz-speed") == "Speed 5/5"
            await pilot.press("left_square_bracket")
            assert _text(screen, "ptz-speed") == "Speed 4/5"

            # the live main stream is drawn (blank or masked frames are frames too)
            view = screen.query_one(VideoView)
            assert await _until(pilot, lambda: view.painted_frames > 0, 10)
            assert screen.errors == []

            # another console takes the camera once this lease has lapsed: refused, shown
            await asyncio.sleep(2.2)
            other_store = Store.open(tmp_path / "data")
            try:
                other = LeaseBook(PtzControlStore(other_store),
                                  AuditTrail(other_store, b"k" * 32), timezone="UTC")
                verdi = accounts.sign_in("lverdi", "Corso-Cavour-82").session
                assert verdi is not None
                other.take(verdi, cam.id)
                assert await _until(pilot, lambda: "Lucia Verdi" in _text(screen, "ptz-lease"))
                await pilot.press("left")
                assert await _until(pilot, lambda: bool(screen.errors))
                assert "is driven by Lucia Verdi until" in screen.errors[-1]
                assert any("Lucia Verdi" in str(n.message) for n in app._notifications)
            finally:
                other_store.close()
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, PtzScreen)
        actions = [e.action for e in audit.entries() if e.target == cam.id]
        assert {"ptz.goto_preset", "ptz.home", "ptz.move", "ptz.zoom",
                "ptz.lease_taken", "ptz.lease_refused"} <= set(actions)
    finally:
        runtime.close()
        hub.close()
        GATES.unregister(cam.id)
        await probe.home(supervisor())
        await probe.close()


@pytest.mark.parametrize("failure", ["auth", "offline"])
async def test_camera_failures_are_shown_to_the_operator(
    ipycam_window: IpycamPeer, accounts: Accounts, failure: str
) -> None:
    if failure == "auth":
        cam = camera_for(ipycam_window, "bad-auth")
        password = "wrong"
        expected = "refused the user name or password"
    else:
        cam = CameraConfig(id="offline", name="Spenta", place="Via Roma", kind="ptz",  # type: ignore[arg-type]
                           onvif=f"127.0.0.1:{free_port()}", username="op")
        password = "secret"
        expected = ""
    runtime = _runtime(cam, accounts, password)
    hub = StillHub([cam], {cam.id: StreamStatus.OFFLINE})
    app = SignedInApp(context(hub, [cam], accounts=accounts), "mrossi")
    try:
        async with app.run_test(size=(150, 42)) as pilot:
            assert open_ptz(app, cam.id, runtime)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PtzScreen)
            await pilot.press("right")
            assert await _until(pilot, lambda: bool(screen.errors), 15)
            assert expected in screen.errors[-1]
            assert len(app._notifications) >= 1
            # the picture stays blank: nobody knows where the camera is
            assert await _until(pilot, lambda: "position unknown" in _text(screen, "ptz-mask"))
    finally:
        runtime.close()
        GATES.unregister(cam.id)


async def test_open_ptz_refuses_without_runtime_or_permission(accounts: Accounts) -> None:
    cam = CameraConfig(id="dome-x", name="Dome", place="Piazza", kind="ptz",  # type: ignore[arg-type]
                       onvif="127.0.0.1:9", username="op")
    hub = StillHub([cam], {cam.id: StreamStatus.OFFLINE})
    app = SignedInApp(context(hub, [cam], accounts=accounts), "sconti")  # administrator
    runtime = _runtime(cam, accounts, "secret")
    try:
        async with app.run_test(size=(150, 42)) as pilot:
            assert not open_ptz(app, cam.id)  # no runtime given, none in the context
            assert not open_ptz(app, cam.id, runtime)  # no ptz permission
            await pilot.pause()
            messages = [str(n.message) for n in app._notifications]
            assert any("not available" in m for m in messages)
            assert any("not allowed to move cameras" in m for m in messages)
            assert not isinstance(app.screen, PtzScreen)
    finally:
        runtime.close()
        GATES.unregister(cam.id)


async def test_a_first_level_supervisor_opens_the_camera_to_level_2_from_the_screen(
    accounts: Accounts,
) -> None:
    """o: a modal asks for minutes; the opening is stored, audited and shown in the lease
    panel; bad input is named and kept; 0 closes. An operator has no such key."""
    from textual.widgets import Input

    from ptz.leases import CAMERA_CLOSED, CAMERA_OPENED
    from registry.roles import Level
    from screens.ptz import OpenCameraModal

    cam = CameraConfig(id="dome-o", name="Dome O", place="Piazza", kind="ptz",  # type: ignore[arg-type]
                       onvif="127.0.0.1:9", username="op")
    hub = StillHub([cam], {cam.id: StreamStatus.OFFLINE})
    runtime = _runtime(cam, accounts, "secret")
    leases = runtime.leases
    try:
        app = SignedInApp(context(hub, [cam], accounts=accounts), "gneri")  # supervisor
        async with app.run_test(size=(150, 42)) as pilot:
            assert open_ptz(app, cam.id, runtime)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PtzScreen)
            assert "o: open to level 2 / close" in _text(screen, "ptz-help")
            assert "Open to level 2" not in _text(screen, "ptz-lease")

            await pilot.press("o")
            await pilot.pause()
            modal = app.screen
            assert isinstance(modal, OpenCameraModal)
            field = modal.query_one("#ptz-open-minutes", Input)
            assert field.value == "60"  # closed now: the default is an hour
            field.value = "tre"
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is modal and field.value == "tre"  # named, kept, nothing done
            assert "minutes: 'tre' is not a whole number" in str(
                modal.query_one("#ptz-open-error").render())
            assert leases.open_until(cam.id) is None

            field.value = "30"
            await pilot.press("enter")
            assert await _until(pilot, lambda: app.screen is screen)
            until = leases.open_until(cam.id)
            assert until is not None and leases.is_open(cam.id, Level.SECOND)
            minutes = (until - leases.clock()).total_seconds() / 60
            assert 29.5 < minutes <= 30
            ptz: PtzScreen = screen
            shown = "Open to level 2 until " + ptz._local(until)  # the site's time
            assert await _until(pilot, lambda: shown in _text(ptz, "ptz-lease")), _text(
                ptz, "ptz-lease")
            assert any("open to second-level control rooms until" in str(n.message)
                       for n in app._notifications)

            await pilot.press("o")  # open now: the modal proposes 0, which closes
            await pilot.pause()
            closing = app.screen
            assert isinstance(closing, OpenCameraModal)
            assert closing.query_one("#ptz-open-minutes", Input).value == "0"
            await pilot.press("enter")
            assert await _until(pilot, lambda: app.screen is screen)
            assert leases.open_until(cam.id) is None
            assert await _until(pilot, lambda: "Open to level 2" not in _text(ptz, "ptz-lease"))
        trail = [(e.actor, e.action) for e in accounts.audit.entries()  # type: ignore[attr-defined]
                 if e.target == cam.id and e.action in (CAMERA_OPENED, CAMERA_CLOSED)]
        assert trail == [("gneri", CAMERA_OPENED), ("gneri", CAMERA_CLOSED)]

        app = SignedInApp(context(hub, [cam], accounts=accounts), "mrossi")  # operator
        async with app.run_test(size=(150, 42)) as pilot:
            assert open_ptz(app, cam.id, runtime)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PtzScreen)
            assert "open to level 2" not in _text(screen, "ptz-help")
            await pilot.press("o")
            await pilot.pause()
            assert app.screen is screen  # no modal: the key is not theirs
            assert leases.open_until(cam.id) is None
    finally:
        runtime.close()
        GATES.unregister(cam.id)
