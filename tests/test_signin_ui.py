"""The console's sign-in, password change, co-signature, idle lock and sign-out (R3, R10-R14).

Every test signs in against a real database file through the real accounts service (argon2
at minimum cost); pictures come from ``StillHub`` except where the test is about streams,
which use the real hub on the demo clips.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from console_support import (
    PEOPLE,
    SignedInApp,
    StillHub,
    accounts_with_people,
    add_people,
    context,
    demo_camera_configs,
    open_accounts,
    password_of,
)
from textual.widgets import Input

from console.app import CentraleApp, build_context
from console.config import CentraleConfig
from console.demo import demo_config
from registry.accounts import Accounts
from registry.accounts_core import DEMO_ACCOUNTS
from registry.roles import DEFAULT_ROLES, Permission
from registry.session import Session
from registry.store_people import PeopleStore, SessionRow
from screens.blank import BlankScreen
from screens.context import ConsoleContext
from screens.cosign import CosignScreen
from screens.grid import GridScreen
from screens.lock import LockScreen
from screens.maintenance import MaintenanceScreen
from screens.password import PasswordChangeScreen
from screens.permissions import ACTION_PERMISSIONS, action_allowed
from screens.signin import SignInScreen
from screens.single import SingleScreen
from screens.widgets.camera_tile import CameraTile
from screens.widgets.video import VideoView

SIZE = (120, 40)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path / "db")


def still_context(accounts: Accounts | None, **changes: object) -> ConsoleContext:
    cams = demo_camera_configs()
    ctx = context(StillHub(cams), cams, accounts=accounts)
    for name, value in changes.items():
        setattr(ctx, name, value)
    return ctx


def hub_of(app: CentraleApp) -> StillHub:
    hub = app.context.hub
    assert isinstance(hub, StillHub)
    return hub


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def screen_text(app: CentraleApp) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text)


async def sign_in(pilot, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Type the credentials as a person would: user name, Enter, password, Enter."""
    await type_text(pilot, username)
    await pilot.press("enter")
    await type_text(pilot, password)
    await pilot.press("enter")


def sessions(accounts: Accounts, username: str) -> list[SessionRow]:
    people = PeopleStore(accounts.store)
    rows = [people.session(i) for i in range(1, 200)]
    return [r for r in rows if r is not None and r.username == username]


def actions(accounts: Accounts, target: str) -> list[str]:
    return [e.action for e in accounts.audit.entries() if e.target == target]


def shown_keys(app: CentraleApp) -> set[str]:
    """The actions the footer offers on the current screen."""
    return {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}


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
