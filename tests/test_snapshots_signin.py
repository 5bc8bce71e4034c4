"""Snapshots of the screens around a session: sign-in (normal and demo), forced password
change, co-signature, lock and maintenance; in Italian (the default) and the sign-in in English.

Each starts from a real database file; the typed passwords are masked on screen, so the
pictures do not depend on them. Update with ``--snapshot-update`` after a deliberate change
and look at the report before committing.
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
    open_accounts,
    password_of,
)
from textual.widgets import Input

from console.app import CentraleApp, demo_accounts
from registry.accounts import Accounts
from registry.i18n import set_language

SIZE = (110, 34)


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path, must_change=["lverdi"])


def make_app(accounts: Accounts, *, demo: bool = False) -> CentraleApp:
    cams = demo_camera_configs()
    ctx = context(StillHub(cams), cams, accounts=accounts)
    if demo:
        ctx.demo_accounts = demo_accounts(accounts)
    return CentraleApp(ctx)


async def steady(pilot) -> None:  # type: ignore[no-untyped-def]
    """Stop the text cursors' blinking, so that the picture does not depend on its phase."""
    await pilot.pause(0.1)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.1)


def typing(*steps: str):  # type: ignore[no-untyped-def]
    """Type each step into the focused field and press Enter after it, then wait for the
    accounts service (a worker thread) and the screen that follows."""

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        for step in steps:
            await pilot.press(*step, "enter")
            await pilot.pause(0.1)
            await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)
        await steady(pilot)

    return run


def test_sign_in(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(accounts), terminal_size=SIZE, run_before=typing("mrossi"))


def test_sign_in_english(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    set_language("en")
    assert snap_compare(make_app(accounts), terminal_size=SIZE,
                        run_before=typing("mrossi", "Wrong-Password-1"))


def test_sign_in_demo(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = open_accounts(tmp_path / "demo")
    try:
        assert snap_compare(make_app(service, demo=True), terminal_size=SIZE,
                            run_before=steady)
    finally:
        service.store.close()


def test_forced_password_change(  # type: ignore[no-untyped-def]
    snap_compare, accounts: Accounts
) -> None:
    steps = typing("lverdi", password_of("lverdi"), "corto", "corto")
    assert snap_compare(make_app(accounts), terminal_size=SIZE, run_before=steps)


def test_cosign(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    steps = typing("pgallo", password_of("pgallo"), "sconti", password_of("sconti"))
    assert snap_compare(make_app(accounts), terminal_size=SIZE, run_before=steps)


def test_maintenance(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    steps = typing("pgallo", password_of("pgallo"), "mrossi", password_of("mrossi"))
    assert snap_compare(make_app(accounts), terminal_size=SIZE, run_before=steps)


def test_lock_screen(snap_compare, accounts: Accounts) -> None:  # type: ignore[no-untyped-def]
    cams = demo_camera_configs()
    app = SignedInApp(context(StillHub(cams), cams, accounts=accounts))

    async def lock(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause(0.3)
        await pilot.press("ctrl+l")
        await typing("Sbagliata-Password-1")(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=lock)
