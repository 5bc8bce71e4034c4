"""The Textual application: wiring of services into screens, and the session's life.

The app owns the long-lived services (the stream hub and the accounts service today; the
recorder link and PTZ service later), passes them down to screens as attributes, and closes
them on exit. It also owns who is signed in: it starts on the sign-in screen, and it alone
changes ``context.session`` and the screen stack when a session starts, locks, unlocks or
ends (the screens post :mod:`screens.session_events` messages up).

Screen stack: the sign-in screen at the bottom, the session's home screen (the live grid, or
the maintenance screen for a role without ``watch``) above it, then whatever the person opens.
The lock screen and the privacy blank go on top of everything; signing out removes every
screen above the sign-in screen, so the grid and its tiles (and their streams) go with it.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, TextArea

from cameras.credentials import get_camera_password
from cameras.hub import StreamHub
from cameras.masks import MaskSet
from console.config import CentraleConfig
from footage.export import ExportCamera, Exporter, ExportSettings
from footage.holds import Holds
from footage.index import FootageIndex
from footage.media import MediaLog
from footage.playback import Playback
from ptz.runtime import start_ptz_runtime
from registry.accounts import Accounts
from registry.accounts_core import DEMO_ACCOUNTS
from registry.i18n import _
from registry.register import AccessRegister
from registry.roles import Permission
from registry.session import Session
from registry.store_export import ExportStore
from registry.store_footage import FootageStore
from registry.store_ptz import PtzStore
from screens.bindings import N_, translate_bindings
from screens.blank import BlankScreen
from screens.context import ConsoleContext, DemoAccount
from screens.export import ExportContext, open_export
from screens.grid import GridScreen
from screens.holds import HoldsContext, open_holds
from screens.lock import LockScreen
from screens.maintenance import MaintenanceScreen
from screens.media import open_media
from screens.permissions import action_allowed
from screens.playback import PlaybackContext, open_playback
from screens.register import open_register
from screens.register_form import RegisterContext
from screens.review import open_review
from screens.session_events import SessionOver, SessionStarted, SessionUnlocked
from screens.signin import SignInScreen

log = logging.getLogger(__name__)

PRIVACY_KEY = "f12"
PRIVACY_KEY_ALT = "b"
SIGN_OUT_KEY = "f10"
LOCK_KEY = "ctrl+l"
HELP_KEY = "f1"
REGISTER_KEY = "f9"
REVIEW_KEY = "f8"
PLAYBACK_KEY = "f7"
HOLDS_KEY = "f6"
EXPORT_KEY = "f5"
MEDIA_KEY = "f4"

#: why a session ended, as the audit trail records it
QUIT = "quit"
LOGOUT = "logout"
IDLE = "idle"


class CentraleApp(App[int]):
    TITLE = "Centrale"
    # No command palette: its system commands (screenshots, themes) would bypass the role
    # checks and the register; a screenshot of footage is an export (R20).
    ENABLE_COMMAND_PALETTE = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(PRIVACY_KEY, "privacy_blank", N_("Blank screen"), priority=True,
                id="app.privacy_blank", key_display="F12"),
        # B blanks too, unless the person is typing (a "b" in a user name is a letter)
        Binding(PRIVACY_KEY_ALT, "privacy_blank_letter", N_("Blank screen"), priority=True,
                show=False, id="app.privacy_blank_alt"),
        Binding(SIGN_OUT_KEY, "sign_out", N_("Sign out"), id="app.sign_out",
                key_display="F10"),
        # every key of the screen, with what it does, for when the footer is too narrow
        Binding(HELP_KEY, "toggle_keys", N_("Keys"), id="app.keys", key_display="F1"),
        Binding(LOCK_KEY, "lock", N_("Lock"), id="app.lock"),
        Binding(REGISTER_KEY, "open_register", N_("Register"), id="app.open_register",
                key_display="F9"),
        Binding(REVIEW_KEY, "open_review", N_("Review"), id="app.open_review",
                key_display="F8"),
        Binding(PLAYBACK_KEY, "open_playback", N_("Playback"), id="app.open_playback",
                key_display="F7"),
        Binding(HOLDS_KEY, "open_holds", N_("Holds"), id="app.open_holds",
                key_display="F6"),
        Binding(EXPORT_KEY, "open_export", N_("Export"), id="app.open_export",
                key_display="F5"),
        Binding(MEDIA_KEY, "open_media", N_("Media"), id="app.open_media",
                key_display="F4"),
        Binding("ctrl+q", "quit", N_("Quit"), priority=True, id="app.quit"),
    ]

    def __init__(self, context: ConsoleContext,
                 register: RegisterContext | None = None,
                 playback: PlaybackContext | None = None,
                 holds: HoldsContext | None = None,
                 export: ExportContext | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        #: the access register and its review (F9, F8); None in tests of the live view only
        self.register_context = register
        #: recorded footage (F7) and holds (F6); None when the console has no recordings
        self.playback_context = playback
        self.holds_context = holds
        #: exports (F5) and the removable media list (F4)
        self.export_context = export
        self.title = f"Centrale · {context.site_name}"
        self._last_input = context.monotonic()
        self.locked = False

    @property
    def session(self) -> Session | None:
        return self.context.session

    # -- start and stop --------------------------------------------------------------------

    def on_mount(self) -> None:
        if os.environ.get("CENTRALE_BENCH_STATS"):
            from console.instrument import install

            install(self)
        self.show_sign_in()
        self.set_interval(self._idle_tick_s(), self.check_idle_lock)
        # Everything made at start-up lives as long as the console: keep it out of the
        # garbage collector's full passes, whose pauses showed up as key-latency peaks.
        self.call_after_refresh(gc.freeze)

    def show_sign_in(self) -> None:
        """The first screen (tests that start signed in sign in right after it)."""
        self.push_screen(SignInScreen(self.context))

    def on_unmount(self) -> None:
        self._end_session(QUIT)
        self.context.hub.close()

    async def action_quit(self) -> None:
        """ctrl+q: sign out (audited), then quit."""
        self._end_session(QUIT)
        self.exit()

    # -- the session -----------------------------------------------------------------------

    def on_session_started(self, message: SessionStarted) -> None:
        self._end_session(LOGOUT)  # never two sessions at one console
        self.context.session = message.session
        self.locked = False
        self._last_input = self.context.monotonic()
        session = message.session
        log.info("signed in: %s (%s)", session.username, session.role.name)
        home: Screen[None] = (GridScreen(self.context) if session.allows(Permission.WATCH)
                              else MaintenanceScreen(self.context, session))
        self._show_above_sign_in(home)
        self.refresh_bindings()

    def on_session_unlocked(self, _message: SessionUnlocked) -> None:
        if isinstance(self.screen, LockScreen):
            self.pop_screen()
        self.locked = False
        self._last_input = self.context.monotonic()
        self.refresh_bindings()

    def on_session_over(self, message: SessionOver) -> None:
        if message.already_closed:
            self.context.session = None
        self._end_session(message.reason)
        self._back_to_sign_in(message.notice)

    def action_sign_out(self) -> None:
        """F10: sign out (audited) and show the sign-in screen to the next person."""
        if self.session is None:
            return
        self._end_session(LOGOUT)
        self._back_to_sign_in(_("Signed out."))

    def action_lock(self) -> None:
        """The lock key, and the idle lock: a lock screen over everything."""
        session = self.session
        if session is None or self.locked:
            return
        accounts = self.context.accounts
        if accounts is not None:
            accounts.lock(session)
        self.locked = True
        self.push_screen(LockScreen(self.context, session))
        self.refresh_bindings()

    def _end_session(self, reason: str) -> None:
        session = self.context.session
        if session is None:
            return
        self.context.session = None
        self.locked = False
        accounts = self.context.accounts
        if accounts is not None:
            accounts.sign_out(session, reason)
        log.info("signed out: %s (%s)", session.username, reason)

    def _sign_in_screen(self) -> SignInScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, SignInScreen):
                return screen
        return None

    def _pop_above_sign_in(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, SignInScreen):
            self.pop_screen()

    def _show_above_sign_in(self, screen: Screen[None]) -> None:
        self._pop_above_sign_in()
        self.push_screen(screen)

    def _back_to_sign_in(self, notice: str = "") -> None:
        self._pop_above_sign_in()
        sign_in = self._sign_in_screen()
        if sign_in is None:
            self.push_screen(SignInScreen(self.context, notice))
        else:
            sign_in.reset(notice)
        self.refresh_bindings()

    # -- idle lock -------------------------------------------------------------------------

    def _idle_tick_s(self) -> float:
        return min(1.0, max(0.05, self.context.idle_lock_minutes * 60 / 10))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.MouseScrollDown
                      | events.MouseScrollUp):
            self._last_input = self.context.monotonic()
        await super().on_event(event)

    def check_idle_lock(self) -> None:
        """Lock the console after ``idle_lock_minutes`` without a key press."""
        if self.session is None or self.locked:
            return
        idle_s = self.context.monotonic() - self._last_input
        if idle_s >= self.context.idle_lock_minutes * 60:
            log.info("idle for %.0f s: locking", idle_s)
            self.action_lock()

    # -- actions available -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "privacy_blank_letter":
            return not isinstance(self.focused, Input | TextArea)
        if action == "sign_out":
            return self.session is not None
        if action == "lock":
            return self.session is not None and not self.locked
        services = {"open_register": self.register_context, "open_review": self.register_context,
                    "open_playback": self.playback_context, "open_holds": self.holds_context,
                    "open_export": self.export_context, "open_media": self.export_context}
        if action in services and (services[action] is None or self.locked):
            return False
        # the role's permissions (screens.permissions, scope "app": the register F9, the
        # review F8 when they are bound here)
        return action_allowed(self.session, "app", action)

    # -- the list of keys ------------------------------------------------------------------

    def action_toggle_keys(self) -> None:
        """Show or hide the panel with every key of the screen (only those the role may use)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # -- the access register ---------------------------------------------------------------

    def action_open_register(self) -> None:
        if self.register_context is not None and not self.locked:
            open_register(self, self.register_context)

    def action_open_review(self) -> None:
        if self.register_context is not None and not self.locked:
            open_review(self, self.register_context)

    def action_open_playback(self) -> None:
        if self.playback_context is not None and not self.locked:
            open_playback(self, self.playback_context)

    def action_open_holds(self) -> None:
        if self.holds_context is not None and not self.locked:
            open_holds(self, self.holds_context)

    def action_open_export(self) -> None:
        if self.export_context is not None and not self.locked:
            open_export(self, self.export_context)

    def action_open_media(self) -> None:
        if self.export_context is not None and not self.locked:
            open_media(self, self.export_context)

    # -- privacy blank ---------------------------------------------------------------------

    @property
    def blanked(self) -> bool:
        return isinstance(self.screen, BlankScreen)

    def action_privacy_blank(self) -> None:
        """Toggle the privacy blank (R3): hide everything at once, or show it again."""
        if self.blanked:
            self.pop_screen()
        else:
            self.push_screen(BlankScreen("F12 / B"))

    def action_privacy_blank_letter(self) -> None:
        self.action_privacy_blank()


def build_context(config: CentraleConfig, accounts: Accounts | None = None,
                  demo: bool = False,
                  fixed_masks: Mapping[str, MaskSet] | None = None) -> ConsoleContext:
    hub = StreamHub(config.enabled_cameras, config.streams, password_for=get_camera_password,
                    fixed_masks=fixed_masks)
    return ConsoleContext(
        hub=hub,
        cameras=config.enabled_cameras,
        site_name=config.site.comune,
        control_room=config.site.control_room,
        timezone=config.site.timezone,
        clock_format=config.ui.clock_format,
        layout=config.ui.grid_layout,
        accounts=accounts,
        idle_lock_minutes=config.ui.idle_lock_minutes,
        demo_accounts=demo_accounts(accounts) if demo and accounts is not None else [],
    )


def demo_accounts(accounts: Accounts) -> list[DemoAccount]:
    """The demo's accounts, made on an empty database; listed only when they are there.

    A database that already holds other people (a real installation run with ``--demo``)
    gets no demo accounts and its sign-in screen lists none.
    """
    if accounts.people_store.count() == 0:
        accounts.create_demo_accounts()
    listed: list[DemoAccount] = []
    for username, _full_name, role, password in DEMO_ACCOUNTS:
        person = accounts.people_store.get(username)
        if person is not None and person.role == role:
            listed.append(DemoAccount(username, password, role))
    return listed


def run_console(config: CentraleConfig, data_dir: Path, language: str, demo: bool,
                config_path: Path | None = None) -> int:
    """Run the console until the operator quits; returns the process exit code."""
    from console.services import open_services, verify_in_subprocess

    log.info("console starting: %d cameras, language %s, demo %s, data %s",
             len(config.enabled_cameras), language, demo, data_dir)
    with ExitStack() as running:  # closed in reverse order, also when start-up fails
        services = running.enter_context(open_services(data_dir, config))
        accounts = services.accounts
        accounts.close_stale_sessions()  # a crash of this console left them open
        accounts.disable_unused()  # R12; the sign-in applies it too, this catches the rest
        store, audit = services.store, services.audit
        if demo:  # the demo records its cameras too, so that playback and export have footage
            from console.demo import start_demo_recorder

            running.callback(start_demo_recorder(data_dir, config, store, audit).stop)
        # The PTZ runtime loads the stored fixed-camera masks (and reloads them when the
        # supervisor edits them); the hub's gates start from the same masks.
        ptz = start_ptz_runtime(
            config.enabled_cameras, store, audit, password_for=get_camera_password,
            timezone=config.site.timezone, workstation=accounts.workstation,
        )  # fmt: skip
        running.callback(ptz.close)
        context = build_context(config, accounts, demo=demo, fixed_masks=ptz.fixed_masks)
        context.ptz = ptz
        footage = FootageStore(store)
        context.read_health = footage.all_health
        register = AccessRegister(store, audit, accounts.verify_signature,
                                  extra_purposes=config.access_register.extra_purposes)
        register_context = RegisterContext(
            context, register, audit, data_dir,
            verify_trail=lambda: verify_in_subprocess(data_dir, config_path),
        )
        zone = ZoneInfo(config.site.timezone)
        exporter = Exporter(
            FootageIndex(data_dir, footage), store, audit, register,
            {c.id: ExportCamera(c.id, c.name, c.place, c.is_ptz) for c in config.cameras},
            ExportSettings(tz=zone, comune=config.site.comune,
                           control_room=config.site.control_room),
        )  # fmt: skip
        export = ExportContext(register_context, exporter, MediaLog(ExportStore(store), audit),
                               data_dir / "exports")
        playback = Playback(data_dir, footage, PtzStore(store), register, audit,
                            config.enabled_cameras, zone=zone)
        holds = Holds(footage, audit, known_cameras=[c.id for c in config.cameras])
        app = CentraleApp(context, register_context,
                          PlaybackContext(register_context, playback, export),
                          HoldsContext(context, holds), export)
        result = app.run()
    return int(result or 0)


__all__ = ["CentraleApp", "_", "build_context", "demo_accounts", "run_console"]
