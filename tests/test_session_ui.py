"""The console's session: idle lock, lock screen, sign-out and quit, the privacy blank on
those screens, and the keys each role is offered (R3, R10-R14).

Every test signs in against a real database file through the real accounts service (argon2
at minimum cost); pictures come from ``StillHub``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from console_support import (
    PEOPLE,
    SIZE,
    SignedInApp,
    actions,
    hub_of,
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

from console.app import CentraleApp
from registry.accounts import Accounts
from registry.roles import DEFAULT_ROLES, Permission
from registry.session import Session
from screens.blank import BlankScreen
from screens.grid import GridScreen
from screens.lock import LockScreen
from screens.maintenance import MaintenanceScreen
from screens.permissions import ACTION_PERMISSIONS, action_allowed
from screens.signin import SignInScreen
from screens.single import SingleScreen
from screens.widgets.camera_tile import CameraTile

pytestmark = pytest.mark.usefixtures("english")


# -- idle lock, unlock, switch user, sign-out -----------------------------------------------


async def test_idle_lock_after_the_configured_time_and_unlock(accounts: Accounts) -> None:
    now = [1000.0]
    ctx = still_context(accounts, idle_lock_minutes=5.0, monotonic=lambda: now[0])
    app = SignedInApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, GridScreen)
        now[0] += 299
        app.check_idle_lock()
        assert isinstance(app.screen, GridScreen)
        await pilot.press("right")  # a key press starts the count again
        now[0] += 299
        app.check_idle_lock()
        assert isinstance(app.screen, GridScreen)
        now[0] += 1
        await pilot.pause(1.2)  # the timer's own tick (1 s for a 5-minute lock)
        assert isinstance(app.screen, LockScreen)
        text = screen_text(app)
        assert "Console locked" in text and "Mario Rossi" in text
        assert "Cam 01" not in text and "Piazza" not in text
        assert {"lock", "move", "open"}.isdisjoint(shown_keys(app))
        # a wrong password counts toward the lockout
        await type_text(pilot, "Wrong-Password-9")
        await pilot.press("enter")
        await wait_for(lambda: "4 attempts left" in screen_text(app))
        await type_text(pilot, password_of("mrossi"))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, GridScreen))
        assert app.context.session is not None
        assert not app.locked
    acts = actions(accounts, "mrossi")
    assert acts.index("session_locked") < acts.index("login_failed") < acts.index(
        "session_unlocked")


async def test_short_idle_lock_with_the_real_clock(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts, idle_lock_minutes=0.01))  # 0.6 s
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, GridScreen)
        await wait_for(lambda: isinstance(app.screen, LockScreen), timeout=3)


async def test_lock_key_and_lockout_at_the_lock_screen(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, LockScreen)
        for _ in range(5):
            await type_text(pilot, "Wrong-Password-9")
            await pilot.press("enter")
            await wait_for(lambda: not app.screen.busy if isinstance(app.screen, LockScreen)
                           else True)
            await pilot.pause()
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        await wait_for(lambda: "the account is locked" in screen_text(app))
        assert app.context.session is None
        assert not any(isinstance(s, GridScreen) for s in app.screen_stack)
    [row] = sessions(accounts, "mrossi")
    assert row.end_reason == "locked_out"


async def test_switch_user_from_the_lock_screen(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, LockScreen)
        assert "switch_user" in shown_keys(app)
        await pilot.press("f10")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        assert app.context.session is None
        assert hub_of(app).acquired == []  # the grid and its tiles are gone
        await sign_in(pilot, "lverdi", password_of("lverdi"))
        await wait_for(lambda: isinstance(app.screen, GridScreen))
        assert "Lucia Verdi" in screen_text(app).splitlines()[0]
    [row] = sessions(accounts, "mrossi")
    assert row.end_reason == "switch_user"
    assert actions(accounts, "mrossi")[-1] == "logout"


async def test_sign_out_key_closes_the_session(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "sign_out" in shown_keys(app)
        assert "F10" in screen_text(app)
        await pilot.press("right", "enter")  # sign out from the full view too
        await pilot.pause()
        assert isinstance(app.screen, SingleScreen)
        await pilot.press("f10")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        await pilot.pause()
        assert app.screen_stack[-1] is app.screen and len(app.screen_stack) == 2
        assert "Signed out" in screen_text(app)
        assert hub_of(app).acquired == []
    [row] = sessions(accounts, "mrossi")
    assert row.ended_at is not None and row.end_reason == "logout"
    assert actions(accounts, "mrossi")[-2:] == ["login", "logout"]
    assert accounts.audit.verify().ok


async def test_quit_signs_out_first(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    [row] = sessions(accounts, "mrossi")
    assert row.end_reason == "quit"


# -- the privacy blank everywhere ---------------------------------------------------------


async def test_privacy_blank_on_the_sign_in_screen_and_b_in_a_user_name(
    accounts: Accounts,
) -> None:
    app = CentraleApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "bbianchi")
        username = app.screen.query_one("#username", Input)
        assert username.value == "bbianchi"  # B is a letter while typing
        await pilot.press("f12")
        assert isinstance(app.screen, BlankScreen)
        assert "bbianchi" not in screen_text(app)
        await pilot.press("b")  # nothing to type into on the blank: B lifts it
        assert isinstance(app.screen, SignInScreen)
        assert username.value == "bbianchi" and username.has_focus


async def test_privacy_blank_on_the_lock_and_maintenance_screens(accounts: Accounts) -> None:
    app = SignedInApp(still_context(accounts))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, LockScreen)
        await pilot.press("b")
        assert app.screen.query_one("#unlock-password", Input).value == "b"
        await pilot.press("f12")
        assert isinstance(app.screen, BlankScreen)
        assert "Mario Rossi" not in screen_text(app)
        await pilot.press("f12")
        assert isinstance(app.screen, LockScreen)
    app = SignedInApp(still_context(accounts), username="sconti")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MaintenanceScreen)
        await pilot.press("b")  # no input focused: B blanks
        assert isinstance(app.screen, BlankScreen)
        await pilot.press("b")
        assert isinstance(app.screen, MaintenanceScreen)


async def test_idle_lock_goes_over_the_privacy_blank(accounts: Accounts) -> None:
    now = [0.0]
    app = SignedInApp(still_context(accounts, monotonic=lambda: now[0]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f12")
        now[0] += 301
        app.check_idle_lock()
        await pilot.pause()
        assert isinstance(app.screen, LockScreen)
        await type_text(pilot, password_of("mrossi"))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, BlankScreen))  # still blanked


# -- roles --------------------------------------------------------------------------------


def session_for(accounts: Accounts, username: str) -> Session:
    role = PEOPLE[username][1]
    if DEFAULT_ROLES[role].maintenance_only:
        result = accounts.cosign(username, password_of(username), "mrossi",
                                 password_of("mrossi"))
    else:
        result = accounts.sign_in(username, password_of(username))
    assert result.session is not None, result.message
    return result.session


@pytest.mark.parametrize("username", list(PEOPLE))
def test_every_mapped_action_follows_the_role(accounts: Accounts, username: str) -> None:
    session = session_for(accounts, username)
    for (scope, action), needed in ACTION_PERMISSIONS.items():
        assert action_allowed(session, scope, action) == any(session.allows(p) for p in needed)
        assert action_allowed(None, scope, action) is False
    may_watch = session.allows(Permission.WATCH)
    ctx = still_context(accounts)
    ctx.session = session
    grid = GridScreen(ctx)
    for action in ("open", "move", "layout", "page"):
        assert grid.check_action(action, ()) is may_watch
    single = SingleScreen(ctx, 0)
    assert single.check_action("step", ()) is may_watch
    assert single.check_action("back", ()) is may_watch
    # the App's keys: session keys for everyone signed in, the register and review keys
    # (reserved names) only for the roles the domain lets in
    from registry.register import AccessRegister
    from screens.register_form import RegisterContext

    register = AccessRegister(accounts.store, accounts.audit, accounts.verify_signature)
    app = CentraleApp(ctx, RegisterContext(ctx, register, accounts.audit, Path("unused")))
    assert app.check_action("sign_out", ()) and app.check_action("lock", ())
    assert app.check_action("open_register", ()) is session.allows(Permission.PLAYBACK)
    assert app.check_action("open_review", ()) is session.allows(Permission.REVIEW_REGISTER)
    ctx.session = None
    assert not app.check_action("sign_out", ()) and not app.check_action("open_review", ())
    ctx.session = session
    assert not CentraleApp(ctx).check_action("open_register", ())  # no register service


WATCHERS = {"mrossi", "lverdi", "gneri"}


@pytest.mark.parametrize("username", ["mrossi", "lverdi", "gneri", "sconti"])
async def test_the_ui_offers_each_role_its_keys(accounts: Accounts, username: str) -> None:
    app = SignedInApp(still_context(accounts), username=username)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = shown_keys(app)
        assert {"sign_out", "lock", "privacy_blank", "quit"} <= keys
        if username in WATCHERS:
            assert isinstance(app.screen, GridScreen)
            assert {"open", "layout(1)", "page(1)"} <= keys
            assert len(app.screen.query(CameraTile)) == 4
        else:
            assert isinstance(app.screen, MaintenanceScreen)
            assert not any(k.startswith(("open", "layout", "page")) for k in keys)
            assert not any(list(s.query(CameraTile)) for s in app.screen_stack)
            assert hub_of(app).acquired == []
            assert "System administrator" in screen_text(app)


async def test_a_grid_without_a_watching_session_shows_nothing(accounts: Accounts) -> None:
    """Fail closed: even pushed by mistake, the grid mounts no tile for a non-watcher."""
    app = SignedInApp(still_context(accounts), username="sconti")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(GridScreen(app.context))
        await pilot.pause()
        assert isinstance(app.screen, GridScreen)
        assert not app.screen.query(CameraTile)
        await pilot.press("enter", "2")
        assert hub_of(app).acquired == []
