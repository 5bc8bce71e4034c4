"""The sign-in screen: the console's first screen, with no camera on it (R3, R10).

Nothing here opens a stream: the stream hub opens a camera only for a mounted tile, and no
tile exists before a session does. The password is checked by the accounts service in a
thread (argon2 takes a noticeable fraction of a second by design); the screen only shows the
service's verdict. Keyboard only: Enter moves from the user name to the password and signs in.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from registry.accounts_core import SignInResult
from registry.i18n import _
from registry.people import Outcome
from registry.roles import role_named
from screens.bindings import translate_bindings
from screens.context import ConsoleContext, DemoAccount
from screens.cosign import CosignScreen
from screens.password import PasswordChangeScreen
from screens.session_events import SessionStarted
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import site_banner


def demo_table(accounts: list[DemoAccount]) -> Table:
    """The demo accounts with their passwords: shown in demo mode only."""
    table = Table(title=_("Demo accounts (demo only: try each role)"), expand=False,
                  title_style="bold", show_edge=True)
    table.add_column(_("User name"))
    table.add_column(_("Password"))
    table.add_column(_("Role"))
    for account in accounts:
        table.add_row(account.username, account.password,
                      role_named(account.role).display_title)
    return table


class SignInScreen(Screen[None]):
    #: Textual focuses it whenever the screen becomes current (not from on_mount, which can
    #: run while the app is tearing the screen down)
    AUTO_FOCUS = "#username"
    CSS_PATH = "session.tcss"
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, context: ConsoleContext, notice: str = "") -> None:
        super().__init__(classes="session-screen")
        translate_bindings(self)
        self.context = context
        #: shown once, e.g. why the previous session ended
        self.notice = notice
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(site_banner(self.context.site_name, self.context.control_room),
                     classes="banner")
        with Center(), Vertical(id="signin-box", classes="form-box"):
            yield Static(_("Sign in"), classes="form-title")
            yield Label(_("User name"))
            yield Input(id="username", max_length=64, select_on_focus=False)
            yield Label(_("Password"))
            yield Input(id="password", password=True, max_length=256)
            yield Static(escape(self.notice), id="signin-message", classes="form-message")
            yield Static(_("Enter: next field, then sign in"), classes="form-hint")
        if self.context.demo_accounts:
            with Center():
                yield Static(demo_table(self.context.demo_accounts), id="demo-accounts")
        yield KeyFooter()

    # -- form ------------------------------------------------------------------------------

    def show_message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#signin-message", Static)
        message.update(escape(text))
        message.set_class(error, "error")

    @on(Input.Submitted, "#username")
    def _to_password(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    def _submit(self) -> None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not username:
            self.show_message(_("Type your user name."))
            self.query_one("#username", Input).focus()
            return
        if not password:
            self.show_message(_("Type your password."))
            return
        if self.busy:
            return
        self.busy = True
        self.show_message(_("Checking…"), error=False)
        self._sign_in(username, password)

    @work(exclusive=True, group="sign-in")
    async def _sign_in(self, username: str, password: str) -> None:
        accounts = self.context.accounts
        assert accounts is not None, "the console runs with an accounts service"
        try:
            result = await asyncio.to_thread(accounts.sign_in, username, password)
        finally:
            self.busy = False
        self._handle(result, username, password)

    def _handle(self, result: SignInResult, username: str, password: str) -> None:
        password_input = self.query_one("#password", Input)
        password_input.value = ""
        if result.session is not None:
            self.show_message("", error=False)
            self.post_message(SessionStarted(result.session))
            return
        if result.cosigner_required:
            self.show_message("", error=False)
            self.app.push_screen(CosignScreen(self.context, username, password, result.message),
                                 self._back_here)
            return
        if result.outcome is Outcome.MUST_CHANGE_PASSWORD:
            self.show_message("", error=False)
            self.app.push_screen(PasswordChangeScreen(self.context, username, password,
                                                      result.message), self._back_here)
            return
        self.show_message(result.message)
        password_input.focus()

    def _back_here(self, message: str | None) -> None:
        """Back from the password change or the co-signature without a session."""
        self.reset(message or "", error=bool(message))

    def reset(self, notice: str = "", *, error: bool = False) -> None:
        """Empty the form for the next person."""
        self.query_one("#username", Input).value = ""
        self.query_one("#password", Input).value = ""
        self.show_message(notice, error=error)
        self.query_one("#username", Input).focus()
