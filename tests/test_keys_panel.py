"""F1 lists every key of the screen that the role may use, for when the footer is cut."""

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
from rich.console import Console
from textual.widgets import HelpPanel
from textual.widgets._key_panel import BindingsTable

from registry.accounts import Accounts

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path / "db")


def _listed(app: SignedInApp) -> str:
    table = app.screen.query_one(HelpPanel).query_one(BindingsTable)
    console = Console(width=200, record=True)
    console.print(table.render_bindings_table())
    return console.export_text()


@pytest.mark.parametrize(("username", "has_masks"), [("mrossi", False), ("gneri", True)])
async def test_f1_lists_the_keys_the_role_may_use(
    accounts: Accounts, username: str, has_masks: bool
) -> None:
    cams = demo_camera_configs()
    app = SignedInApp(context(StillHub(cams), cams, accounts=accounts), username=username)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not app.screen.query(HelpPanel)
        await pilot.press("f1")
        await pilot.pause()
        listed = _listed(app)
        assert "Full view" in listed and "Blank screen" in listed
        assert ("Masks" in listed) is has_masks  # define_presets: the supervisor only
        await pilot.press("f1")
        await pilot.pause()
        assert not app.screen.query(HelpPanel)
