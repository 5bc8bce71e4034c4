"""PTZ over ONVIF against the real ipycam peer (its PTZ is a digital crop)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import IpycamPeer, free_port
from test_ptz_support import (
    actions,
    audit_trail,
    camera_for,
    control_for,
    open_store,
    operator,
    supervisor,
    watcher,
)

from cameras.config import CameraConfig
from cameras.device import OnvifDevice
from cameras.errors import CameraAuthError, CameraUnreachable, CameraUnsupported
from ptz.control import SPEED_STEPS, Direction, PtzControl, PtzError, PtzPosition
from registry.audit import AuditTrail
from registry.roles import PermissionDenied
from registry.store import Store

pytestmark = pytest.mark.peers

HOME = PtzPosition(0.0, 0.0, 0.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


@pytest.fixture
def audit(store: Store) -> AuditTrail:
    return audit_trail(store)


class Listener:
    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []
        self.failed: list[str] = []

    def command_sent(self, what: str) -> None:
        self.sent.append((time.monotonic(), what))

    def command_failed(self, what: str) -> None:
        self.failed.append(what)


async def _home(ctl: PtzControl) -> None:
    await ctl.home(supervisor())
    for _ in range(30):
        st = await ctl.status()
        if st.position is not None and st.position.near(HOME) and not st.moving:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("camera did not go home")


async def test_status_pulse_move_stops_by_itself(ipycam_window: IpycamPeer,
                                                 audit: AuditTrail) -> None:
    listener = Listener()
    ctl = control_for(ipycam_window, audit, listener=listener, pulse_s=0.3)
    try:
        await _home(ctl)
        t0 = time.monotonic()
        await ctl.move(operator(), Direction.RIGHT)
        assert listener.sent[-1][1] == "right" and listener.sent[-1][0] >= t0
        moving = await ctl.status()
        assert moving.moving
        await asyncio.sleep(0.8)
        st = await ctl.status()
        assert not st.moving, "the pulse did not stop the camera"
        assert st.position is not None and st.position.pan > 0.05
        # speed 0.5 for ~0.3 s: about 0.15 (generous bounds for a busy machine)
        assert st.position.pan < 0.6
        await asyncio.sleep(0.4)
        later = await ctl.status()
        assert later.position == st.position  # really stopped
        moves = [e for e in actions(audit, "dome") if e.action == "ptz.move"]
        assert moves and moves[0].actor == "bianchi"
        assert moves[0].details == {"direction": "right", "speed": "0.5"}
    finally:
        await ctl.close()


async def test_held_key_extends_one_pulse_smoothly(ipycam_window: IpycamPeer,
                                                   audit: AuditTrail) -> None:
    ctl = control_for(ipycam_window, audit, pulse_s=0.3)
    try:
        await _home(ctl)
        ctl.slower()  # 0.25
        start = time.monotonic()
        for _ in range(10):  # key auto-repeat at ~30 Hz for ~1 s
            await ctl.move(operator(), Direction.UP)
            await asyncio.sleep(0.1)
            st = await ctl.status()
            assert st.moving, "the camera stopped between repeats"
        held = time.monotonic() - start
        await asyncio.sleep(0.7)
        st = await ctl.status()
        assert not st.moving
        assert st.position is not None
        # moved all the time the key was held (plus the last pulse), at 0.25/s
        assert st.position.tilt == pytest.approx(0.25 * (held + 0.3), abs=0.12)
        moves = [e for e in actions(audit, "dome") if e.action == "ptz.move"]
        assert len(moves) == 1, "a held key sends one command, not one per repeat"
    finally:
        await ctl.close()


async def test_zoom_speed_steps_stop_and_home(ipycam_window: IpycamPeer,
                                              audit: AuditTrail) -> None:
    ctl = control_for(ipycam_window, audit, pulse_s=5.0)
    try:
        await _home(ctl)
        assert ctl.speed == SPEED_STEPS[2]
        for _ in range(10):
            ctl.faster()
        assert ctl.speed == SPEED_STEPS[-1]
        for _ in range(10):
            ctl.slower()
        assert ctl.speed == SPEED_STEPS[0]
        ctl.faster()
        ctl.faster()
        await ctl.move(operator(), Direction.ZOOM_IN)
        await asyncio.sleep(0.4)
        await ctl.stop(operator())  # explicit stop well before the 5 s pulse
        st = await ctl.status()
        assert not st.moving and st.position is not None and st.position.zoom > 0.1
        zoomed = st.position.zoom
        await ctl.move(operator(), Direction.ZOOM_OUT)
        await asyncio.sleep(0.2)
        await ctl.stop(operator())
        st = await ctl.status()
        assert st.position is not None and st.position.zoom < zoomed
        await ctl.home(operator())
        st = await ctl.status()
        assert st.position is not None and st.position.near(HOME)
        kinds = [e.action for e in actions(audit, "dome")]
        assert kinds.count("ptz.zoom") == 2 and kinds.count("ptz.stop") == 2
        assert "ptz.home" in kinds
    finally:
        await ctl.close()


async def test_anonymous_camera_refuses_zoom_in(ipycam_window: IpycamPeer,
                                                audit: AuditTrail) -> None:
    cam = camera_for(ipycam_window, "traffico", anonymous=True)
    ctl = control_for(ipycam_window, audit, camera=cam, pulse_s=0.2)
    try:
        await _home(ctl)
        with pytest.raises(PtzError, match="traffic camera"):
            await ctl.move(operator(), Direction.ZOOM_IN)
        st = await ctl.status()
        assert st.position is not None and st.position.zoom == 0.0 and not st.moving
        refused = [e for e in actions(audit, "traffico") if e.action == "ptz.refused"]
        assert refused and refused[0].details["rule"] == "anonymous"
        await ctl.move(operator(), Direction.LEFT)  # other moves are fine (R5 is about zoom)
        await asyncio.sleep(0.4)
    finally:
        await ctl.close()


async def test_commands_need_the_permission_and_refusals_are_audited(
    ipycam_window: IpycamPeer, audit: AuditTrail
) -> None:
    ctl = control_for(ipycam_window, audit)
    try:
        with pytest.raises(PermissionDenied):
            await ctl.move(watcher(), Direction.LEFT)
        with pytest.raises(PermissionDenied):
            await ctl.set_preset(operator(), "nope")  # operators may not define presets
        refused = [e for e in actions(audit) if e.action == "permission_refused"]
        assert [(e.actor, e.details["permission"]) for e in refused] == [
            ("verdi", "ptz"), ("bianchi", "define_presets")]
    finally:
        await ctl.close()


async def test_set_preset_keeps_the_token_the_device_returns_and_goto_verifies(
    ipycam_window: IpycamPeer, audit: AuditTrail
) -> None:
    ctl = control_for(ipycam_window, audit)
    boss = supervisor()
    try:
        await _home(ctl)
        target = PtzPosition(0.4, -0.2, 0.5)
        await ctl.move_to(boss, target)
        saved = await ctl.set_preset(boss, "fontana")
        # ipycam ignores any requested token and makes its own
        assert saved.token.startswith("preset_") and saved.token != "fontana"
        assert saved.position is not None and saved.position.near(target)
        on_device = {p.token: p for p in await ctl.presets()}
        assert saved.token in on_device and on_device[saved.token].name == "fontana"
        assert "home" in on_device
        await _home(ctl)
        st = await ctl.goto_preset(operator(), saved.token, saved.position, label="fontana")
        assert st.position is not None and st.position.near(target)
        goto = [e for e in actions(audit, "dome") if e.action == "ptz.goto_preset"][-1]
        assert goto.details == {"token": saved.token, "preset": "fontana"}
        # a token the device does not know: it reports success, we do not believe it
        await _home(ctl)
        with pytest.raises(PtzError, match="did not reach preset"):
            await ctl.goto_preset(operator(), "preset_00000000", target, label="x",
                                  verify_s=0.5)
    finally:
        await ctl.close()


async def test_unsupported_operation_is_reported_as_such(ipycam_window: IpycamPeer,
                                                         audit: AuditTrail) -> None:
    ctl = control_for(ipycam_window, audit)
    try:
        with pytest.raises(CameraUnsupported, match="does not support RemovePreset"):
            await ctl.remove_preset(supervisor(), "home")
    finally:
        await ctl.close()


async def test_wrong_password_is_an_auth_error_not_offline(ipycam_window: IpycamPeer,
                                                           audit: AuditTrail) -> None:
    listener = Listener()
    ctl = control_for(ipycam_window, audit, password="wrong", listener=listener)
    try:
        with pytest.raises(CameraAuthError):
            await ctl.status()
        with pytest.raises(CameraAuthError):
            await ctl.move(operator(), Direction.LEFT)
    finally:
        await ctl.close()


async def test_offline_camera_is_unreachable(audit: AuditTrail) -> None:
    port = free_port()  # nobody listens here
    cam = CameraConfig(id="spenta", name="Spenta", place="P", kind="ptz",
                       onvif=f"127.0.0.1:{port}", username="op")
    device = OnvifDevice(cam.id, f"127.0.0.1:{port}", "op", "secret", timeout_s=2.0)
    listener = Listener()
    ctl = PtzControl(cam, device, audit, listener=listener)
    try:
        with pytest.raises(CameraUnreachable):
            await ctl.status()
        with pytest.raises(CameraUnreachable):
            await ctl.home(operator())
        assert listener.failed == ["home"]  # the state machine is told: position unknown
    finally:
        await ctl.close()


async def test_frozen_camera_times_out_as_offline(ipycam_window: IpycamPeer,
                                                  audit: AuditTrail) -> None:
    ctl = control_for(ipycam_window, audit)
    try:
        await ctl.status()
        ipycam_window.freeze()
        t0 = time.monotonic()
        with pytest.raises(CameraUnreachable):
            await ctl.status()
        assert time.monotonic() - t0 < 6
    finally:
        ipycam_window.thaw()
        await ctl.close()
