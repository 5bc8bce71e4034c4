"""Tours (R7): defined over approved presets, run by the recorder service with no console.

The end-to-end test runs a real :class:`RecorderService` (its own database connection) on
the ipycam window peer; a "console" (a second connection) asks for the tour, watches the
frames the UI path delivers (no window colour ever), then drives the camera by hand: the tour
pauses while the console holds the lease and resumes after it lapses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import WINDOW_RECT, IpycamPeer, wait_until
from test_leases import add_person
from test_ptz_privacy import TILE, Tally
from test_ptz_support import (
    audit_trail,
    camera_for,
    control_for,
    open_store,
    operator,
    supervisor,
    watcher,
)

from cameras.config import StreamSettings
from cameras.hub import StreamHub
from cameras.masks import GATES, MaskPolygon, MaskSet
from footage.service import RecorderService
from ptz.control import Direction, PtzPosition
from ptz.leases import LeaseBook
from ptz.maskstate import MaskStateKind
from ptz.presets import PresetBook
from ptz.tours import (
    TOUR_DEFINED,
    TOUR_PAUSED,
    TOUR_RESUMED,
    TOUR_START_REQUESTED,
    TOUR_STARTED,
    TOUR_STOPPED,
    TourBook,
    TourError,
)
from registry.audit import AuditTrail
from registry.clock import utc_now
from registry.roles import Level, PermissionDenied
from registry.store import Store
from registry.store_footage import FootageStore
from registry.store_ptz import PtzControlStore, PtzStore

WINDOW_VIEW = PtzPosition(0.5, 0.6, 0.5)
SQUARE_VIEW = PtzPosition(-0.8, -0.8, 0.6)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


def _book(store: Store, audit: AuditTrail) -> tuple[PresetBook, TourBook]:
    presets = PresetBook(PtzStore(store), audit)
    return presets, TourBook(PtzControlStore(store), presets, audit)


def _stored_presets(store: Store, names: list[str], *, approve: list[str]) -> None:
    ptz = PtzStore(store)
    for i, name in enumerate(names):
        pid = ptz.add_preset("dome", name, f"t{i}", (0.1 * i, 0.0, 0.0), "rossi", utc_now())
        if name in approve:
            ptz.approve_preset(pid, "rossi", utc_now())


def test_a_tour_visits_approved_presets_only_and_every_error_names_its_field(
    store: Store,
) -> None:
    audit = audit_trail(store)
    _, tours = _book(store, audit)
    _stored_presets(store, ["nord", "sud", "bozza"], approve=["nord", "sud"])
    with pytest.raises(PermissionDenied):
        tours.define(operator(), "dome", "giro", [("nord", 5), ("sud", 5)])
    with pytest.raises(TourError, match=r"stops\[1\]: bozza is not an approved preset"):
        tours.define(supervisor(), "dome", "giro", [("nord", 5), ("bozza", 5)])
    with pytest.raises(TourError, match=r"stops\[0\].dwell_s: 0.5 is not between"):
        tours.define(supervisor(), "dome", "giro", [("nord", 0.5), ("sud", 5)])
    with pytest.raises(TourError, match="stops: a tour visits 2"):
        tours.define(supervisor(), "dome", "giro", [("nord", 5)])
    with pytest.raises(TourError, match="name: a tour needs a name"):
        tours.define(supervisor(), "dome", " ", [("nord", 5), ("sud", 5)])
    assert tours.tours("dome") == []  # nothing half-made
    tour = tours.define(supervisor(), "dome", "giro", [("nord", 5), ("sud", 8)])
    assert [(s.preset_name, s.dwell_s) for s in tour.stops] == [("nord", 5.0), ("sud", 8.0)]
    with pytest.raises(TourError, match="already has a tour named giro"):
        tours.define(supervisor(), "dome", "giro", [("nord", 5), ("sud", 5)])
    defined = [e for e in audit.entries() if e.action == TOUR_DEFINED]
    assert [(e.actor, e.details["stops"]) for e in defined] == [("rossi", "nord:5s, sud:8s")]
    # operators start and stop (a request for the recorder service); watchers may not
    with pytest.raises(PermissionDenied):
        tours.request_start(watcher(), "dome", tour.id)
    command = tours.request_start(operator(), "dome", tour.id)
    assert [c.id for c in tours.pending("dome")] == [command]
    assert [e.action for e in audit.entries()][-1] == TOUR_START_REQUESTED


@pytest.mark.peers
async def test_tour_runs_in_the_recorder_with_no_console_blank_in_transit_and_pauses_for_a_manual_command(  # noqa: E501
    ipycam_window: IpycamPeer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    console_store = Store.open(data)
    service_store = Store.open(data)
    console_audit = AuditTrail(console_store, b"k" * 32)
    service_audit = AuditTrail(service_store, b"k" * 32)
    cam = camera_for(ipycam_window, "tour-dome", record=False)
    presets, tours = _book(console_store, console_audit)
    boss = supervisor()
    ctl = control_for(ipycam_window, console_audit, camera=cam)
    # The responsabile defines three presets; the window is masked where it can be seen.
    await ctl.home(boss)
    piazza = await presets.define(boss, ctl, "piazza", approve=True)
    x0, y0, x1, y1 = WINDOW_RECT
    presets.set_masks(boss, piazza.id, MaskSet((MaskPolygon.rectangle(
        x0 - 0.02, y0 - 0.02, x1 + 0.02, y1 + 0.02),)))  # fmt: skip
    await ctl.move_to(boss, WINDOW_VIEW)
    await asyncio.sleep(0.3)
    facciata = await presets.define(boss, ctl, "facciata", approve=True)
    presets.set_masks(boss, facciata.id, MaskSet((MaskPolygon.of(
        [(0.38, 0.10), (0.92, 0.10), (0.92, 0.76), (0.38, 0.76)]),)))  # fmt: skip
    await ctl.move_to(boss, SQUARE_VIEW)
    await asyncio.sleep(0.3)
    await presets.define(boss, ctl, "giardini", approve=True)
    await ctl.close()
    tour = tours.define(boss, cam.id, "giro", [("piazza", 1.5), ("facciata", 1.5),
                                                ("giardini", 1.5)])  # fmt: skip

    service = RecorderService(
        data / "footage", [cam], FootageStore(service_store), service_audit,
        password_for=lambda _id: ipycam_window.password,
        ptz_options={"poll_s": 0.1, "refresh_s": 1.0},
    )
    service.start()
    hub: StreamHub | None = None
    handle = None
    tally = Tally()
    try:
        assert service.ptz is not None and service.ptz.runner is not None
        runner = service.ptz.runner
        machine = service.ptz.machines[cam.id]
        # what a console would show: the frames of the UI path, checked one by one
        hub = StreamHub([cam], StreamSettings(), password_for=lambda _id: ipycam_window.password)
        holder: dict[str, object] = {}

        def on_frame() -> None:
            reader = holder.get("reader")
            frame = reader.latest() if reader is not None else None  # type: ignore[attr-defined]
            if frame is not None:
                tally.state = str(machine.state.kind)
                tally.check(frame)

        handle = hub.acquire(cam.id, "sub", on_frame=on_frame)
        holder["reader"] = handle.reader
        handle.reader.set_target_size(*TILE)

        # the console asks; the service (no console involved from here) runs the tour
        tours.request_start(operator(), cam.id, tour.id)
        assert await asyncio.to_thread(wait_until, lambda: tours.run(cam.id) is not None, 5)
        seen: set[str] = set()
        kinds: set[MaskStateKind] = set()

        def visited_all() -> bool:
            s = machine.state
            kinds.add(s.kind)
            if s.kind is MaskStateKind.AT_PRESET and s.preset_name:
                seen.add(s.preset_name)
            return seen == {"piazza", "facciata", "giardini"} and runner.steps[cam.id] >= 4

        assert await asyncio.to_thread(wait_until, visited_all, 40), (seen, machine.state)
        assert MaskStateKind.MOVING in kinds
        run = tours.run(cam.id)
        assert run is not None and run.tour.name == "giro" and run.state == "running"

        # a manual command from a console pauses the tour while the lease is held
        people_store = console_store
        op = add_person(people_store, "bianchi2", "Bruno Bianchi", "operatore", Level.FIRST)
        leases = LeaseBook(PtzControlStore(console_store), console_audit, idle_s=2.5)
        manual = control_for(ipycam_window, console_audit, camera=cam, leases=leases)
        try:
            await manual.move(op, Direction.LEFT)
        finally:
            await manual.close()
        assert await asyncio.to_thread(
            wait_until, lambda: (r := tours.run(cam.id)) is not None and r.paused, 3)
        steps = runner.steps[cam.id]
        await asyncio.sleep(1.5)
        assert runner.steps[cam.id] == steps, "the tour moved the camera during a manual command"
        paused = tours.run(cam.id)
        assert paused is not None and paused.detail == "bianchi2"
        # the lease lapses: the tour goes on by itself
        assert await asyncio.to_thread(wait_until, lambda: runner.steps[cam.id] > steps, 10)
        assert await asyncio.to_thread(
            wait_until, lambda: (r := tours.run(cam.id)) is not None and not r.paused, 3)

        tours.request_stop(operator(), cam.id)
        assert await asyncio.to_thread(wait_until, lambda: tours.run(cam.id) is None, 5)
        stopped_at = runner.steps[cam.id]
        await asyncio.sleep(2.0)
        assert runner.steps[cam.id] == stopped_at
    finally:
        if hub is not None:
            if handle is not None:
                hub.release(handle)
            hub.close()
        service.stop()
        GATES.unregister(cam.id)
        home = control_for(ipycam_window, console_audit, camera=cam)
        await home.home(boss)
        await home.close()
        console_store.close()
        service_store.close()

    with tally.lock:
        assert tally.leaks == [], f"window pixels reached the consumer: {tally.leaks[:5]}"
        assert tally.dirty_blanks == 0
        assert tally.by_reason.get("shown", 0) >= 20, tally.by_reason
        assert tally.by_reason.get("moving", 0) >= 3, tally.by_reason
    actions = [(e.actor, e.action) for e in AuditTrail(Store.open(data), b"k" * 32).entries()
               if e.action.startswith("tour.")]
    assert ("bianchi", TOUR_STARTED) in actions and ("bianchi", TOUR_STOPPED) in actions
    assert ("system", TOUR_PAUSED) in actions and ("system", TOUR_RESUMED) in actions
    # tour steps are not audited one by one
    with Store.open(data) as s:
        gotos = [e for e in AuditTrail(s, b"k" * 32).entries()
                 if e.action == "ptz.goto_preset" and e.actor == "system"]
        states = {r.state for r in PtzStore(s).mask_states(cam.id)}
    assert gotos == []
    assert {"moving", "at_preset"} <= states  # the recorder wrote the timeline

