"""Conservazioni: footage kept past its retention term under a legal ground (R17, R30).

Lists every hold (in force, expired, released) and places, extends and releases them through
:class:`footage.holds.Holds`, which checks the ``hold`` permission (refusals audited) and
audits every change; this screen only collects the fields. Holds name investigations, so
only ``hold`` may even list them. The lead opens it with :func:`open_holds`.

Times are typed as dd/mm/yyyy hh:mm in the site's time zone. A refusal of the domain
(``HoldError``: "authority: ...", "expires: ...") is shown in the form, which keeps every
typed value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Select, Static

from footage.holds import Ground, Holds, is_active
from registry.clock import utc_now
from registry.errors import CentraleError
from registry.i18n import _
from registry.roles import Permission, PermissionDenied
from registry.session import Session, require
from registry.store_footage import HoldRow
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.register_form import clip, format_local, parse_local
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo

__all__ = ["REQUIRED_PERMISSION", "HoldFormModal", "HoldsContext", "HoldsScreen",
           "ReleaseHoldModal", "hold_state", "open_holds"]

REQUIRED_PERMISSION = Permission.HOLD
#: dates in the table (the detail below it has them in full)
SHORT = "%d/%m/%y %H:%M"


@dataclass
class HoldsContext:
    console: ConsoleContext
    holds: Holds
    #: tests pass a fixed one
    clock: Callable[[], datetime] = utc_now

    @property
    def session(self) -> Session | None:
        return self.console.session

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.console.timezone)


def open_holds(app: App[Any], context: HoldsContext) -> bool:
    """Push the holds screen, or refuse (audited, notified) without ``hold``."""
    session = context.session
    if session is None:
        return False
    try:
        require(session, REQUIRED_PERMISSION, context.holds.audit, "holds")
    except PermissionDenied as e:
        app.notify(e.message, title=e.display_title, severity="error")
        return False
    app.push_screen(HoldsScreen(context))
    return True


def hold_state(hold: HoldRow, now: datetime) -> str:
    if hold.released_at is not None:
        return _("released")
    return _("in force") if is_active(hold, now) else _("expired")


class HoldsScreen(Screen[None]):
    CSS_PATH = "playback.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", N_("New hold"), id="holds.new"),
        Binding("e", "extend", N_("Extend"), id="holds.extend"),
        Binding("r", "release", N_("Release"), id="holds.release"),
        Binding("escape", "back", N_("Back"), id="holds.back"),
    ]

    def __init__(self, context: HoldsContext) -> None:
        super().__init__(classes="playback-screen")
        translate_bindings(self)
        self.context = context
        self.rows: list[HoldRow] = []

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Holds[/b] · footage kept past its term under a legal ground"),
                         classes="banner")
            yield SessionInfo(self.context.session)
        with Vertical(id="holds-body"):
            yield DataTable(id="holds", cursor_type="row", zebra_stripes=True)
            yield Static("", id="hold-detail")
            yield Static("", id="holds-message", classes="form-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#holds", DataTable)
        table.add_columns(_("No."), _("State"), _("Ground"), _("Reference"), _("Cameras"),
                          _("Footage"), _("Expires"))
        self.reload()
        table.focus()

    def reload(self, select: int | None = None) -> None:
        session = self.context.session
        if session is None:
            return
        try:
            self.rows = list(reversed(self.context.holds.listing(session)))
        except CentraleError as e:
            self.message(e.message)
            return
        zone, now = self.context.zone, self.context.clock()
        table = self.query_one("#holds", DataTable)
        table.clear()
        for h in self.rows:
            table.add_row(str(h.id), hold_state(h, now), clip(Ground(h.ground).label, 19),
                          clip(h.reference, 14), clip(", ".join(h.cameras), 14),
                          f"{format_local(h.span_start, zone, SHORT)}–"
                          f"{format_local(h.span_end, zone, SHORT)}",
                          format_local(h.expires_at, zone, SHORT), key=str(h.id))  # fmt: skip
        if select is not None:
            ids = [h.id for h in self.rows]
            if select in ids:
                table.move_cursor(row=ids.index(select))
        if not self.rows:
            self.message(_("No holds. N places one."))
        self._show_detail()

    def message(self, text: str) -> None:
        self.query_one("#holds-message", Static).update(escape(text))

    def selected(self) -> HoldRow | None:
        table = self.query_one("#holds", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#holds")
    def _show_detail(self) -> None:
        h = self.selected()
        detail = self.query_one("#hold-detail", Static)
        if h is None:
            detail.update("")
            return
        zone = self.context.zone
        lines = [f"[b]{escape(Ground(h.ground).label)}[/b] — {escape(h.authority)}, "
                 f"{escape(h.reference)}",
                 _("Cameras {cams}; footage from {start} to {end}; expires {exp}").format(
                     cams=escape(", ".join(h.cameras)), start=format_local(h.span_start, zone),
                     end=format_local(h.span_end, zone), exp=format_local(h.expires_at, zone)),
                 _("Placed by {who} on {at}").format(who=escape(h.placed_by),
                                                    at=format_local(h.placed_at, zone))]
        if h.note:
            lines.append(_("Note: {note}").format(note=escape(h.note)))
        if h.released_at is not None:
            lines.append(_("Released by {who} on {at}: {reason}").format(
                who=escape(h.released_by or ""), at=format_local(h.released_at, zone),
                reason=escape(h.release_reason or "")))
        detail.update("\n".join(lines))

    def _done(self, hold: HoldRow | None) -> None:
        if hold is not None:
            self.reload(select=hold.id)
            self.message(_("Hold {id} saved.").format(id=hold.id))

    def action_new(self) -> None:
        self.app.push_screen(HoldFormModal(self.context), self._done)

    def action_extend(self) -> None:
        h = self.selected()
        if h is None:
            return
        if not is_active(h, self.context.clock()):
            self.message(_("Hold {id} is released or expired: place a new one.").format(id=h.id))
            return
        self.app.push_screen(HoldFormModal(self.context, h), self._done)

    def action_release(self) -> None:
        h = self.selected()
        if h is None:
            return
        if h.released_at is not None:
            self.message(_("Hold {id} is already released.").format(id=h.id))
            return
        self.app.push_screen(ReleaseHoldModal(self.context, h), self._done)

    def action_back(self) -> None:
        self.dismiss(None)


class HoldFormModal(ModalScreen[HoldRow | None]):
    """A new hold, or (given ``hold``) its extension: later expiry, wider span."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", N_("Save"), id="hold_form.submit", priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="hold_form.cancel"),
    ]

    def __init__(self, context: HoldsContext, hold: HoldRow | None = None) -> None:
        super().__init__(classes="playback-modal")
        translate_bindings(self)
        self.context = context
        self.hold = hold
        self.busy = False

    def _row(self, label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget

    def compose(self) -> ComposeResult:
        h, zone = self.hold, self.context.zone
        extending = h is not None
        with Vertical(classes="modal-box"):
            yield Static(_("Extend hold {id}").format(id=h.id) if h else _("New hold"),
                         classes="form-section")
            ground: Select[str] = Select([(g.label, g.value) for g in Ground],
                                         prompt=_("Choose the legal ground"), compact=True,
                                         id="ground", disabled=extending)
            if h is not None:
                ground.value = h.ground
            yield from self._row(_("Ground"), ground)
            for field, label, value in (
                ("authority", _("Authority"), h.authority if h else ""),
                ("reference", _("Reference no."), h.reference if h else ""),
                ("cameras", _("Cameras"), ", ".join(h.cameras) if h else ""),
            ):
                yield from self._row(label, Input(value, id=field, compact=True, max_length=200,
                                                  disabled=extending))
            for field, label, at in (
                ("span_start", _("Footage from"), h.span_start if h else None),
                ("span_end", _("Footage to"), h.span_end if h else None),
                ("expires_at", _("Expires"), h.expires_at if h else None),
            ):
                yield from self._row(label, Input(format_local(at, zone), id=field,
                                                  compact=True, max_length=20,
                                                  placeholder=_("dd/mm/yyyy hh:mm")))
            yield from self._row(_("Note"), Input(h.note if h else "", id="note", compact=True,
                                                  max_length=500, disabled=extending))
            yield Static("", id="hold-error", classes="field-error")
            yield Static(_("Cameras: ids separated by commas. Times in {zone}. Ctrl+S: save; "
                           "Esc: cancel.").format(zone=zone.key), classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#span_start" if self.hold else "#ground").focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def _time(self, field: str) -> datetime:
        text = self._value(field).strip()
        try:
            return parse_local(text, self.context.zone)
        except ValueError:
            label = {"span_start": _("Footage from"), "span_end": _("Footage to"),
                     "expires_at": _("Expires")}[field]
            raise ValueError(_("{field}: {text} is not a date and time: write it as "
                               "dd/mm/yyyy hh:mm").format(field=label, text=text or "—")
                             ) from None

    def show_error(self, text: str) -> None:
        error = self.query_one("#hold-error", Static)
        error.update(escape(text))
        error.set_class(bool(text), "shown")

    def action_submit(self) -> None:
        session = self.context.session
        if self.busy or session is None:
            return
        try:
            times = {f: self._time(f) for f in ("span_start", "span_end", "expires_at")}
        except ValueError as e:
            self.show_error(str(e))
            return
        ground = self.query_one("#ground", Select).value
        if self.hold is None and not isinstance(ground, str):
            self.show_error(_("ground: choose the legal ground"))
            return
        self.show_error("")
        self.busy = True
        holds = self.context.holds
        if self.hold is not None:
            hold_id = self.hold.id
            self._save(lambda: holds.extend(session, hold_id, **times))
        else:
            cameras = self._value("cameras").replace(";", ",").split(",")
            self._save(lambda: holds.create(
                session, ground=str(ground), authority=self._value("authority"),
                reference=self._value("reference"), cameras=cameras,
                note=self._value("note"), **times))

    @work(exclusive=True, group="hold-save")
    async def _save(self, call: Callable[[], HoldRow]) -> None:
        try:
            hold = await asyncio.to_thread(call)
        except CentraleError as e:
            self.show_error(e.message)
            return
        finally:
            self.busy = False
        self.dismiss(hold)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReleaseHoldModal(ModalScreen[HoldRow | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="hold_release.cancel"),
    ]

    def __init__(self, context: HoldsContext, hold: HoldRow) -> None:
        super().__init__(classes="playback-modal")
        translate_bindings(self)
        self.context = context
        self.hold = hold

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(_("Release hold {id} ({reference})").format(
                id=self.hold.id, reference=escape(self.hold.reference)), classes="form-section")
            yield Static(_("Its footage goes back under the retention term: what is older than "
                           "the term is deleted at the next purge."), classes="form-hint")
            with Horizontal(classes="form-row"):
                yield Label(_("Reason"), classes="form-label")
                yield Input(id="reason", compact=True, max_length=500)
            yield Static("", id="hold-error", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _submitted(self) -> None:
        session = self.context.session
        if session is None:
            return
        try:
            hold = self.context.holds.release(session, self.hold.id,
                                              self.query_one("#reason", Input).value)
        except CentraleError as e:
            error = self.query_one("#hold-error", Static)
            error.update(escape(e.message))
            error.set_class(True, "shown")
            return
        self.dismiss(hold)

    def action_cancel(self) -> None:
        self.dismiss(None)
