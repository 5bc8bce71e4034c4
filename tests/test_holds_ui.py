"""The holds screen driven by Pilot: list, place, extend and release, errors kept in the form.

A real database, the audit trail, people signed in through the accounts service; the clock
is fixed (23/11/2026 10:30 in Rome) so that "in force" and "expired" are known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_support import Clock, World, make_world
from textual.app import App
from textual.widgets import Input, Select, Static
from ui_support import OpenerApp, table_rows

from footage.holds import Holds
from registry.store_footage import FootageStore, HoldRow
from screens.holds import HoldFormModal, HoldsContext, HoldsScreen, ReleaseHoldModal, open_holds

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
SIZE = (130, 36)


pytestmark = pytest.mark.usefixtures("english")


@dataclass
class HWorld:
    w: World
    holds: Holds
    ctx: HoldsContext

    def as_(self, who: str) -> HoldsContext:
        self.w.as_(who)
        return self.ctx

    def place(self, reference: str, *, expires: datetime, released: bool = False) -> HoldRow:
        cam = self.w.ctx.console.cameras[0].id
        hold = self.holds.create(self.w.sessions["gneri"], ground="seizure",
                                 authority="Procura di Brescia", reference=reference,
                                 cameras=[cam], span_start=NOW - timedelta(days=3),
                                 span_end=NOW - timedelta(days=2), expires_at=expires)
        if released:
            hold = self.holds.release(self.w.sessions["gneri"], hold.id, "dissequestro")
        return hold


def make_hworld(data_dir: Path, clock: Clock | None = None) -> HWorld:
    clock = clock or Clock(NOW)
    w = make_world(data_dir, clock)
    holds = Holds(FootageStore(w.store), w.audit, clock,
                  known_cameras=[c.id for c in w.ctx.console.cameras])
    return HWorld(w, holds, HoldsContext(w.ctx.console, holds, clock))


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HWorld]:
    h = make_hworld(tmp_path / "data")
    yield h
    h.w.store.close()


class HoldsApp(OpenerApp[HoldsContext]):
    def __init__(self, ctx: HoldsContext,
                 opener: Callable[[App[Any], HoldsContext], object] = open_holds) -> None:
        super().__init__(ctx, opener)


def rows(app: App[Any]) -> list[list[str]]:
    return table_rows(app, "#holds")


async def settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_holds_are_listed_with_their_state(hw: HWorld) -> None:
    hw.place("RG 1/26", expires=NOW + timedelta(days=30))
    hw.place("RG 2/26", expires=NOW + timedelta(days=30), released=True)
    hw.w.clock.now = NOW - timedelta(days=1)
    hw.place("RG 3/26", expires=NOW - timedelta(hours=1))
    hw.w.clock.now = NOW
    app = HoldsApp(hw.as_("gneri"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        got = {r[3]: r[1] for r in rows(app)}
        assert got == {"RG 1/26": "in force", "RG 2/26": "released", "RG 3/26": "expired"}
        assert rows(app)[0][0] == "3"  # newest first
        detail = str(app.screen.query_one("#hold-detail", Static).render())
        assert "seizure order" in detail and "Placed by gneri" in detail


async def test_only_the_hold_permission_opens_it(hw: HWorld) -> None:
    app = HoldsApp(hw.as_("lverdi"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, HoldsScreen)
    refused = hw.w.audit.entries(action="permission_refused")[-1]
    assert refused.actor == "lverdi" and refused.target == "holds"


async def test_a_hold_is_placed_through_the_form_and_errors_keep_what_was_typed(
    hw: HWorld,
) -> None:
    cams = hw.w.ctx.console.cameras
    app = HoldsApp(hw.as_("gneri"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, HoldFormModal)
        form.query_one("#ground", Select).value = "investigation"
        form.query_one("#authority", Input).value = "Procura di Brescia"
        form.query_one("#cameras", Input).value = f"{cams[0].id}, {cams[1].id}"
        form.query_one("#span_start", Input).value = "20/11/2026 08:00"
        form.query_one("#span_end", Input).value = "20/11/2026 9:30"
        form.query_one("#expires_at", Input).value = "31/13/2026 00:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = form.query_one("#hold-error", Static)
        assert "Expires: 31/13/2026 00:00 is not a date" in str(error.render())
        form.query_one("#expires_at", Input).value = "23/12/2026 00:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HoldFormModal)  # the domain refused: no reference
        assert "reference" in str(error.render())
        assert form.query_one("#authority", Input).value == "Procura di Brescia"
        form.query_one("#reference", Input).value = "RG 77/26"
        form.query_one("#note", Input).value = "furto in piazza"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HoldsScreen)
        assert rows(app)[0][1] == "in force" and rows(app)[0][3] == "RG 77/26"
    (hold,) = hw.holds.listing(hw.w.sessions["gneri"])
    assert hold.cameras == (cams[0].id, cams[1].id) and hold.note == "furto in piazza"
    assert hold.span_start == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 08:00 in Rome
    assert hold.expires_at == datetime(2026, 12, 22, 23, 0, tzinfo=UTC)
    assert [e.action for e in hw.w.audit.entries(action="hold.create")] == ["hold.create"]


async def test_extend_and_release(hw: HWorld) -> None:
    hold = hw.place("RG 1/26", expires=NOW + timedelta(days=30))
    app = HoldsApp(hw.as_("gneri"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, HoldFormModal)
        assert form.query_one("#authority", Input).disabled  # only span and expiry change
        form.query_one("#expires_at", Input).value = "01/01/2027 00:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HoldsScreen)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReleaseHoldModal)
        await pilot.press("enter")  # no reason: refused, says why
        await pilot.pause()
        assert "reason" in str(app.screen.query_one("#hold-error", Static).render())
        await pilot.press(*"dissequestro", "enter")
        await settle(pilot)
        assert isinstance(app.screen, HoldsScreen)
        assert rows(app)[0][1] == "released"
    got = hw.holds.store.hold(hold.id)
    assert got is not None and got.released_by == "gneri"
    assert got.expires_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    actions = [e.action for e in hw.w.audit.entries() if e.action.startswith("hold.")]
    assert actions == ["hold.create", "hold.extend", "hold.release"]
