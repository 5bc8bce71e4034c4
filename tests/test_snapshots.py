"""Snapshots of every screen at a fixed terminal size.

The pictures come from ``StillHub`` (the demo scene at t=0, fixed) and the clock is fixed,
so a snapshot changes only when the screen's layout or drawing changes. Update them with
``uv run pytest tests/test_snapshots.py --snapshot-update`` after a deliberate change, and
look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import (
    SignedInApp,
    StillHub,
    accounts_with_people,
    context,
    demo_camera_configs,
)

from cameras.stream import StreamStatus
from console.app import CentraleApp
from registry.accounts import Accounts

SIZE = (110, 34)


pytestmark = pytest.mark.usefixtures("italian")


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let the frame clock draw the still pictures (it ticks at 30 Hz)."""
    await pilot.pause(0.3)


def pressing(*keys: str):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path, ["mrossi"])


def make_app(accounts: Accounts, layout: int = 4,
             statuses: dict[str, StreamStatus] | None = None) -> CentraleApp:
    """The console with Mario Rossi (operatore) signed in."""
    cams = demo_camera_configs()
    return SignedInApp(context(StillHub(cams, statuses), cams, layout=layout,
                               accounts=accounts))


def test_grid_2x2(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(accounts, 4), terminal_size=SIZE, run_before=settle)


def test_grid_3x3_with_camera_troubles(  # type: ignore[no-untyped-def]
    snap_compare, accounts: Accounts
) -> None:
    statuses = {"via-roma": StreamStatus.RECONNECTING, "rotatoria": StreamStatus.AUTH_FAILED,
                "scuola": StreamStatus.OFFLINE}
    assert snap_compare(make_app(accounts, 9, statuses), terminal_size=SIZE,
                        run_before=settle)


def test_full_view(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(accounts, 4), terminal_size=SIZE,
                        run_before=pressing("right", "enter"))


def test_privacy_blank(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(accounts, 4), terminal_size=SIZE, run_before=pressing("b"))
