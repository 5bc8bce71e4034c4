"""The forced password change at sign-in (R11): expired, or chosen by someone else.

The person typed their current password at the sign-in screen a moment ago; it is kept only
for the accounts service's check and dropped with this screen. The policy's reasons for a
refusal are listed one per line, so the person sees every rule the new password breaks at once.
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
from registry.passwords import PasswordRejected
from registry.roles import OperatorPresenceRequired
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.cosign import CosignScreen
from screens.session_events import SessionStarted
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import site_banner


class PasswordChangeScreen(Screen[str]):
    """Dismissed with the message for the sign-in screen ("" when cancelled)."""
    #: Textual focuses it whenever the screen becomes current (not from on_mount, which can
    #: run while the app is tearing the screen down)
    AUTO_FOCUS = "#new-password"

    CSS_PATH = "session.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Back to sign-in"), id="password.cancel"),
    ]

    def __init__(self, context: ConsoleContext, username: str, current_password: str,
                 reason: str) -> None:
        super().__init__(classes="session-screen")
        translate_bindings(self)
        self.context = context
        self.username = username
        self._current = current_password
        self.reason = reason
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(site_banner(self.context.site_name, self.context.control_room),
                     classes="banner")
        with Center(), Vertical(id="password-box", classes="form-box"):
            yield Static(_("New password for {user}").format(user=escape(self.username)),
                         classes="form-title")
            yield Static(escape(self.reason), classes="form-hint")
            yield Label(_("New password"))
            yield Input(id="new-password", password=True, max_length=256)
            yield Label(_("Repeat the new password"))
            yield Input(id="repeat-password", password=True, max_length=256)
            yield Static(id="password-message", classes="form-message")
        yield KeyFooter()

    def show_message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#password-message", Static)
        message.update(escape(text))
        message.set_class(error, "error")

    @on(Input.Submitted, "#new-password")
    def _to_repeat(self) -> None:
        self.query_one("#repeat-password", Input).focus()

    @on(Input.Submitted, "#repeat-password")
    def _submit(self) -> None:
        new = self.query_one("#new-password", Input).value
        repeat = self.query_one("#repeat-password", Input).value
        if not new:
            self.show_message(_("Type the new password."))
            self.query_one("#new-password", Input).focus()
            return
        if new != repeat:
            self._clear()
            self.show_message(_("The two passwords differ: type them again."))
            return
        if self.busy:
            return
        self.busy = True
        self.show_message(_("Checking…"), error=False)
        self._change(new)

    def _clear(self) -> None:
        self.query_one("#new-password", Input).value = ""
        self.query_one("#repeat-password", Input).value = ""
        self.query_one("#new-password", Input).focus()

    @work(exclusive=True, group="password")
    async def _change(self, new: str) -> None:
        accounts = self.context.accounts
        assert accounts is not None, "the console runs with an accounts service"
        try:
            session = await asyncio.to_thread(
                accounts.change_expired_password, self.username, self._current, new
            )
        except OperatorPresenceRequired as exc:
            # a technician: the password is changed, now the operator present co-signs
            self.app.push_screen(CosignScreen(self.context, self.username, new, exc.message),
                                 self._after_cosign)
            return
        except PasswordRejected as exc:
            self._clear()
            self.show_message(exc.message)
            return
        except CentraleError as exc:
            # wrong current password or a disabled account: nothing to do here but go back
            self.dismiss(f"{exc.display_title}: {exc.message}")
            return
        finally:
            self.busy = False
        self._current = ""
        self.post_message(SessionStarted(session))

    def _after_cosign(self, message: str | None) -> None:
        # the co-signature was cancelled: back to the sign-in screen with its message
        self.dismiss(message or "")

    def action_cancel(self) -> None:
        self._current = ""
        self.dismiss("")
