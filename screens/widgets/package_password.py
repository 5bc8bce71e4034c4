"""The package password: typed twice and checked against the policy, or generated and shown
once (R20). It lives only in these widgets' memory and in the caller's hands: never put in a
visible field, never logged, never stored; a generated one is shown in a modal that asks the
operator to write it down and is gone when the modal closes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from footage.export_package import generate_password, password_problems
from registry.i18n import _
from screens.bindings import N_, translate_bindings

__all__ = ["GeneratedPasswordModal", "PackagePasswordModal"]


class PackagePasswordModal(ModalScreen[str | None]):
    """Dismisses with the accepted password, or None (Esc: nothing is exported)."""

    CSS_PATH = "../export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "ok", N_("Use it"), id="package_password.ok", priority=True),
        Binding("ctrl+g", "generate", N_("Generate"), id="package_password.generate",
                priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="package_password.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="export-modal")
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(_("Package password"), classes="form-section")
            with Horizontal(classes="form-row"):
                yield Label(_("Password"), classes="form-label")
                yield Input(id="password", password=True, compact=True, max_length=256)
            with Horizontal(classes="form-row"):
                yield Label(_("Again"), classes="form-label")
                yield Input(id="repeat", password=True, compact=True, max_length=256)
            yield Static("", id="password-error", classes="message error")
            yield Static(_("The package opens with 7-Zip and this password: give it to the "
                           "recipient separately from the package. Ctrl+G generates one "
                           "(shown once). It is never stored."), classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "password":
            self.query_one("#repeat", Input).focus()
        else:
            self.action_ok()

    def action_ok(self) -> None:
        password = self.query_one("#password", Input).value
        repeat = self.query_one("#repeat", Input)
        problems = password_problems(password, repeat.value)
        if problems:
            self.query_one("#password-error", Static).update(escape(
                _("The package password is refused: {reasons}.").format(
                    reasons="; ".join(problems))))
            repeat.value = ""
            return
        self.dismiss(password)

    def action_generate(self) -> None:
        password = generate_password()

        def written(ok: bool | None) -> None:
            if ok:
                self.dismiss(password)

        self.app.push_screen(GeneratedPasswordModal(password), written)

    def action_cancel(self) -> None:
        self.dismiss(None)


class GeneratedPasswordModal(ModalScreen[bool]):
    """Shows a generated password once; True when the operator says it is written down."""

    CSS_PATH = "../export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "written", N_("Written down"), id="generated_password.ok",
                priority=True),
        Binding("escape", "cancel", N_("Back"), id="generated_password.cancel"),
    ]

    def __init__(self, password: str) -> None:
        super().__init__(classes="export-modal")
        translate_bindings(self)
        self._password = password

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(_("Generated package password"), classes="form-section")
            yield Static(escape(self._password), id="generated")
            yield Static(_("Write it down now: it is shown only this once and is not stored "
                           "anywhere. Give it to the recipient separately from the package. "
                           "Enter: written down, export. Esc: back."), classes="form-hint")

    def action_written(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
