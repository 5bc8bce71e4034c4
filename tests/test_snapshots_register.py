"""Snapshots of the access register, its entry form with errors, and the review (Italian).

Each draws a real database (``tmp_path``) filled through the real service at a fixed clock,
so a snapshot changes only when the screen's layout or drawing changes. Update them with
``uv run pytest tests/test_snapshots_register.py --snapshot-update`` after a deliberate
change, and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import RegisterApp, World, make_world, review_world, sign
from test_register_ui import open_form

from registry.register import AccessKind
from screens.register import open_register
from screens.review import open_review

SIZE = (110, 34)


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "data")
    yield w
    w.store.close()


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_register_screen(snap_compare, world: World) -> None:  # type: ignore[no-untyped-def]
    for hours in (30, 8):
        sign(world, "lverdi", hours_ago=hours)
    sign(world, "lverdi", AccessKind.VISIT)
    app = RegisterApp(world.as_("lverdi"), open_register)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_register_form_with_errors(snap_compare, world: World) -> None:  # type: ignore[no-untyped-def]
    async def submit_empty(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)

    app = RegisterApp(world.as_("lverdi"), open_form())
    assert snap_compare(app, terminal_size=SIZE, run_before=submit_empty)


def test_review_screen(snap_compare, world: World) -> None:  # type: ignore[no-untyped-def]
    made = review_world(world)
    world.register.mark_reviewed(world.sessions["gneri"], made["lverdi_old"].id,
                                 "Finalità e autorizzazione verificate")
    app = RegisterApp(world.as_("gneri"), open_review)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
