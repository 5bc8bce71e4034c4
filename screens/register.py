"""Registro accessi: the operator's own register entries and the visitors in the room (R24, R27).

A third party who views footage in the control room (a police officer from another force, a
data subject with the responsabile's written authorization) is written in the register before
the footage is shown (:class:`~screens.register_form.RegisterFormScreen`), and their time out
is written when they leave ("close visit"). The operator sees their own entries, newest first,
a page at a time; everyone's open visits are listed, because whoever is on duty when the
visitor leaves closes the visit.

The lead opens it with :func:`open_register` (F9). The domain refuses whatever the role lacks
(and audits the refusal); the screen hides those keys (:meth:`RegisterScreen.check_action`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Static

from registry.errors import CentraleError
from registry.i18n import _
from registry.register import AccessKind, RegisterEntry, RegisterFilter
from registry.roles import Permission, PermissionDenied
from registry.session import require
from screens.bindings import N_, translate_bindings
from screens.register_form import (
    RegisterContext,
    RegisterFormScreen,
    clip,
    format_local,
    parse_local,
)
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo

__all__ = ["PAGE_SIZE", "REQUIRED_PERMISSION", "CloseVisitModal", "RegisterScreen",
           "open_register"]

#: Who may open the register screen: a visit shows footage, so it needs ``playback``
#: (registry.register.KIND_PERMISSION); a supervisor holds it too.
REQUIRED_PERMISSION = Permission.PLAYBACK
PAGE_SIZE = 50
#: open visits listed at once (a visit left open for days is closed from the top)
MAX_VISITS_SHOWN = 100

#: action -> the permission it needs (the domain's own rule for the same call)
ACTION_PERMISSIONS: dict[str, Permission] = {
    "new_visit": Permission.PLAYBACK,
    "close_visit": Permission.PLAYBACK,
}


def open_register(app: App[Any], context: RegisterContext) -> bool:
    """Push the register screen, or refuse (audited, notified) without ``playback``."""
    session = context.session
    if session is None:
        return False
    try:
        require(session, REQUIRED_PERMISSION, context.audit, "register")
    except PermissionDenied as e:
        app.notify(e.message, title=e.display_title, severity="error")
        return False
    app.push_screen(RegisterScreen(context))
    return True


def cameras_text(entry: RegisterEntry) -> str:
    return ", ".join(entry.all_cameras)


def third_party_text(entry: RegisterEntry) -> str:
    return entry.third_party.name if entry.third_party else ""


class RegisterScreen(Screen[None]):
    CSS_PATH = "register.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_visit", N_("New visit"), id="register.new_visit"),
        Binding("c", "close_visit", N_("Close visit"), id="register.close_visit"),
        Binding("pagedown", "page(1)", N_("Next pg."), priority=True,
                id="register.page_next"),
        Binding("pageup", "page(-1)", N_("Prev. pg."), priority=True,
                id="register.page_previous"),
        Binding("escape", "back", N_("Back"), id="register.back"),
    ]

    def __init__(self, context: RegisterContext) -> None:
        super().__init__(classes="register-screen")
        translate_bindings(self)
        self.context = context
        self.page = 0
        self.total = 0
        self.visits: list[RegisterEntry] = []

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Access register[/b] · visits and my entries"),
                         classes="banner")
            yield SessionInfo(self.context.session)
        with Vertical(id="register-body"):
            yield Static(_("Visitors in the room (open visits)"), classes="section-title")
            yield DataTable(id="visits", cursor_type="row", zebra_stripes=True)
            yield Static(id="visits-empty", classes="form-hint")
            yield Static(_("My register entries, newest first"), classes="section-title")
            yield DataTable(id="entries", cursor_type="row", zebra_stripes=True)
            yield Static(id="entries-info", classes="form-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        visits = self.query_one("#visits", DataTable)
        visits.add_columns(_("No."), _("Time in"), _("Visitor"), _("Document"),
                           _("Authorization"), _("Cameras"), _("Operator"))
        entries = self.query_one("#entries", DataTable)
        entries.add_columns(_("No."), _("Signed"), _("Kind"), _("Purpose"), _("Cameras"),
                            _("Footage from"), _("to"), _("Third party"), _("Time out"))
        self.refresh_all()
        (visits if self.visits else entries).focus()

    # -- data ------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self._load_visits()
        self._load_entries()
        self.refresh_bindings()

    def _load_visits(self) -> None:
        session = self.context.session
        table = self.query_one("#visits", DataTable)
        table.clear()
        self.visits = []
        if session is None or not session.allows(Permission.PLAYBACK):
            self.query_one("#visits-empty", Static).update("")
            return
        zone = self.context.zone
        every = self.context.register.open_visits(session)
        self.visits = every[:MAX_VISITS_SHOWN]
        for e in self.visits:
            third = e.third_party
            table.add_row(
                str(e.id), format_local(e.at, zone), escape(clip(third.name, 22) if third
                                                            else ""),
                escape(clip(third.document, 16) if third else ""),
                escape(clip(third.authorization_ref, 18) if third else ""),
                escape(clip(cameras_text(e), 18)), escape(clip(e.full_name, 18)),
                key=str(e.id))  # fmt: skip
        hidden = len(every) - len(self.visits)
        self.query_one("#visits-empty", Static).update(
            _("No visitor in the room.") if not every else
            _("{n} more open visits not shown: close the oldest first.").format(n=hidden)
            if hidden else "")

    def _load_entries(self) -> None:
        session = self.context.session
        table = self.query_one("#entries", DataTable)
        table.clear()
        if session is None:
            return
        flt = RegisterFilter(person=session.username)
        register = self.context.register
        self.total = register.count(session, flt)
        pages = max(1, -(-self.total // PAGE_SIZE))
        self.page = min(self.page, pages - 1)
        zone = self.context.zone
        rows = register.entries(session, flt, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
        for e in rows:
            table.add_row(
                str(e.id), format_local(e.at, zone), e.kind.display_title,
                escape(clip(e.purpose_title, 24)), escape(clip(cameras_text(e), 16)),
                format_local(e.span_from, zone), format_local(e.span_to, zone),
                escape(clip(third_party_text(e), 18)),
                format_local(e.time_out, zone) if e.time_out else
                (_("in the room") if e.is_open_visit else ""),
                key=str(e.id))  # fmt: skip
        first = self.page * PAGE_SIZE + 1 if rows else 0
        self.query_one("#entries-info", Static).update(
            _("Entries {first}–{last} of {total} · page {page} of {pages}").format(
                first=first, last=self.page * PAGE_SIZE + len(rows), total=self.total,
                page=self.page + 1, pages=pages) if self.total
            else _("You have signed no register entry yet."))

    def selected_visit(self) -> RegisterEntry | None:
        table = self.query_one("#visits", DataTable)
        if not self.visits or table.cursor_row < 0:
            return None
        return self.visits[min(table.cursor_row, len(self.visits) - 1)]

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides the key (the role lacks it, or there is nothing to act on).
        needed = ACTION_PERMISSIONS.get(action)
        if needed is not None:
            session = self.context.session
            if session is None or not session.allows(needed):
                return False
        if action == "close_visit" and not self.visits:
            return False
        if action == "page":
            step = int(str(parameters[0])) if parameters else 0
            pages = max(1, -(-self.total // PAGE_SIZE))
            return 0 <= self.page + step < pages
        return True

    def action_new_visit(self) -> None:
        self.app.push_screen(RegisterFormScreen(self.context, AccessKind.VISIT),
                             self._signed)

    def _signed(self, entry: RegisterEntry | None) -> None:
        if entry is None:
            return
        self.page = 0
        self.refresh_all()
        self.notify(_("Register entry {id} signed.").format(id=entry.id))

    def action_close_visit(self) -> None:
        visit = self.selected_visit()
        if visit is not None:
            self.app.push_screen(CloseVisitModal(self.context, visit), self._visit_closed)

    def _visit_closed(self, entry: RegisterEntry | None) -> None:
        if entry is None:
            return
        self.refresh_all()
        self.notify(_("Visit {id} closed at {time}.").format(
            id=entry.id, time=format_local(entry.time_out, self.context.zone)))

    def action_page(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self._load_entries()
        self.refresh_bindings()

    def action_back(self) -> None:
        self.dismiss(None)


class CloseVisitModal(ModalScreen[RegisterEntry | None]):
    """The visitor's time out: now, or corrected when the visit ended a little earlier."""

    CSS_PATH = "register.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="register.close_cancel"),
    ]

    def __init__(self, context: RegisterContext, visit: RegisterEntry) -> None:
        super().__init__(classes="register-modal")
        translate_bindings(self)
        self.context = context
        self.visit = visit
        #: "now" as first shown; left as it is, the time out is the moment of the key press
        self.prefilled = format_local(context.clock(), context.zone)

    def compose(self) -> ComposeResult:
        zone = self.context.zone
        third = self.visit.third_party
        with Vertical(classes="modal-box"):
            yield Static(_("Close visit {id}").format(id=self.visit.id), classes="form-title")
            yield Static(_("{visitor}, in the room since {time}.").format(
                visitor=escape(third.name if third else "—"),
                time=format_local(self.visit.at, zone)))
            yield Label(_("Time out (dd/mm/yyyy hh:mm)"))
            yield Input(self.prefilled, id="time-out", max_length=20)
            yield Static(id="close-message", classes="form-message")
            yield Static(_("Enter: close the visit · Escape: cancel"), classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#time-out", Input).focus()

    def _error(self, text: str) -> None:
        message = self.query_one("#close-message", Static)
        message.update(escape(text))
        message.set_class(bool(text), "error")

    @on(Input.Submitted, "#time-out")
    def _submit(self, event: Input.Submitted) -> None:
        session = self.context.session
        if session is None:
            return
        at: datetime | None = None
        if event.value.strip() != self.prefilled:
            try:
                at = parse_local(event.value, self.context.zone)
            except ValueError:
                self._error(_("{text} is not a date and time: write it as dd/mm/yyyy hh:mm")
                            .format(text=event.value.strip()))
                return
            if self.visit.at - timedelta(minutes=1) < at < self.visit.at:
                at = self.visit.at  # the minute of the time in, typed without its seconds
        try:
            entry = self.context.register.close_visit(session, self.visit.id, at)
        except CentraleError as e:
            self._error(e.message)
            return
        self.dismiss(entry)

    def action_cancel(self) -> None:
        self.dismiss(None)
