"""The mask state machine: commands, polls, settle time, presets, restarts, the timeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from peers import IpycamPeer, wait_until
from test_ptz_support import T0, audit_trail, control_for, open_store, operator, supervisor

from cameras.errors import CameraUnreachable
from cameras.masks import NO_MASKS, Blank, BlankReason, MaskGate, MaskPolygon, MaskSet, Show
from ptz.control import Direction, PtzPosition, PtzStatus
from ptz.maskstate import MaskStateKind, MaskStateMachine, MaskStateWatcher, record_to
from ptz.presets import Preset, PresetBook
from registry.store import Store
from registry.store_ptz import PtzStore

NORD = Preset(id=1, camera_id="dome", name="nord", token="t1",
              position=PtzPosition(0.4, -0.2, 0.5),
              masks=MaskSet((MaskPolygon.rectangle(0.1, 0.1, 0.3, 0.3),)),
              defined_by="rossi", defined_at=T0, approved_by="rossi", approved_at=T0)
SUD = Preset(id=2, camera_id="dome", name="sud", token="t2",
             position=PtzPosition(-0.5, 0.0, 0.0), masks=NO_MASKS,
             defined_by="rossi", defined_at=T0, approved_by="rossi", approved_at=T0)
PENDING = Preset(id=3, camera_id="dome", name="ovest", token="t3",
                 position=PtzPosition(0.9, 0.9, 0.9), masks=NO_MASKS,
                 defined_by="rossi", defined_at=T0)


class Clocks:
    """Monotonic and wall clocks under the test's control."""

    def __init__(self) -> None:
        self.t = 100.0

    def mono(self) -> float:
        return self.t

    def wall(self):  # type: ignore[no-untyped-def]
        return T0 + timedelta(seconds=self.t)


def idle(p: PtzPosition) -> PtzStatus:
    return PtzStatus(p, moving=False)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def machine(clocks: Clocks, **kw: object) -> tuple[MaskStateMachine, MaskGate, list]:  # type: ignore[type-arg]
    gate = MaskGate.ptz("dome")
    log: list = []  # type: ignore[type-arg]
    m = MaskStateMachine("dome", gate, [NORD, SUD, PENDING], settle_s=1.0,
                         recorder=lambda s, d: log.append((s.kind, s.preset_name, d)),
                         clock=clocks.wall, monotonic=clocks.mono, **kw)  # type: ignore[arg-type]
    return m, gate, log


def test_starts_unknown_and_blank_then_shows_only_after_settling(clocks: Clocks) -> None:
    m, gate, log = machine(clocks)
    assert m.state.kind is MaskStateKind.UNKNOWN
    assert gate.decision() == Blank(BlankReason.UNKNOWN)
    m.observe(idle(NORD.position))
    assert gate.decision() == Blank(BlankReason.UNKNOWN)  # one answer is not enough
    clocks.t += 0.5
    m.observe(idle(NORD.position))
    assert m.state.kind is MaskStateKind.UNKNOWN
    clocks.t += 0.6
    m.observe(idle(NORD.position))
    assert m.state.kind is MaskStateKind.AT_PRESET and m.state.preset == NORD
    assert gate.decision() == Show(NORD.masks)
    assert [(k, p) for k, p, _ in log] == [(MaskStateKind.UNKNOWN, None),
                                           (MaskStateKind.AT_PRESET, "nord")]


def _settle_at(m: MaskStateMachine, clocks: Clocks, p: PtzPosition) -> None:
    m.observe(idle(p))
    clocks.t += 1.1
    m.observe(idle(p))


def test_command_blanks_before_it_is_sent_and_old_answers_are_ignored(clocks: Clocks) -> None:
    m, gate, _ = machine(clocks)
    _settle_at(m, clocks, NORD.position)
    asked = clocks.t
    clocks.t += 0.05
    m.command_sent("right")
    assert gate.decision() == Blank(BlankReason.MOVING)
    # the answer to a poll sent before the command still says "at nord": ignored
    clocks.t += 0.1
    m.observe(idle(NORD.position), asked_at=asked)
    assert gate.decision() == Blank(BlankReason.MOVING)
    # even a fresh "idle at nord" waits the settle time after the command
    m.observe(idle(NORD.position))
    assert m.state.kind is MaskStateKind.MOVING
    clocks.t += 1.0
    m.observe(idle(NORD.position))
    assert m.state.kind is MaskStateKind.AT_PRESET


def test_moving_then_off_preset_blank_or_shown_when_allowed(clocks: Clocks) -> None:
    for allow, expected in ((False, Blank(BlankReason.OFF_PRESET)), (True, Show(NO_MASKS))):
        m, gate, _ = machine(clocks, allow_off_preset=allow)
        m.command_sent("left")
        m.observe(PtzStatus(PtzPosition(0.1, 0.1, 0.1), moving=True))
        assert gate.decision() == Blank(BlankReason.MOVING)
        _settle_at(m, clocks, PtzPosition(0.2, 0.1, 0.1))
        assert m.state.kind is MaskStateKind.OFF_PRESET
        assert gate.decision() == expected


def test_tolerance_and_pending_presets(clocks: Clocks) -> None:
    m, _, _ = machine(clocks, tolerance=0.01)
    _settle_at(m, clocks, PtzPosition(0.405, -0.195, 0.5))
    assert m.state.preset == NORD  # within tolerance
    m.command_sent("x")
    clocks.t += 1
    _settle_at(m, clocks, PtzPosition(0.42, -0.2, 0.5))
    assert m.state.kind is MaskStateKind.OFF_PRESET  # 0.02 away
    m.command_sent("x")
    clocks.t += 1
    _settle_at(m, clocks, PENDING.position)
    assert m.state.kind is MaskStateKind.OFF_PRESET  # not approved: not a preset


def test_position_changed_under_a_shown_state_blanks_at_once(clocks: Clocks) -> None:
    m, gate, _ = machine(clocks)
    _settle_at(m, clocks, SUD.position)
    assert gate.decision() == Show(NO_MASKS)
    clocks.t += 0.25
    m.observe(idle(NORD.position))  # someone else moved it between two polls
    assert gate.decision() == Blank(BlankReason.MOVING)
    clocks.t += 1.1
    m.observe(idle(NORD.position))
    assert m.state.preset == NORD


def test_errors_and_missing_positions_are_unknown(clocks: Clocks) -> None:
    m, gate, _ = machine(clocks)
    _settle_at(m, clocks, NORD.position)
    m.observe_error(CameraUnreachable("gone"))
    assert gate.decision() == Blank(BlankReason.UNKNOWN)
    _settle_at(m, clocks, NORD.position)
    m.observe(PtzStatus(None, moving=False))
    assert m.state.kind is MaskStateKind.UNKNOWN
    _settle_at(m, clocks, NORD.position)
    m.observe(PtzStatus(NORD.position, moving=False, error="motor fault"))
    assert m.state.kind is MaskStateKind.UNKNOWN and m.state.detail == "motor fault"
    _settle_at(m, clocks, NORD.position)
    m.command_failed("left")
    assert gate.decision() == Blank(BlankReason.UNKNOWN)


def test_new_presets_blank_until_decided_again(clocks: Clocks) -> None:
    m, gate, _ = machine(clocks)
    _settle_at(m, clocks, NORD.position)
    changed = Preset(**{**NORD.__dict__, "masks": MaskSet((MaskPolygon.rectangle(0, 0, 1, 0.5),))})
    m.set_presets([changed, SUD])
    assert gate.decision() == Blank(BlankReason.UNKNOWN)
    _settle_at(m, clocks, NORD.position)
    assert gate.decision() == Show(changed.masks)


# ------------------------------------------------------------------ timeline in the store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


def test_timeline_records_each_state_with_the_masks_in_force(clocks: Clocks,
                                                             store: Store) -> None:
    ptz = PtzStore(store)
    pos = NORD.position
    nord_id = ptz.add_preset("dome", "nord", "t1", (pos.pan, pos.tilt, pos.zoom), "rossi", T0,
                             masks=NORD.masks.dumps())
    nord = Preset(**{**NORD.__dict__, "id": nord_id})
    gate = MaskGate.ptz("dome")
    m = MaskStateMachine("dome", gate, [nord], settle_s=1.0,
                         recorder=record_to(ptz, "dome"), clock=clocks.wall,
                         monotonic=clocks.mono)  # fmt: skip
    _settle_at(m, clocks, NORD.position)
    t_shown = clocks.wall()
    clocks.t += 5
    m.command_sent("left")
    rows = ptz.mask_states("dome")
    assert [(r.state, r.shown) for r in rows] == [
        ("unknown", False), ("at_preset", True), ("moving", False)]
    assert MaskSet.loads(rows[1].masks) == NORD.masks and rows[1].preset_id == nord_id
    at = ptz.mask_state_at("dome", t_shown + timedelta(seconds=2))
    assert at is not None and at.state == "at_preset"
    assert ptz.mask_state_at("dome", clocks.wall()).state == "moving"  # type: ignore[union-attr]
    assert ptz.mask_state_at("dome", T0) is None  # before anything was known


def test_a_state_the_timeline_cannot_store_is_not_shown(clocks: Clocks, store: Store) -> None:
    # NORD (id 1) is not in this database: the timeline row fails its foreign key
    m = MaskStateMachine("dome", MaskGate.ptz("dome"), [NORD], settle_s=1.0,
                         recorder=record_to(PtzStore(store), "dome"), clock=clocks.wall,
                         monotonic=clocks.mono)  # fmt: skip
    _settle_at(m, clocks, NORD.position)
    assert m.record_failures == 1
    assert m.gate.decision() == Blank(BlankReason.UNKNOWN)


# ------------------------------------------------------------------ against ipycam


@pytest.mark.peers
async def test_watcher_follows_the_real_camera_through_moves_presets_and_a_restart(
    ipycam_window: IpycamPeer, store: Store
) -> None:
    audit = audit_trail(store)
    ptz = PtzStore(store)
    book = PresetBook(ptz, audit)
    ctl = control_for(ipycam_window, audit, pulse_s=0.3)
    gate = MaskGate.ptz("dome")
    m = MaskStateMachine("dome", gate, [], settle_s=0.6, recorder=record_to(ptz, "dome"))
    ctl.listener = m
    book.on_change = lambda cam: m.set_presets(book.approved(cam))
    watcher = MaskStateWatcher(m, lambda: control_for(ipycam_window, audit), poll_s=0.1,
                               error_poll_s=0.3)
    try:
        await ctl.home(supervisor())
        home = await book.define(supervisor(), ctl, "casa", approve=True)
        watcher.start()
        assert isinstance(gate.decision(), Blank)  # blank until settled

        def kind_is(kind: MaskStateKind) -> bool:
            return m.state.kind is kind

        assert await asyncio.to_thread(wait_until, lambda: kind_is(MaskStateKind.AT_PRESET), 5)
        assert m.state.preset_name == "casa"
        await ctl.move(operator(), Direction.ZOOM_IN)
        assert m.state.kind is MaskStateKind.MOVING  # at once, no poll needed
        assert await asyncio.to_thread(wait_until, lambda: kind_is(MaskStateKind.OFF_PRESET), 5)
        assert gate.decision() == Blank(BlankReason.OFF_PRESET)
        t0 = time.monotonic()
        await ctl.goto_preset(operator(), home.token, home.position, label="casa")
        assert await asyncio.to_thread(wait_until, lambda: kind_is(MaskStateKind.AT_PRESET), 5)
        assert time.monotonic() - t0 >= 0.6  # shown only after the settle time
        # the camera loses power: unknown, blank; it comes back at home: the preset again
        await asyncio.to_thread(ipycam_window.kill)
        assert await asyncio.to_thread(wait_until, lambda: kind_is(MaskStateKind.UNKNOWN), 5)
        assert gate.decision() == Blank(BlankReason.UNKNOWN)
        await asyncio.to_thread(ipycam_window.restart)
        assert await asyncio.to_thread(wait_until, lambda: kind_is(MaskStateKind.AT_PRESET), 15)
        assert watcher.errors > 0
    finally:
        watcher.stop()
        await ctl.close()
    assert m.state.kind is MaskStateKind.UNKNOWN  # nobody watching: blank
    states = [r.state for r in ptz.mask_states("dome")]
    assert states[0] == "unknown" and "moving" in states and "off_preset" in states
    assert states.count("at_preset") >= 3
