"""The console's sign-in, password change, co-signature and demo listing (R3, R10-R14).

Every test signs in against a real database file through the real accounts service (argon2
at minimum cost); pictures come from ``StillHub`` except where the test is about streams,
which use the real hub on the demo clips.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from console_support import (
    SIZE,
    StillHub,
    actions,
    add_people,
    hub_of,
    open_accounts,
    password_of,
    people_accounts,  # noqa: F401  (the ``accounts`` fixture)
    screen_text,
    sessions,
    shown_keys,
    sign_in,
    still_context,
    type_text,
    wait_for,
)
from textual.widgets import Input

from console.app import CentraleApp, build_context
from console.config import CentraleConfig
from console.demo import demo_config
from registry.accounts import Accounts
from registry.accounts_core import DEMO_ACCOUNTS
from registry.roles import DEFAULT_ROLES
from screens.cosign import CosignScreen
from screens.grid import GridScreen
from screens.maintenance import MaintenanceScreen
from screens.password import PasswordChangeScreen
from screens.signin import SignInScreen
from screens.widgets.camera_tile import CameraTile
from screens.widgets.video import VideoView

pytestmark = pytest.mark.usefixtures("english")


# -- before sign-in -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cfg(tmp_path_factory: pytest.TempPathFactory) -> CentraleConfig:
    return demo_config(tmp_path_factory.mktemp("demo-signin"))


async def test_no_camera_and_no_stream_before_sign_in(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    app = CentraleApp(build_context(demo_cfg, accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        assert isinstance(app.screen, SignInScreen)
        assert not any(list(s.query(CameraTile)) for s in app.screen_stack)
        assert not app.context.hub.open_streams()
        text = screen_text(app)
        for cam in demo_cfg.cameras:
            assert cam.name not in text and cam.place not in text
        # the footer offers no sign-out or lock before someone is signed in
        assert {"sign_out", "lock"}.isdisjoint(shown_keys(app))
        await sign_in(pilot, "mrossi", password_of("mrossi"))
        await wait_for(lambda: isinstance(app.screen, GridScreen))
        views = list(app.screen.query(VideoView))
        await wait_for(lambda: all(v.painted_frames for v in views), timeout=10)
        assert set(app.context.hub.open_streams()) == {
            (c.id, "sub") for c in demo_cfg.cameras[:4]
        }
        header = screen_text(app).splitlines()[0]
        assert "Mario Rossi" in header and "Operator" in header


async def test_wrong_password_then_lockout(accounts: Accounts) -> None:
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "mrossi", "Not-The-Password-1")
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        await wait_for(lambda: "attempts left" in screen_text(app))
        assert "4 attempts left" in screen_text(app)
        password = screen.query_one("#password", Input)
        assert password.value == "" and password.has_focus
        assert password.password  # masked
        for left in (3, 2, 1):
            await type_text(pilot, "Still-Wrong-22")
            await pilot.press("enter")
            await wait_for(lambda left=left: f"{left} attempts left" in screen_text(app))
        await type_text(pilot, "Still-Wrong-22")
        await pilot.press("enter")
        await wait_for(lambda: "locked until" in screen_text(app))
        # the right password no longer opens it
        await type_text(pilot, password_of("mrossi"))
        await pilot.press("enter")
        await pilot.pause(0.3)
        await wait_for(lambda: not screen.busy)
        assert isinstance(app.screen, SignInScreen)
        assert "locked until" in screen_text(app)
        assert app.context.session is None
        assert hub_of(app).acquired == []
    assert "account_locked" in actions(accounts, "mrossi")
    assert sessions(accounts, "mrossi") == []


async def test_empty_fields_are_asked_for(accounts: Accounts) -> None:
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "enter")
        await wait_for(lambda: "Type your user name" in screen_text(app))
        assert app.screen.query_one("#username", Input).has_focus
        await type_text(pilot, "mrossi")
        await pilot.press("enter", "enter")
        await wait_for(lambda: "Type your password" in screen_text(app))
    assert actions(accounts, "mrossi") == []  # nothing was tried


async def test_forced_password_change(tmp_path: Path) -> None:
    accounts = open_accounts(tmp_path)
    add_people(accounts, ["mrossi"], must_change=["mrossi"])
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "mrossi", password_of("mrossi"))
        await wait_for(lambda: isinstance(app.screen, PasswordChangeScreen))
        assert "choose a new one" in screen_text(app)
        # two different passwords
        await type_text(pilot, "Nuova-Password-2026")
        await pilot.press("enter")
        await type_text(pilot, "Nuova-Password-2027")
        await pilot.press("enter")
        await wait_for(lambda: "differ" in screen_text(app))
        # a password the policy refuses: every reason listed
        await type_text(pilot, "mrossi1")
        await pilot.press("enter")
        await type_text(pilot, "mrossi1")
        await pilot.press("enter")
        await wait_for(lambda: "at least 12 characters" in screen_text(app))
        text = screen_text(app)
        assert "must not contain the user name" in text
        assert isinstance(app.screen, PasswordChangeScreen)
        assert app.context.session is None
        # an acceptable one
        await type_text(pilot, "Nuova-Password-2026")
        await pilot.press("enter")
        await type_text(pilot, "Nuova-Password-2026")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, GridScreen))
        session = app.context.session
        assert session is not None and session.username == "mrossi"
    assert "password_changed" in actions(accounts, "mrossi")
    person = accounts.people_store.get("mrossi")
    assert person is not None and not person.must_change_password
    accounts.store.close()


async def test_password_change_can_be_cancelled(tmp_path: Path) -> None:
    accounts = open_accounts(tmp_path)
    add_people(accounts, ["mrossi"], must_change=["mrossi"])
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "mrossi", password_of("mrossi"))
        await wait_for(lambda: isinstance(app.screen, PasswordChangeScreen))
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        assert app.screen.query_one("#username", Input).value == ""
        assert app.context.session is None
    assert sessions(accounts, "mrossi") == []
    accounts.store.close()


# -- technician -----------------------------------------------------------------------------


async def test_technician_needs_an_operator_who_co_signs(accounts: Accounts) -> None:
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "pgallo", password_of("pgallo"))
        await wait_for(lambda: isinstance(app.screen, CosignScreen))
        assert "operator present" in screen_text(app)
        # no operator at all
        await pilot.press("enter", "enter")
        await wait_for(lambda: "must sign here" in screen_text(app))
        # a wrong operator password
        await type_text(pilot, "mrossi")
        await pilot.press("enter")
        await type_text(pilot, "Wrong-Operator-1")
        await pilot.press("enter")
        await wait_for(lambda: "could not sign" in screen_text(app))
        assert isinstance(app.screen, CosignScreen)
        # a co-signer who may not watch the cameras (the system administrator)
        operator = app.screen.query_one("#operator", Input)
        operator.value = ""
        operator.focus()
        await type_text(pilot, "sconti")
        await pilot.press("enter")
        await type_text(pilot, password_of("sconti"))
        await pilot.press("enter")
        await wait_for(lambda: "cannot vouch" in screen_text(app))
        assert app.context.session is None
        # a real operator
        operator.value = ""
        operator.focus()
        await type_text(pilot, "mrossi")
        await pilot.press("enter")
        await type_text(pilot, password_of("mrossi"))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, MaintenanceScreen))
        session = app.context.session
        assert session is not None and session.username == "pgallo"
        assert session.cosigner == "mrossi"
        header = screen_text(app).splitlines()[0]
        assert "Paolo Gallo" in header and "mrossi" in header
        assert "co-signed by" in screen_text(app)
        # no footage in a maintenance session, not even a tile
        assert not any(list(s.query(CameraTile)) for s in app.screen_stack)
        assert hub_of(app).acquired == []
        await pilot.press("f10")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
    [row] = sessions(accounts, "pgallo")
    assert row.cosigner == "mrossi" and row.end_reason == "logout"
    assert "cosign_refused" in actions(accounts, "pgallo")
    assert [e.action for e in accounts.audit.entries(actor="mrossi")][-1] == "cosigned"


async def test_technician_cosign_cancelled_opens_nothing(accounts: Accounts) -> None:
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "pgallo", password_of("pgallo"))
        await wait_for(lambda: isinstance(app.screen, CosignScreen))
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
    assert sessions(accounts, "pgallo") == []


# -- demo ---------------------------------------------------------------------------------


async def test_demo_lists_its_accounts_and_each_signs_in(
    demo_cfg: CentraleConfig, tmp_path: Path
) -> None:
    accounts = open_accounts(tmp_path)
    ctx = build_context(demo_cfg, accounts, demo=True)
    ctx.hub.close()
    ctx.hub = StillHub(demo_cfg.cameras)  # type: ignore[assignment]
    assert [a.username for a in ctx.demo_accounts] == [a[0] for a in DEMO_ACCOUNTS]
    app = CentraleApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for username, _name, role, password in DEMO_ACCOUNTS:
            assert username in text and password in text
            assert DEFAULT_ROLES[role].display_title in text
        anna = DEMO_ACCOUNTS[0]
        await sign_in(pilot, anna[0], anna[3])
        await wait_for(lambda: isinstance(app.screen, GridScreen))
    # the second run of the demo finds them again
    again = build_context(demo_cfg, accounts, demo=True)
    again.hub.close()
    assert [a.username for a in again.demo_accounts] == [a[0] for a in DEMO_ACCOUNTS]
    accounts.store.close()


async def test_no_demo_listing_outside_the_demo(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    ctx = build_context(demo_cfg, accounts, demo=False)
    ctx.hub.close()
    assert ctx.demo_accounts == []
    app = CentraleApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.screen.query("#demo-accounts")
        assert "Password" in screen_text(app)
        assert "Valdemo" not in screen_text(app).split("Centrale operativa", 1)[-1]
    # --demo on a database that holds real people makes and lists no demo account
    real = build_context(demo_cfg, accounts, demo=True)
    real.hub.close()
    assert real.demo_accounts == []
    assert accounts.people_store.get(DEMO_ACCOUNTS[0][0]) is None
