"""Pilot tests of the keyboard mask editor on a real database (and ipycam for a PTZ camera)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import SignedInApp, StillHub, accounts_with_people, context
from peers import IpycamPeer
from test_ptz_support import camera_for, control_for, supervisor

from cameras.config import CameraConfig
from cameras.masks import GATES, MaskPolygon, MaskSet
from cameras.stream import StreamStatus
from ptz.control import PtzPosition
from ptz.maskstate import MaskStateKind
from ptz.presets import PresetBook
from ptz.runtime import start_ptz_runtime
from registry.accounts import Accounts
from registry.store_ptz import PtzStore
from screens.mask_editor import EDITOR_OPENED, MaskEditorScreen, open_mask_editor
from screens.widgets.mask_canvas import MaskCanvas

FIXED = CameraConfig(id="piazza", name="Cam 01", place="Piazza Grande",
                     main_url="/nonexistent/piazza.mp4")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path / "data")


async def test_draw_a_rectangle_by_keys_and_save_it(accounts: Accounts) -> None:
    runtime = start_ptz_runtime([FIXED], accounts.store, accounts.audit,
                                password_for=lambda _id: None)  # fmt: skip
    app = SignedInApp(context(StillHub([FIXED]), [FIXED], accounts=accounts), "gneri")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            app.push_screen(MaskEditorScreen(app.context, runtime, FIXED.id,
                                             hub=StillHub([FIXED])))  # fmt: skip
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, MaskEditorScreen)
            # cursor from the centre to (0.40, 0.40): one big step is 0.05
            await pilot.press("shift+left", "shift+left", "shift+up", "shift+up")
            assert screen.cursor == (0.4, 0.4)
            await pilot.press("r")
            await pilot.press(*["shift+right"] * 4, "shift+down", "down", "down")
            assert screen.cursor == (0.6, 0.47)
            await pilot.press("r")
            assert [p.points for p in screen.polygons] == [
                ((0.4, 0.4), (0.6, 0.4), (0.6, 0.47), (0.4, 0.47))]
            assert screen.dirty
            # a triangle by vertices, then deleted again
            await pilot.press("v", "shift+right", "v", "shift+down", "v", "enter")
            assert len(screen.polygons) == 2
            await pilot.press("delete")
            assert len(screen.polygons) == 1
            # the overlay is drawn over the live picture
            canvas = screen.query_one(MaskCanvas)
            assert canvas.overlay.polygons == [screen.polygons[0].points]
            assert canvas.painted_frames > 0
            await pilot.press("s")
            await pilot.pause()
            assert not screen.dirty
            saved = runtime.presets.fixed_masks(FIXED.id)
            assert saved == MaskSet((MaskPolygon.rectangle(0.4, 0.4, 0.6, 0.47),))
            # the fixed camera's gate follows at once (PresetBook.on_change -> reload)
            gate = GATES.get(FIXED.id)
            assert gate is not None and gate.decision().masks == saved  # type: ignore[union-attr]
            # a bad polygon is refused on screen, nothing lost
            await pilot.press("v", "v")
            assert "There is already a vertex here" in [
                str(n.message) for n in app._notifications]
            await pilot.press("enter")  # one vertex only: not a polygon
            assert screen.errors and "at least 3 points" in screen.errors[-1]
            assert len(screen.polygons) == 1
            # move the saved rectangle: m, arrows; Escape asks before discarding
            await pilot.press("tab", "m", "shift+right", "enter")
            assert screen.polygons[0].points[0] == (0.45, 0.4)
            await pilot.press("escape")
            assert isinstance(app.screen, MaskEditorScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, MaskEditorScreen)
        assert runtime.presets.fixed_masks(FIXED.id) == saved  # the unsaved move is dropped
        entries = [e for e in accounts.audit.entries() if e.target == FIXED.id]  # type: ignore[attr-defined]
        assert [e.action for e in entries] == [EDITOR_OPENED, "masks.changed"]
        assert entries[-1].actor == "gneri"
        assert entries[-1].details["masks"] == saved.dumps()
    finally:
        runtime.close()
        GATES.unregister(FIXED.id)


async def test_only_the_supervisor_opens_the_editor(accounts: Accounts) -> None:
    runtime = start_ptz_runtime([FIXED], accounts.store, accounts.audit,
                                password_for=lambda _id: None)  # fmt: skip
    app = SignedInApp(context(StillHub([FIXED]), [FIXED], accounts=accounts), "mrossi")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert not open_mask_editor(app, FIXED.id, runtime)
            await pilot.pause()
            assert not isinstance(app.screen, MaskEditorScreen)
    finally:
        runtime.close()
        GATES.unregister(FIXED.id)


@pytest.mark.peers
async def test_ptz_view_save_as_preset_and_its_masks(
    ipycam_window: IpycamPeer, accounts: Accounts
) -> None:
    """The supervisor moves the camera, saves the view as an approved preset, masks it."""
    cam = camera_for(ipycam_window, "editor-dome")
    probe = control_for(ipycam_window, accounts.audit, camera=cam)  # type: ignore[arg-type]
    await probe.move_to(supervisor(), PtzPosition(0.3, 0.2, 0.3))
    await probe.close()
    runtime = start_ptz_runtime([cam], accounts.store, accounts.audit,
                                password_for=lambda _id: ipycam_window.password, poll_s=0.1)
    hub = StillHub([FIXED, cam], {cam.id: StreamStatus.OFFLINE})
    app = SignedInApp(context(hub, [FIXED, cam], accounts=accounts), "gneri")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            app.push_screen(MaskEditorScreen(app.context, runtime, cam.id))
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, MaskEditorScreen)
            assert screen.views == []
            await pilot.press("a")
            await pilot.pause()
            await pilot.press(*"torre", "enter")
            for _ in range(100):
                await pilot.pause(0.1)
                if screen.views:
                    break
            assert screen.view is not None and screen.view.name == "torre"
            assert screen.view.approved
            # the picture is unmasked for the editor only at the preset being edited
            machine = runtime.machines[cam.id]
            for _ in range(60):
                await pilot.pause(0.1)
                if machine.state.kind is MaskStateKind.AT_PRESET:
                    break
            assert machine.state.preset_name == "torre"
            assert screen.gate.decision().masks == MaskSet()  # type: ignore[union-attr]
            await pilot.press("r", *["shift+right"] * 3, *["shift+down"] * 2, "r", "s")
            await pilot.pause()
            stored = PresetBook(PtzStore(accounts.store), accounts.audit).named(cam.id, "torre")  # type: ignore[arg-type]
            assert stored.masks == MaskSet((MaskPolygon.rectangle(0.5, 0.5, 0.65, 0.6),))
            # the console's own gate shows the preset with its masks; the camera moves: blank
            await pilot.press("l")
            for _ in range(30):
                await pilot.pause(0.05)
                if machine.state.kind is MaskStateKind.MOVING:
                    break
            assert screen.gate.decision().reason.value == "moving"  # type: ignore[union-attr]
            assert screen.errors == []
    finally:
        runtime.close()
        GATES.unregister(cam.id)
        home = control_for(ipycam_window, accounts.audit, camera=cam)  # type: ignore[arg-type]
        await home.home(supervisor())
        await home.close()
    actions = [e.action for e in accounts.audit.entries() if e.target == cam.id]  # type: ignore[attr-defined]
    assert {"preset.defined", "preset.approved", "masks.changed"} <= set(actions)
    await asyncio.sleep(0)
