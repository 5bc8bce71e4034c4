"""Verifica accessi: the responsabile's periodic review of the access register (R25).

Lumezzane 10ter.5 makes the responsabile verify the accesses of the authorised staff and
their reasons. This screen lists the register a page at a time (the domain's limit/offset: a
register of a million entries is never loaded whole), filtered by period, person, camera,
purpose and review state; shows the selected entry in full with the audit events around it
(what its signer did before and after); marks it reviewed with a note (the domain audits it
and refuses one's own entries); and exports the period's register to CSV and to the printable
PDF in ``exports/register/`` of the data directory, audited like ``centrale register export``.

At the top, the audit trail's verification, run in a worker thread (a long chain takes
seconds and the screen stays usable): a register whose trail is broken cannot be trusted, so
a break is shown in the error colour with the first bad entry.

The lead opens it with :func:`open_review` (F8).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Select, Static

from registry.audit import VerifyResult
from registry.errors import CentraleError
from registry.i18n import _, ngettext
from registry.register import RegisterEntry, RegisterFilter
from registry.roles import Permission, PermissionDenied
from registry.session import Session, require
from screens.bindings import N_, translate_bindings
from screens.register_form import (
    RegisterContext,
    clip,
    format_local,
    parse_local,
)
from screens.widgets.footer import KeyFooter
from screens.widgets.register_review import (
    AROUND_MINUTES,
    REGISTER_EXPORTED,
    chain_text,
    entry_detail,
    export_register_period,
)
from screens.widgets.session_info import SessionInfo

__all__ = ["PAGE_SIZE", "REGISTER_EXPORTED", "REQUIRED_PERMISSION", "ReviewNoteModal",
           "ReviewScreen", "chain_text", "entry_detail", "export_register_period",
           "open_review"]

REQUIRED_PERMISSION = Permission.REVIEW_REGISTER
PAGE_SIZE = 50
SHORT_TIME = "%d/%m/%y %H:%M"
SHORT_DAY = "%d/%m/%y"

REVIEWED_CHOICES = (("all", N_("All")), ("no", N_("To review")), ("yes", N_("Reviewed")))


def open_review(app: App[Any], context: RegisterContext) -> bool:
    """Push the review screen, or refuse (audited, notified) without ``review_register``."""
    session = context.session
    if session is None:
        return False
    try:
        require(session, REQUIRED_PERMISSION, context.audit, "register/review")
    except PermissionDenied as e:
        app.notify(e.message, title=e.display_title, severity="error")
        return False
    app.push_screen(ReviewScreen(context))
    return True


class ChainVerified(Message):
    """Posted by the verification thread: the UI updates only on its own thread."""

    def __init__(self, result: VerifyResult, generation: int) -> None:
        super().__init__()
        self.result = result
        self.generation = generation


class ExportDone(Message):
    def __init__(self, path: Path | None, count: int, error: str = "") -> None:
        super().__init__()
        self.path = path
        self.count = count
        self.error = error


class ReviewScreen(Screen[None]):
    CSS_PATH = "register.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "mark_reviewed", N_("Mark reviewed"), id="review.mark_reviewed"),
        Binding("e", "export('csv')", N_("Export CSV"), id="review.export_csv"),
        Binding("p", "export('pdf')", N_("Export PDF"), id="review.export_pdf"),
        Binding("v", "verify", N_("Verify trail"), id="review.verify"),
        Binding("f", "filters", N_("Filters"), id="review.filters"),
        Binding("pagedown", "page(1)", N_("Next pg."), priority=True, id="review.page_next"),
        Binding("pageup", "page(-1)", N_("Prev. pg."), priority=True,
                id="review.page_previous"),
        Binding("escape", "back", N_("Back"), id="review.back"),
    ]

    def __init__(self, context: RegisterContext) -> None:
        super().__init__(classes="register-screen")
        translate_bindings(self)
        self.context = context
        self.filter = RegisterFilter()
        self.page = 0
        self.total = 0
        self.rows: list[RegisterEntry] = []
        self.selected: RegisterEntry | None = None
        self.chain: VerifyResult | None = None
        self.exporting = False
        self.last_export: Path | None = None
        self._generation = 0
        #: set once the permission is checked and the table has its columns
        self.ready = False

    # -- composition ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Access review[/b] · verification of the register"),
                         classes="banner")
            yield SessionInfo(self.context.session)
        yield Static(chain_text(None), id="chain-status")
        with Vertical(id="filters"):
            with Horizontal(classes="filter-row"):
                yield Label(_("From"))
                yield Input(id="filter-from", compact=True, max_length=10,
                            placeholder=_("dd/mm/yyyy"))
                yield Label(_("To"))
                yield Input(id="filter-to", compact=True, max_length=10,
                            placeholder=_("dd/mm/yyyy"))
                yield Label(_("Person"))
                yield Input(id="filter-person", compact=True, max_length=64,
                            placeholder=_("user name"))
                yield Label(_("Reviewed"))
                yield Select([(_(t), v) for v, t in REVIEWED_CHOICES], value="all",
                             allow_blank=False, compact=True, id="filter-reviewed")
            with Horizontal(classes="filter-row"):
                yield Label(_("Camera"))
                yield Select([(f"{c.id} · {c.name}", c.id) for c in self.context.console.cameras],
                             prompt=_("any camera"), compact=True, id="filter-camera")
                yield Label(_("Purpose"))
                yield Select([(p.display_title, p.code)
                              for p in self.context.register.purposes()],
                             prompt=_("any purpose"), compact=True, id="filter-purpose")
            yield Static(id="filter-error")
        with Horizontal(id="review-body"):
            yield DataTable(id="review-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="review-detail"):
                yield Static(_("Choose an entry to see it in full."), id="detail")
        yield Static(id="review-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        session = self.context.session
        try:
            if session is None:
                raise PermissionDenied("—", REQUIRED_PERMISSION)
            require(session, REQUIRED_PERMISSION, self.context.audit, "register/review")
        except PermissionDenied as e:
            # Pushed without the permission (the keys are hidden anyway): refused, audited.
            self.app.notify(e.message, title=e.display_title, severity="error")
            self.dismiss(None)
            return
        table = self.query_one("#review-table", DataTable)
        table.add_columns(_("No."), _("Signed"), _("Operator"), _("Kind"), _("Reviewed"),
                          _("Purpose"), _("Cameras"), _("Third party"))
        self.ready = True
        self.load()
        table.focus()
        self.action_verify()

    # -- the chain -------------------------------------------------------------------------

    def action_verify(self) -> None:
        self._generation += 1
        self.chain = None
        self._show_chain()
        self._verify(self._generation)

    @work(thread=True, exclusive=True, group="verify-trail")
    def _verify(self, generation: int) -> None:
        # One check is enough: verify() reads one snapshot, so appends made meanwhile at
        # other desks are never taken for tampering (registry/audit.py).
        verify = self.context.verify_trail or self.context.audit.verify
        self.post_message(ChainVerified(verify(), generation))

    def on_chain_verified(self, message: ChainVerified) -> None:
        # A verification started before a newer one (e.g. after a review) is stale.
        if message.generation == self._generation:
            self.chain = message.result
            self._show_chain()

    def _show_chain(self) -> None:
        status = self.query_one("#chain-status", Static)
        status.update(escape(chain_text(self.chain)))
        status.set_class(self.chain is not None and self.chain.ok, "intact")
        status.set_class(self.chain is not None and not self.chain.ok, "broken")

    # -- filters and pages -----------------------------------------------------------------

    def read_filter(self) -> RegisterFilter | None:
        """The filter bar as a :class:`RegisterFilter`, or None after showing what is wrong."""
        zone = self.context.zone
        days: dict[str, datetime | None] = {}
        for key in ("from", "to"):
            text = self.query_one(f"#filter-{key}", Input).value.strip()
            if not text:
                days[key] = None
                continue
            try:
                days[key] = parse_local(text, zone, day_only=True)
            except ValueError:
                self._filter_error(_("{text} is not a day: write it as dd/mm/yyyy").format(
                    text=text))
                self.query_one(f"#filter-{key}", Input).focus()
                return None
        start, last = days["from"], days["to"]
        if start is not None and last is not None and last < start:
            self._filter_error(_("The period ends before it starts."))
            return None
        self._filter_error("")
        person = self.query_one("#filter-person", Input).value.strip() or None
        camera = self.query_one("#filter-camera", Select).value
        purpose = self.query_one("#filter-purpose", Select).value
        reviewed = self.query_one("#filter-reviewed", Select).value
        return RegisterFilter(
            period_from=start, period_to=last + timedelta(days=1) if last else None,
            person=person, camera=camera if isinstance(camera, str) else None,
            purpose=purpose if isinstance(purpose, str) else None,
            reviewed={"yes": True, "no": False}.get(str(reviewed)),
        )  # fmt: skip

    def _filter_error(self, text: str) -> None:
        self.query_one("#filter-error", Static).update(escape(text))

    def apply_filters(self) -> None:
        flt = self.read_filter()
        if flt is None:
            return
        self.filter = flt
        self.page = 0
        self.load()

    @on(Input.Submitted, "#filters Input")
    def _input_submitted(self) -> None:
        self.apply_filters()

    @on(Select.Changed, "#filters Select")
    def _select_changed(self) -> None:
        if self.ready:
            self.apply_filters()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def load(self, keep: int | None = None, *, recount: bool = True) -> None:
        """Read one page for the current filter (counting it again unless only paging);
        keep entry *keep* selected."""
        session = self.context.session
        if session is None or not self.ready:
            return
        register = self.context.register
        if recount:
            self.total = register.count(session, self.filter)
        self.page = min(self.page, self.pages - 1)
        self.rows = register.entries(session, self.filter, limit=PAGE_SIZE,
                                     offset=self.page * PAGE_SIZE)
        table = self.query_one("#review-table", DataTable)
        table.clear()
        zone = self.context.zone
        for e in self.rows:
            table.add_row(
                str(e.id), format_local(e.at, zone, SHORT_TIME), escape(clip(e.username, 12)),
                e.kind.display_title,
                format_local(e.review.at, zone, SHORT_DAY) if e.review else _("to review"),
                escape(clip(e.purpose_title, 18)),
                escape(clip(", ".join(e.all_cameras), 20)),
                escape(clip(e.third_party.name, 20) if e.third_party else ""),
                key=str(e.id))  # fmt: skip
        index = next((i for i, e in enumerate(self.rows) if e.id == keep), 0)
        if self.rows:
            table.move_cursor(row=index)
        self.show_entry(self.rows[index] if self.rows else None)
        self._show_status()
        self.refresh_bindings()

    def _show_status(self, extra: str = "") -> None:
        first = self.page * PAGE_SIZE + 1 if self.rows else 0
        text = (_("Entries {first}–{last} of {total} · page {page} of {pages}").format(
            first=first, last=self.page * PAGE_SIZE + len(self.rows), total=self.total,
            page=self.page + 1, pages=self.pages) if self.total
            else _("No register entry matches the filters."))
        if self.last_export is not None:
            text += " · " + _("last export: {path}").format(path=self.last_export)
        self.query_one("#review-status", Static).update(escape(text + extra))

    def action_page(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.load(recount=False)

    def action_filters(self) -> None:
        self.query_one("#filter-from", Input).focus()

    # -- the selected entry ----------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#review-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        entry = next((e for e in self.rows if str(e.id) == key), None)
        if entry is not self.selected:
            self.show_entry(entry)

    def show_entry(self, entry: RegisterEntry | None) -> None:
        self.selected = entry
        detail = self.query_one("#detail", Static)
        session = self.context.session
        if entry is None or session is None:
            detail.update(_("Choose an entry to see it in full."))
        else:
            try:
                events = self.context.register.events_around(session, entry.id,
                                                             AROUND_MINUTES)
            except CentraleError as e:
                events = []
                self.notify(e.message, title=e.display_title, severity="error")
            detail.update(entry_detail(entry, events, self.context.zone))
        self.refresh_bindings()

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.context.session
        if action in ("mark_reviewed", "export", "verify", "filters", "page") and (
                session is None or not session.allows(REQUIRED_PERMISSION)):
            return False
        if action == "mark_reviewed":
            e = self.selected
            # Greyed, not hidden: the supervisor sees why nothing happens on their own entry.
            if e is None or e.review is not None or e.username == session_username(session):
                return None
        if action == "export" and self.exporting:
            return None
        if action == "page":
            step = int(str(parameters[0])) if parameters else 0
            return 0 <= self.page + step < self.pages
        return True

    def action_mark_reviewed(self) -> None:
        entry = self.selected
        if entry is not None:
            self.app.push_screen(ReviewNoteModal(self.context, entry), self._reviewed)

    def _reviewed(self, entry: RegisterEntry | None) -> None:
        if entry is None:
            return
        self.load(keep=entry.id)
        self.notify(_("Entry {id} marked reviewed.").format(id=entry.id))
        self.action_verify()

    # -- export ----------------------------------------------------------------------------

    def export_period(self) -> tuple[date, date]:
        """The days to export: the filter's period, else from the first entry to today."""
        zone = self.context.zone
        today = self.context.clock().astimezone(zone).date()
        flt = self.filter
        last = ((flt.period_to - timedelta(days=1)).date() if flt.period_to else today)
        if flt.period_from is not None:
            return flt.period_from.date(), last
        session = self.context.session
        first_entry = next(iter(self.context.register.iter_entries(
            session, RegisterFilter(period_to=flt.period_to), batch=1)), None) \
            if session else None
        first = first_entry.at.astimezone(zone).date() if first_entry else last
        return min(first, last), last

    def action_export(self, fmt: str) -> None:
        session = self.context.session
        if session is None or self.exporting:
            return
        first, last = self.export_period()
        stamp = self.context.clock().astimezone(self.context.zone).strftime("%Y%m%d-%H%M%S")
        path = (self.context.export_dir /
                f"registro-accessi_{first:%Y%m%d}-{last:%Y%m%d}_{stamp}.{fmt}")
        self.exporting = True
        self.refresh_bindings()
        self.query_one("#review-status", Static).update(
            _("Exporting the register from {first} to {last}…").format(
                first=f"{first:%d/%m/%Y}", last=f"{last:%d/%m/%Y}"))
        self._export(session, fmt, first, last, path)

    @work(thread=True, exclusive=True, group="register-export")
    def _export(self, session: Session, fmt: str, first: date, last: date, path: Path) -> None:
        try:
            count = export_register_period(self.context, session, fmt, first, last, path)
        except (CentraleError, OSError) as e:
            self.post_message(ExportDone(None, 0, str(e)))
            return
        self.post_message(ExportDone(path, count))

    def on_export_done(self, message: ExportDone) -> None:
        self.exporting = False
        self.refresh_bindings()
        if message.path is None:
            self.notify(message.error, title=_("Export failed"), severity="error",
                        timeout=15)
            self._show_status()
            return
        self.last_export = message.path
        self._show_status()
        self.notify(ngettext("{n} entry written to {path}", "{n} entries written to {path}",
                             message.count).format(n=message.count, path=message.path),
                    title=_("Register exported"), timeout=15)
        self.action_verify()

    def action_back(self) -> None:
        self.dismiss(None)


def session_username(session: Session | None) -> str | None:
    return session.username if session is not None else None


class ReviewNoteModal(ModalScreen[RegisterEntry | None]):
    """The outcome of the verification, written with the review (and audited)."""

    CSS_PATH = "register.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="review.note_cancel"),
    ]

    def __init__(self, context: RegisterContext, entry: RegisterEntry) -> None:
        super().__init__(classes="register-modal")
        translate_bindings(self)
        self.context = context
        self.entry = entry

    def compose(self) -> ComposeResult:
        e = self.entry
        with Vertical(classes="modal-box"):
            yield Static(_("Mark entry {id} reviewed").format(id=e.id), classes="form-title")
            yield Static(escape(f"{format_local(e.at, self.context.zone)} · {e.full_name} · "
                                f"{e.purpose_title}"))
            yield Label(_("Outcome of the review"))
            yield Input(id="review-note", max_length=1000,
                        placeholder=_("e.g. purpose and authorization checked"))
            yield Static(id="note-message", classes="form-message")
            yield Static(_("Enter: mark reviewed · Escape: cancel"), classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#review-note", Input).focus()

    @on(Input.Submitted, "#review-note")
    def _submit(self, event: Input.Submitted) -> None:
        session = self.context.session
        if session is None:
            return
        try:
            entry = self.context.register.mark_reviewed(session, self.entry.id, event.value)
        except CentraleError as e:
            message = self.query_one("#note-message", Static)
            message.update(escape(e.message))
            message.add_class("error")
            return
        self.dismiss(entry)

    def action_cancel(self) -> None:
        self.dismiss(None)

