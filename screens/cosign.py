"""The operator's co-signature that opens a technician's maintenance session (R14).

A technician works only with an authorised operator present: after the technician's own
password, the operator types theirs here. The accounts service checks both (every failure
counts toward each person's lockout) and writes both names to the trail; the session then
shows both in its header.
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

from registry.errors import CentraleError
from registry.i18n import _
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.session_events import SessionStarted
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import site_banner


class CosignScreen(Screen[str]):
    """Dismissed with the message for the sign-in screen ("" when cancelled)."""
    #: Textual focuses it whenever the screen becomes current (not from on_mount, which can
    #: run while the app is tearing the screen down)
    AUTO_FOCUS = "#operator"

    CSS_PATH = "session.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Back to sign-in"), id="cosign.cancel"),
    ]

    def __init__(self, context: ConsoleContext, technician: str, technician_password: str,
                 reason: str) -> None:
        super().__init__(classes="session-screen")
        translate_bindings(self)
        self.context = context
        self.technician = technician
        self._technician_password = technician_password
        self.reason = reason
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(site_banner(self.context.site_name, self.context.control_room),
                     classes="banner")
        with Center(), Vertical(id="cosign-box", classes="form-box"):
            yield Static(_("Operator present for {user}").format(user=escape(self.technician)),
                         classes="form-title")
            yield Static(escape(self.reason), classes="form-hint")
            yield Label(_("Operator's user name"))
            yield Input(id="operator", max_length=64, select_on_focus=False)
            yield Label(_("Operator's password"))
            yield Input(id="operator-password", password=True, max_length=256)
            yield Static(id="cosign-message", classes="form-message")
        yield KeyFooter()

    def show_message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#cosign-message", Static)
        message.update(escape(text))
        message.set_class(error, "error")

    @on(Input.Submitted, "#operator")
    def _to_password(self) -> None:
        self.query_one("#operator-password", Input).focus()

    @on(Input.Submitted, "#operator-password")
    def _submit(self) -> None:
        operator = self.query_one("#operator", Input).value.strip()
        password = self.query_one("#operator-password", Input).value
        if not operator:
            self.show_message(_("An operator allowed to watch the cameras must sign here."))
            self.query_one("#operator", Input).focus()
            return
        if not password:
            self.show_message(_("Type the operator's password."))
            return
        if self.busy:
            return
        self.busy = True
        self.show_message(_("Checking…"), error=False)
        self._cosign(operator, password)

    @work(exclusive=True, group="cosign")
    async def _cosign(self, operator: str, password: str) -> None:
        accounts = self.context.accounts
        assert accounts is not None, "the console runs with an accounts service"
        try:
            result = await asyncio.to_thread(
                accounts.cosign, self.technician, self._technician_password, operator, password
            )
        except CentraleError as exc:  # a co-signer who is the same person or may not watch
            self.query_one("#operator-password", Input).value = ""
            self.show_message(exc.message)
            return
        finally:
            self.busy = False
        self.query_one("#operator-password", Input).value = ""
        if result.session is not None:
            self._technician_password = ""
            self.post_message(SessionStarted(result.session))
            return
        self.show_message(result.message)
        self.query_one("#operator-password", Input).focus()

    def action_cancel(self) -> None:
        self._technician_password = ""
        self.dismiss("")
