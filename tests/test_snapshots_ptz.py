"""Snapshots of the PTZ screen and the mask editor, in Italian.

The picture is the demo's still frame (``StillHub``); the PTZ camera's ONVIF address answers
nobody, so its mask state stays "position unknown" and the panel does not depend on timing.
Presets and a tour are stored in a real database. Update with ``--snapshot-update`` after a
deliberate change and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from console_support import SignedInApp, StillHub, add_people, context, open_accounts
from peers import free_port

from cameras.config import CameraConfig
from cameras.hub import StreamHandle
from cameras.masks import GATES, MaskPolygon, MaskSet
from ptz.runtime import PtzRuntime, start_ptz_runtime
from registry.accounts import Accounts
from registry.clock import utc_now
from registry.store_ptz import PtzStore
from screens.mask_editor import MaskEditorScreen
from screens.ptz import PtzScreen

SIZE = (120, 34)
#: the demo's "municipio" picture, as a PTZ camera nobody answers for
DOME = CameraConfig(id="municipio", name="Cam 03 PTZ", place="Piazza del Municipio",
                    kind="ptz", onvif=f"127.0.0.1:{free_port()}", username="op")  # type: ignore[arg-type]
FIXED = CameraConfig(id="piazza", name="Cam 01", place="Piazza Grande",
                     main_url="/nonexistent/piazza.mp4")


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    acc = open_accounts(tmp_path / "data")
    add_people(acc)
    ptz = PtzStore(acc.store)
    now = utc_now()
    for i, name in enumerate(["facciata", "giardini", "ingresso"]):
        pid = ptz.add_preset(DOME.id, name, f"t{i}", (0.2 * i, 0.0, 0.0), "gneri", now)
        ptz.approve_preset(pid, "gneri", now)
    yield acc
    acc.store.close()


@pytest.fixture
def runtime(accounts: Accounts) -> Iterator[PtzRuntime]:
    rt = start_ptz_runtime([DOME, FIXED], accounts.store, accounts.audit,
                           password_for=lambda _id: "x", timezone="UTC")  # fmt: skip
    rt.tours.define(_supervisor(accounts), DOME.id, "giro del municipio",
                    [("facciata", 10), ("giardini", 20)])  # fmt: skip
    yield rt
    rt.close()
    GATES.unregister(DOME.id)
    GATES.unregister(FIXED.id)


def _supervisor(accounts: Accounts):  # type: ignore[no-untyped-def]
    from console_support import password_of

    result = accounts.sign_in("gneri", password_of("gneri"))
    assert result.session is not None
    return result.session


class BlankDomeHub(StillHub):
    """The dome's frames are black, as its gate makes them while the position is unknown."""

    def acquire(self, camera_id: str, which: str, on_frame: Callable[[], None] | None = None
                ) -> StreamHandle:  # fmt: skip
        handle = super().acquire(camera_id, which, on_frame)
        reader = handle.reader
        if camera_id == DOME.id and reader._picture is not None:  # type: ignore[attr-defined]
            reader._picture = np.zeros_like(reader._picture)  # type: ignore[attr-defined]
        return handle


def _app(accounts: Accounts, username: str) -> SignedInApp:
    hub = BlankDomeHub([DOME, FIXED])
    return SignedInApp(context(hub, [DOME, FIXED], accounts=accounts), username)


def test_ptz_screen(snap_compare, accounts: Accounts, runtime: PtzRuntime) -> None:  # type: ignore[no-untyped-def]
    app = _app(accounts, "mrossi")

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app.push_screen(PtzScreen(app.context, runtime, DOME.id))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_mask_editor(snap_compare, accounts: Accounts, runtime: PtzRuntime) -> None:  # type: ignore[no-untyped-def]
    runtime.presets.set_fixed_masks(_supervisor(accounts), FIXED.id, MaskSet((
        MaskPolygon.rectangle(0.62, 0.18, 0.8, 0.4),)))  # fmt: skip
    app = _app(accounts, "gneri")

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app.push_screen(MaskEditorScreen(app.context, runtime, FIXED.id,
                                         hub=StillHub([FIXED])))  # fmt: skip
        await pilot.pause(0.2)
        # a triangle being drawn, the saved rectangle selected
        await pilot.press("shift+left", "shift+left", "shift+left", "v", "shift+down",
                          "shift+down", "v", "shift+left", "tab")  # fmt: skip
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
