"""Esporta filmato: a clip out of the recordings, for one recipient (R20-R23; issue 6).

The operator fills camera, span (dd/mm/yyyy hh:mm:ss in the site's time zone; the caller
passes defaults, e.g. the playback position) and recipient; the plan of
:meth:`footage.export.Exporter.check` (stream copy or re-encode, file name, duration) is shown
as they type, its errors next to the fields. A data subject or another third party gets a
copy only through the redaction tool (``o``, :mod:`screens.redaction`; ``redact``
permission). Ctrl+S then: the access-register entry (kind export, with the recipient's
identity, :class:`~screens.register_form.RegisterFormScreen`) must be signed; then the package
password (typed twice, or generated and shown once); then the export runs in a thread with a
progress bar, ``x`` cancels it (nothing is left behind); at the end the package's path and
SHA-256, and the verification of the package just written (:func:`footage.verify.verify_package`).

The screen only leads: :meth:`Exporter.export_clip` checks the permission, the entry, the
recipient's redaction and the span again, and every refusal is shown here, never only logged.
The lead opens it with :func:`open_export`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Label, ProgressBar, Select, Static

from footage.export import ExportCancelled, Exporter, ExportPlan, ExportRequest
from footage.media import MediaLog
from footage.redaction import (
    NO_REDACTION,
    Detector,
    RecipientKind,
    RedactionPlan,
    RedactionRequired,
    check_recipient,
)
from footage.verify import verify_package
from registry.errors import CentraleError
from registry.i18n import _
from registry.register import AccessKind, RegisterEntry
from registry.roles import Permission, PermissionDenied
from registry.session import Session, require
from screens.bindings import N_, translate_bindings
from screens.redaction import RedactionScreen
from screens.register_form import RegisterContext, RegisterFormScreen
from screens.widgets.footer import KeyFooter
from screens.widgets.package_password import PackagePasswordModal
from screens.widgets.session_info import SessionInfo
from screens.widgets.span_frames import SpanFrames

__all__ = ["REQUIRED_PERMISSION", "ExportContext", "ExportScreen", "open_export",
           "parse_seconds"]

REQUIRED_PERMISSION = Permission.EXPORT
SECONDS = "%d/%m/%Y %H:%M:%S"
FIELDS = ("camera", "start", "end", "recipient")


@dataclass
class ExportContext:
    """What the export, redaction and media screens need, passed down by the console."""

    register: RegisterContext
    exporter: Exporter
    media: MediaLog
    #: the control room's export folder
    out_dir: Path
    #: loaded once, on first use (HOG and the face cascade)
    detector: Detector | None = None

    @property
    def session(self) -> Session | None:
        return self.register.session

    @property
    def zone(self) -> ZoneInfo:
        return self.register.zone


def open_export(app: App[Any], ctx: ExportContext, *, camera: str | None = None,
                start: datetime | None = None, end: datetime | None = None) -> bool:  # fmt: skip
    """Push the export screen, or refuse (audited, notified) without ``export``."""
    session = ctx.session
    if session is None:
        return False
    try:
        require(session, REQUIRED_PERMISSION, ctx.exporter.audit, "export")
    except PermissionDenied as e:
        app.notify(e.message, title=e.display_title, severity="error")
        return False
    app.push_screen(ExportScreen(ctx, camera=camera, start=start, end=end))
    return True


def parse_seconds(text: str, zone: ZoneInfo) -> datetime:
    """``dd/mm/yyyy hh:mm:ss`` (seconds optional) in *zone*; ValueError otherwise."""
    cleaned = " ".join(text.split())
    for fmt in (SECONDS, "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValueError(text)


def _field_of(message: str) -> str:
    """The field a domain message names by its prefix ("to: ...", "from/to: ...")."""
    head = message.split(":", 1)[0]
    return {"camera": "camera", "from": "start", "to": "end", "from/to": "start"}.get(head, "")


class ExportScreen(Screen[None]):
    """See the module docstring."""

    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "next", N_("Sign and export"), id="export.next", priority=True),
        Binding("ctrl+o", "redact", N_("Redaction"), id="export.redact", priority=True),
        Binding("ctrl+x", "cancel_export", N_("Cancel export"), id="export.cancel",
                priority=True),
        Binding("escape", "back", N_("Back"), id="export.back"),
    ]

    def __init__(self, ctx: ExportContext, *, camera: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> None:  # fmt: skip
        super().__init__(classes="export-screen")
        translate_bindings(self)
        self.ctx = ctx
        self.camera_default = camera
        self.start_default = start
        self.end_default = end
        self.redactions: RedactionPlan = NO_REDACTION
        self.plan: ExportPlan | None = None
        #: a signed entry not yet used for a file (kept if the operator backs out later)
        self.entry: RegisterEntry | None = None
        self.running = False
        self.cancel = threading.Event()
        self.progress = 0.0
        self.done: Path | None = None

    # -- composition -------------------------------------------------------------------------

    def _row(self, field: str, label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget
        yield Static("", id=f"{field}-error", classes="field-error")

    def compose(self) -> ComposeResult:
        zone = self.ctx.zone
        cams = self.ctx.register.console.cameras
        camera: Select[str] = Select([(f"{c.id} · {c.name}", c.id) for c in cams],
                                     value=self.camera_default or Select.NULL,
                                     prompt=_("Choose the camera"), compact=True, id="camera")
        recipient: Select[RecipientKind] = Select(
            [(k.display_title, k) for k in RecipientKind], prompt=_("Who receives the copy"),
            compact=True, id="recipient")
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Export footage[/b] · only the time needed, for one recipient"),
                         classes="banner")
            yield SessionInfo(self.ctx.session)
        with VerticalScroll(id="export-body"):
            yield from self._row("camera", _("Camera"), camera)
            for field, label, at in (("start", _("From"), self.start_default),
                                     ("end", _("To"), self.end_default)):
                yield from self._row(field, label, Input(
                    at.astimezone(zone).strftime(SECONDS) if at else "", id=field,
                    compact=True, max_length=20, placeholder=_("dd/mm/yyyy hh:mm:ss")))
            yield from self._row("recipient", _("Recipient"), recipient)
            yield Static(_("Times in {zone}.").format(zone=zone.key), classes="form-hint")
            yield Static("", id="export-plan", classes="section")
            yield Static("", id="export-redaction", classes="message")
            yield Static("", id="export-message", classes="message")
            yield ProgressBar(total=100, show_eta=False, id="export-progress", classes="idle")
            yield Static("", id="export-result", classes="message")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show_redaction()
        self.set_interval(0.1, self._show_progress)
        self.refresh_plan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.ctx.session
        if action == "cancel_export":
            return self.running
        if action in ("next", "redact") and (self.running or session is None):
            return False
        if action == "redact":
            return session is not None and session.allows(Permission.REDACT)
        return True

    # -- reading the form and showing the plan ---------------------------------------------

    def read(self) -> tuple[ExportRequest | None, dict[str, str]]:
        """The request as typed, or what is wrong with each field."""
        errors: dict[str, str] = {}
        camera = self.query_one("#camera", Select).value
        if not isinstance(camera, str):
            errors["camera"] = _("choose the camera")
        times: dict[str, datetime] = {}
        for field in ("start", "end"):
            text = self.query_one(f"#{field}", Input).value.strip()
            try:
                times[field] = parse_seconds(text, self.ctx.zone)
            except ValueError:
                errors[field] = _("{text} is not a date and time: write it as dd/mm/yyyy "
                                  "hh:mm:ss").format(text=text or "—")
        recipient = self.query_one("#recipient", Select).value
        if not isinstance(recipient, RecipientKind):
            errors["recipient"] = _("choose who receives the copy")
        if errors:
            return None, errors
        assert isinstance(camera, str) and isinstance(recipient, RecipientKind)
        return ExportRequest(camera, times["start"], times["end"], recipient,
                             self.redactions), {}  # fmt: skip

    def show_errors(self, errors: dict[str, str]) -> None:
        for field in FIELDS:
            widget = self.query_one(f"#{field}-error", Static)
            widget.update(escape(errors.get(field, "")))
            widget.set_class(field in errors, "shown")

    def message(self, text: str, *, error: bool = True) -> None:
        widget = self.query_one("#export-message", Static)
        widget.update(escape(text))
        widget.set_class(error and bool(text), "error")

    @on(Input.Changed)
    @on(Select.Changed)
    def refresh_plan(self) -> None:
        if self.running:
            return
        request, errors = self.read()
        self.plan = None
        self.query_one("#export-plan", Static).update("")
        if request is None:
            # only the fields already filled in are marked while typing
            self.show_errors({f: m for f, m in errors.items() if f in ("start", "end")
                              and self.query_one(f"#{f}", Input).value.strip()})
            return
        self._check(request, proceed=False)

    def _check(self, request: ExportRequest, proceed: bool) -> None:
        # Ctrl+S's check has its own group: a plan refresh never cancels it
        if proceed:
            self._check_then_go(request)
        else:
            self._check_plan(request)

    @work(thread=True, exclusive=True, group="export-check")
    def _check_plan(self, request: ExportRequest) -> None:
        self._checking(request, False)

    @work(thread=True, exclusive=True, group="export-next")
    def _check_then_go(self, request: ExportRequest) -> None:
        self._checking(request, True)

    def _checking(self, request: ExportRequest, proceed: bool) -> None:
        try:
            plan = self.ctx.exporter.check(request, self.ctx.session)
        except CentraleError as e:
            self.app.call_from_thread(self._checked, request, None, e.message, proceed)
            return
        self.app.call_from_thread(self._checked, request, plan, "", proceed)

    def _checked(self, request: ExportRequest, plan: ExportPlan | None, error: str,
                 proceed: bool) -> None:  # fmt: skip
        self.plan = plan
        box = self.query_one("#export-plan", Static)
        if plan is None:
            field = _field_of(error)
            self.show_errors({field: error} if field else {})
            box.update("")
            if not field or proceed:
                self.message(error)
            return
        self.show_errors({})
        if proceed:
            self.message("")  # a refresh of the plan leaves Ctrl+S's message alone
        seconds = (request.end - request.start).total_seconds()
        method = (_("stream copy (the camera's own pictures)") if plan.method == "copy" else
                  _("re-encode (privacy masks and redactions applied to every frame)"))
        lines = [_("[b]Plan[/b]: {method}").format(method=escape(method)),
                 _("File: {name}.zip").format(name=escape(plan.name)),
                 _("Duration: {m} min {s} s").format(m=int(seconds // 60),
                                                    s=int(seconds % 60))]  # fmt: skip
        if plan.gaps:
            lines.append(_("Gaps in the recording: {n}").format(n=len(plan.gaps)))
        box.update("\n".join(lines))
        if proceed:
            self._after_check(request)

    def _show_redaction(self) -> None:
        boxes = len(self.redactions.boxes)
        text = (_("No redaction.") if not boxes else
                _("Redaction: {n} boxes{subject}.").format(
                    n=boxes, subject=_(", data subject only") if self.redactions.subject_only
                    else ""))  # fmt: skip
        self.query_one("#export-redaction", Static).update(escape(text))

    def _show_progress(self) -> None:
        if self.running:
            self.query_one("#export-progress", ProgressBar).update(
                progress=round(self.progress * 100))

    # -- redaction -------------------------------------------------------------------------

    def action_redact(self) -> None:
        session = self.ctx.session
        request, errors = self.read()
        if request is None or session is None:
            self.show_errors(errors)
            return
        try:
            require(session, Permission.REDACT, self.ctx.exporter.audit,
                    f"camera/{request.camera}")
            plan = self.ctx.exporter.check(request, session)
        except CentraleError as e:
            self.message(f"{e.display_title}: {e.message}")
            return
        if self.ctx.detector is None:
            self.ctx.detector = Detector()
        frames = SpanFrames(plan.segments, self.ctx.exporter.index.path_of, request.start,
                            request.end, plan.timeline.at)  # fmt: skip
        title = f"{plan.camera.id} · {plan.camera.place} · {plan.name}"

        def returned(result: RedactionPlan | None) -> None:
            if result is not None:
                self.redactions = result
                self._show_redaction()
                self.refresh_plan()

        self.app.push_screen(RedactionScreen(
            frames, camera_id=request.camera, title=title, zone=self.ctx.zone,
            plan=self.redactions, subject=request.recipient is RecipientKind.DATA_SUBJECT,
            detector=self.ctx.detector), returned)

    # -- register entry, password, run -----------------------------------------------------

    def action_next(self) -> None:
        if self.running:
            return
        self.done = None
        request, errors = self.read()
        self.show_errors(errors)
        if request is None:
            self.message(_("Complete the fields marked in red."))
            return
        self._check(request, proceed=True)

    def _after_check(self, request: ExportRequest) -> None:
        try:
            check_recipient(request.recipient, request.redactions)
        except RedactionRequired as e:
            hint = (_(" Ctrl+O opens the redaction tool.") if self.check_action("redact", ())
                    else _(" Your role cannot redact: ask the supervisor."))
            self.message(f"{e.display_title}: {e.message}{hint}")
            return
        entry = self.entry
        if (entry is not None and entry.file_name is None and request.camera in entry.cameras
                and entry.span_from <= request.start and request.end <= entry.span_to):
            self._ask_password(request, entry)
            return
        span = (request.start.replace(second=0, microsecond=0),
                (request.end + timedelta(seconds=59)).replace(second=0, microsecond=0))

        def signed(entry: RegisterEntry | None) -> None:
            if entry is None:
                self.message(_("No register entry was signed: nothing is exported."))
                return
            self.entry = entry
            self._ask_password(request, entry)

        self.app.push_screen(RegisterFormScreen(
            self.ctx.register, AccessKind.EXPORT, cameras=[request.camera], span=span,
            lock_kind=True, on_done=signed))

    def _ask_password(self, request: ExportRequest, entry: RegisterEntry) -> None:
        def chosen(password: str | None) -> None:
            if password is None:
                self.message(_("Register entry no. {id} is signed; no package password was "
                               "given: nothing is exported.").format(id=entry.id),
                             error=False)  # fmt: skip
                return
            self._start(request, entry, password)

        self.app.push_screen(PackagePasswordModal(), chosen)

    def _start(self, request: ExportRequest, entry: RegisterEntry, password: str) -> None:
        session = self.ctx.session
        if session is None:
            return
        self.running = True
        self.cancel = threading.Event()
        self.progress = 0.0
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(progress=0)
        bar.set_class(False, "idle")
        self.query_one("#export-result", Static).update("")
        self.message(_("Exporting… Ctrl+X cancels (nothing is left behind)."), error=False)
        self.refresh_bindings()
        self._run(session, request, entry.id, password)

    @work(thread=True, exclusive=True, group="export-run")
    def _run(self, session: Session, request: ExportRequest, entry_id: int,
             password: str) -> None:  # fmt: skip
        def progress(fraction: float) -> None:
            self.progress = fraction

        try:
            result = self.ctx.exporter.export_clip(
                session, request, register_entry_id=entry_id, password=password,
                out_dir=self.ctx.out_dir, progress=progress, cancel=self.cancel)
            check = verify_package(result.path, password)
        except ExportCancelled as e:
            self.app.call_from_thread(self._finished, None, e.message, True)
            return
        except CentraleError as e:
            self.app.call_from_thread(self._finished, None, f"{e.display_title}: {e.message}",
                                      False)  # fmt: skip
            return
        except Exception as e:  # noqa: BLE001 - shown in the screen, never only logged
            self.app.call_from_thread(self._finished, None, _("The export failed: {error}")
                                      .format(error=e), False)  # fmt: skip
            return
        finally:
            del password
        verified = (_("verified: the clip matches its manifest") if check.ok else
                    _("NOT verified: {problems}").format(problems="; ".join(check.problems)))
        text = "\n".join([
            _("[b]Package written[/b]: {path}").format(path=escape(str(result.path))),
            _("SHA-256 of the package: {sha}").format(sha=result.sha256),
            escape(verified),
            _("Register entry no. {id}; removable-media list no. {pkg}").format(
                id=entry_id, pkg=result.package_id)])  # fmt: skip
        self.app.call_from_thread(self._finished, result.path, text, False)

    def _finished(self, path: Path | None, text: str, cancelled: bool) -> None:
        self.running = False
        self.refresh_bindings()
        bar = self.query_one("#export-progress", ProgressBar)
        if path is None:
            bar.set_class(True, "idle")
            self.message(text, error=not cancelled)
            return
        bar.update(progress=100)
        self.done = path
        self.entry = None  # used: the next export signs a new one
        self.message("")
        self.query_one("#export-result", Static).update(text)

    def action_cancel_export(self) -> None:
        if self.running:
            self.cancel.set()
            self.message(_("Cancelling…"), error=False)

    def action_back(self) -> None:
        if self.running:
            self.message(_("The export is running: Ctrl+X cancels it first."))
            return
        self.dismiss(None)
