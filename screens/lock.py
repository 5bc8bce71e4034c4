"""The lock screen: the console after a pause, or at the lock key (R3, R10).

A full :class:`Screen`, not a modal: whatever was below (the live grid) is not drawn at all
while it is shown, and the video's frame clock draws only on the current screen (see
docs/design/live-view.md), so nothing of the cameras shows through. Only the person signed in
can unlock it, with their password; wrong passwords count toward the account's lockout, and
when the account locks the session ends. Anyone else at the desk uses "switch user", which
signs the session out. The accounts service audits lock, unlock and sign-out.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from registry.i18n import _
from registry.session import Session
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.session_events import SessionOver, SessionUnlocked
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import session_label, site_banner

SWITCH_USER_KEY = "f10"


class LockScreen(Screen[None]):
    #: Textual focuses it whenever the screen becomes current (not from on_mount, which can
    #: run while the app is tearing the screen down)
    AUTO_FOCUS = "#unlock-password"
    CSS_PATH = "session.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(SWITCH_USER_KEY, "switch_user", N_("Switch user"), id="lock.switch_user",
                key_display="F10"),
    ]

    def __init__(self, context: ConsoleContext, session: Session) -> None:
        super().__init__(classes="session-screen")
        translate_bindings(self)
        self.context = context
        self.session = session
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(site_banner(self.context.site_name, self.context.control_room),
                     classes="banner")
        with Center(), Vertical(id="lock-box", classes="form-box"):
            yield Static(_("Console locked"), classes="form-title")
            yield Static(session_label(self.session), id="lock-who")
            yield Label(_("Password of {user}").format(user=escape(self.session.username)))
            yield Input(id="unlock-password", password=True, max_length=256)
            yield Static(id="lock-message", classes="form-message")
            yield Static(_("Enter: unlock · F10: switch user (signs this session out)"),
                         classes="form-hint")
        yield KeyFooter()

    def show_message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#lock-message", Static)
        message.update(escape(text))
        message.set_class(error, "error")

    @on(Input.Submitted, "#unlock-password")
    def _submit(self) -> None:
        password = self.query_one("#unlock-password", Input).value
        if not password:
            self.show_message(_("Type your password."))
            return
        if self.busy:
            return
        self.busy = True
        self.show_message(_("Checking…"), error=False)
        self._unlock(password)

    @work(exclusive=True, group="unlock")
    async def _unlock(self, password: str) -> None:
        accounts = self.context.accounts
        assert accounts is not None, "the console runs with an accounts service"
        try:
            result = await asyncio.to_thread(accounts.unlock, self.session, password)
        finally:
            self.busy = False
        self.query_one("#unlock-password", Input).value = ""
        if result.unlocked:
            self.post_message(SessionUnlocked())
        elif result.signed_out:
            self.post_message(SessionOver("locked_out", already_closed=True,
                                          notice=result.message))
        else:
            self.show_message(result.message)

    def action_switch_user(self) -> None:
        self.post_message(SessionOver("switch_user"))
