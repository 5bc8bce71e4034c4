"""Supporti rimovibili: exported packages until delivered or destroyed (R23; issue 6).

The list of packages the export wrote and their state (on disk, copied to a medium,
delivered to whom and when, destroyed when and by whom), with a form for each change:
``c`` copied (which medium), ``d`` delivered (to whom), ``x`` destroyed (how; optionally the
file in the export folder too). :class:`footage.media.MediaLog` checks who may do what
(operators their own packages, the supervisor everyone's), moves states only forward and
audits every change; a refusal is shown in the form, which keeps what was typed. The lead
opens it with :func:`open_media`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from footage.media import is_open, since, state_label
from registry.errors import CentraleError
from registry.i18n import _
from registry.roles import Permission, PermissionDenied
from registry.session import require
from registry.store_export import PackageRow
from screens.bindings import N_, translate_bindings
from screens.export import ExportContext
from screens.register_form import clip, format_local
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo

__all__ = ["MediaChangeModal", "MediaScreen", "open_media"]

SHORT = "%d/%m/%y %H:%M"
#: action -> (title, field label, hint)
CHANGES: dict[str, tuple[str, str, str]] = {
    "copied": (N_("Copied to a removable medium"), N_("Medium"),
               N_("Which medium: e.g. “chiavetta USB n. 3”, “DVD prot. 812”.")),
    "delivered": (N_("Delivered"), N_("Delivered to"),
                  N_("Who received it: name, office, document or protocol number.")),
    "destroyed": (N_("Destroyed"), N_("How"),
                  N_("What was destroyed and how: e.g. “chiavetta formattata”.")),
}


def open_media(app: App[Any], ctx: ExportContext) -> bool:
    """Push the media list, or refuse (audited, notified) without ``export`` or review."""
    session = ctx.session
    if session is None:
        return False
    if not session.allows(Permission.REVIEW_REGISTER):
        try:
            require(session, Permission.EXPORT, ctx.media.audit, "media")
        except PermissionDenied as e:
            app.notify(e.message, title=e.display_title, severity="error")
            return False
    app.push_screen(MediaScreen(ctx))
    return True


class MediaScreen(Screen[None]):
    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "change('copied')", N_("Copied"), id="media.copied"),
        Binding("d", "change('delivered')", N_("Delivered"), id="media.delivered"),
        Binding("x", "change('destroyed')", N_("Destroyed"), id="media.destroyed"),
        Binding("escape", "back", N_("Back"), id="media.back"),
    ]

    def __init__(self, ctx: ExportContext) -> None:
        super().__init__(classes="export-screen")
        translate_bindings(self)
        self.ctx = ctx
        self.rows: list[PackageRow] = []

    @property
    def everyone(self) -> bool:
        session = self.ctx.session
        return session is not None and session.allows(Permission.REVIEW_REGISTER)

    def compose(self) -> ComposeResult:
        whose = _("everyone's packages") if self.everyone else _("your packages")
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Removable media[/b] · {whose}").format(whose=whose),
                         classes="banner")
            yield SessionInfo(self.ctx.session)
        with Vertical(id="media-body"):
            yield DataTable(id="media", cursor_type="row", zebra_stripes=True)
            yield Static("", id="media-detail")
            yield Static("", id="media-message", classes="form-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#media", DataTable)
        table.add_columns(_("No."), _("State"), _("Since"), _("By"), _("Camera"),
                          _("Recipient"), _("File"))
        self.reload()
        table.focus()

    def reload(self, select: int | None = None) -> None:
        session = self.ctx.session
        if session is None:
            return
        try:
            self.rows = self.ctx.media.packages(session, everyone=self.everyone)
        except CentraleError as e:
            self.message(e.message)
            return
        zone = self.ctx.zone
        table = self.query_one("#media", DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(str(r.id), state_label(r.state), format_local(since(r), zone, SHORT),
                          clip(r.created_by, 10), clip(r.camera, 10), clip(r.recipient, 22),
                          clip(r.file_name, 40), key=str(r.id))  # fmt: skip
        if select is not None:
            ids = [r.id for r in self.rows]
            if select in ids:
                table.move_cursor(row=ids.index(select))
        if not self.rows:
            self.message(_("No exported packages."))
        self._show_detail()

    def message(self, text: str) -> None:
        self.query_one("#media-message", Static).update(escape(text))

    def selected(self) -> PackageRow | None:
        table = self.query_one("#media", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#media")
    def _show_detail(self) -> None:
        r = self.selected()
        detail = self.query_one("#media-detail", Static)
        if r is None:
            detail.update("")
            return
        zone = self.ctx.zone
        lines = [f"[b]{escape(r.file_name)}[/b] — {escape(r.folder)}",
                 _("Exported by {who} on {at} for {recipient}; register entry no. {entry}; "
                   "SHA-256 {sha}").format(
                       who=escape(r.created_by), at=format_local(r.created_at, zone),
                       recipient=escape(r.recipient), entry=r.register_entry_id,
                       sha=r.sha256[:16] + "…")]  # fmt: skip
        if r.copied_at is not None:
            lines.append(_("Copied to {medium} by {who} on {at}").format(
                medium=escape(r.medium or ""), who=escape(r.copied_by or ""),
                at=format_local(r.copied_at, zone)))
        if r.delivered_at is not None:
            lines.append(_("Delivered to {to} by {who} on {at}").format(
                to=escape(r.delivered_to or ""), who=escape(r.delivered_by or ""),
                at=format_local(r.delivered_at, zone)))
        if r.destroyed_at is not None:
            lines.append(_("Destroyed by {who} on {at}: {note}").format(
                who=escape(r.destroyed_by or ""), at=format_local(r.destroyed_at, zone),
                note=escape(r.note)))
        detail.update("\n".join(lines))

    def action_change(self, change: str) -> None:
        r = self.selected()
        if r is None:
            return
        if not is_open(r):
            self.message(_("Package {id} is {state}: nothing more to record.").format(
                id=r.id, state=state_label(r.state)))
            return

        def done(row: PackageRow | None) -> None:
            if row is not None:
                self.reload(select=row.id)
                self.message(_("Package {id}: {state}.").format(id=row.id,
                                                                 state=state_label(row.state)))

        self.app.push_screen(MediaChangeModal(self.ctx, r, change), done)

    def action_back(self) -> None:
        self.dismiss(None)


class MediaChangeModal(ModalScreen[PackageRow | None]):
    """Record one change of one package; the domain's refusal is shown, the text kept."""

    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", N_("Record"), id="media_change.save", priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="media_change.cancel"),
    ]

    def __init__(self, ctx: ExportContext, row: PackageRow, change: str) -> None:
        super().__init__(classes="export-modal")
        translate_bindings(self)
        self.ctx = ctx
        self.row = row
        self.change = change

    def compose(self) -> ComposeResult:
        title, label, hint = CHANGES[self.change]
        with Vertical(classes="modal-box"):
            yield Static(f"{_(title)}: {escape(self.row.file_name)}", classes="form-section")
            with Horizontal(classes="form-row"):
                yield Label(_(label), classes="form-label")
                yield Input(id="text", compact=True, max_length=300)
            if self.change == "destroyed":
                yield Checkbox(_("Also delete the package from the export folder"),
                               id="delete-file", compact=True)
            yield Static("", id="media-error", classes="message error")
            yield Static(_(hint) + " " + _("Ctrl+S records it (signed with your name, in the "
                                           "audit trail)."), classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        session = self.ctx.session
        if session is None:
            return
        text = self.query_one("#text", Input).value
        log = self.ctx.media
        try:
            if self.change == "copied":
                row = log.copied(session, self.row.id, text)
            elif self.change == "delivered":
                row = log.delivered(session, self.row.id, text)
            else:
                delete = self.query_one("#delete-file", Checkbox).value
                row = log.destroyed(session, self.row.id, text, delete_file=delete)
        except CentraleError as e:
            self.query_one("#media-error", Static).update(escape(e.message))
            return
        self.dismiss(row)

    def action_cancel(self) -> None:
        self.dismiss(None)
