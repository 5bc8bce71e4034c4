"""The form that signs an access-register entry (R24, R26, R27): one for every caller.

The register screen opens it for a visitor; playback and export will open it before any
footage opens, with the kind, cameras and span they already know::

    RegisterFormScreen(context, AccessKind.PLAYBACK, cameras=["via-roma"],
                       span=(start, end), lock_kind=True, on_done=callback)

It dismisses with the signed :class:`~registry.register_model.RegisterEntry`, or ``None`` when
the operator backs out, and calls ``on_done`` with the same value. Nothing is written before
the signature is accepted, and the domain writes the entry and its audit event together.

Why it checks before signing: the operator must see every missing field at once, next to its
input, without typing the password again and again, so the form asks the service's own
:meth:`~registry.register.AccessRegister.check` (no write, no audit) and adds what only the
form knows (a date it cannot read, an empty password). The service checks again when signing;
a :class:`~registry.register.RegisterIncomplete` from there is shown the same way. Whatever
happens, every typed value stays; only a rejected password is cleared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static

from registry.audit import AuditTrail, VerifyResult
from registry.clock import utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _, ngettext
from registry.register import (
    KIND_PERMISSION,
    OTHER,
    AccessKind,
    AccessRegister,
    AccessRequest,
    MissingField,
    RegisterEntry,
    RegisterIncomplete,
    SignatureRejected,
    ThirdParty,
)
from registry.session import Session
from screens.bindings import translate_bindings
from screens.context import ConsoleContext
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo

__all__ = [
    "DECLARATION_TEXT",
    "TIME_FORMAT",
    "RegisterContext",
    "RegisterFormScreen",
    "clip",
    "format_local",
    "parse_local",
]

#: How the operator types a moment: in the site's time zone, to the minute.
TIME_FORMAT = "%d/%m/%Y %H:%M"
DAY_FORMAT = "%d/%m/%Y"

#: The confidentiality declaration the third party makes (Per. All.1 §9 "foglio tipo"). The
#: Italian translation must keep the printed wording (registry.register_export.DECLARATION).
DECLARATION_TEXT = N_(
    "I declare that I will keep absolutely confidential any personal data I may come to "
    "know while in the room, under the privacy law in force."
)


@dataclass
class RegisterContext:
    """What the register, its form and the review need, passed down by the console.

    ``console`` gives the session (read at each action: it changes at sign-out and lock), the
    cameras, the site's time zone and names; exports go to ``data_dir / exports/register``.
    """

    console: ConsoleContext
    register: AccessRegister
    audit: AuditTrail
    data_dir: Path
    #: the time written on exports and used for defaults; tests pass a fixed one
    clock: Callable[[], datetime] = utc_now
    #: how the review verifies the trail (in a worker thread); None: ``audit.verify``.
    #: The console may pass one that runs in another process: a million entries take
    #: ~12 s of pure-Python HMAC, and in a thread that holds the GIL the UI answers a key
    #: in ~2 s meanwhile (measured; see the review module).
    verify_trail: Callable[[], VerifyResult] | None = None

    @property
    def session(self) -> Session | None:
        return self.console.session

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.console.timezone)

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports" / "register"


def parse_local(text: str, zone: ZoneInfo, *, day_only: bool = False) -> datetime:
    """``dd/mm/yyyy hh:mm`` (or ``dd/mm/yyyy`` with *day_only*) in *zone*; ValueError else."""
    cleaned = " ".join(text.split())
    return datetime.strptime(cleaned, DAY_FORMAT if day_only else TIME_FORMAT).replace(
        tzinfo=zone)


def format_local(at: datetime | None, zone: ZoneInfo, fmt: str = TIME_FORMAT) -> str:
    return at.astimezone(zone).strftime(fmt) if at is not None else ""


def clip(text: str, width: int) -> str:
    """*text* cut to *width* characters with an ellipsis (table cells; the detail has all)."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _dom_id(field: str) -> str:
    """``third_party.name`` -> ``f-third_party-name`` (ids cannot hold dots)."""
    return "f-" + field.replace(".", "-")


#: The fields in the order they are shown, with their label's message id.
FIELDS: tuple[tuple[str, str], ...] = (
    ("kind", N_("Kind of access")),
    ("purpose", N_("Purpose")),
    ("purpose_text", N_("Purpose, in words")),
    ("cameras", N_("Cameras")),
    ("span_from", N_("Footage from")),
    ("span_to", N_("Footage to")),
    ("third_party.name", N_("Third party's name")),
    ("third_party.document", N_("Identity document")),
    ("third_party.authorization_ref", N_("Authorization ref.")),
    ("third_party.authorization_issuer", N_("Authorized by")),
    ("recipient", N_("Copy delivered to")),
    ("observations", N_("Observations")),
    ("confidentiality_declared", N_("Declaration")),
    ("signature", N_("Your password")),
)
LABELS = dict(FIELDS)


class RegisterFormScreen(Screen[RegisterEntry | None]):
    """Sign one register entry; see the module docstring for how callers use it."""

    CSS_PATH = "register.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", N_("Sign"), id="register_form.submit", priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="register_form.cancel"),
    ]

    def __init__(
        self,
        context: RegisterContext,
        kind: AccessKind = AccessKind.VISIT,
        *,
        cameras: Sequence[str] = (),
        span: tuple[datetime, datetime] | None = None,
        on_done: Callable[[RegisterEntry | None], None] | None = None,
        lock_kind: bool = False,
    ) -> None:
        super().__init__(classes="register-screen")
        translate_bindings(self)
        self.context = context
        self.kind = kind
        self.cameras = list(cameras)
        self.span = span
        self.on_done = on_done
        self.lock_kind = lock_kind
        self.busy = False
        #: the fields shown in error after the last submit
        self.errors: dict[str, str] = {}

    # -- composition ---------------------------------------------------------------------

    def _kinds(self) -> list[AccessKind]:
        session = self.context.session
        if self.lock_kind or session is None:
            return [self.kind]
        kinds = [k for k in AccessKind if session.allows(KIND_PERMISSION[k])]
        return kinds if self.kind in kinds else [self.kind, *kinds]

    def _row(self, field: str, widget: Widget) -> Iterable[Widget]:
        with Horizontal(classes="form-row", id=_dom_id(field) + "-row"):
            yield Label(_(LABELS[field]), classes="form-label")
            yield widget
        yield Static("", id=_dom_id(field) + "-error", classes="field-error")

    def compose(self) -> ComposeResult:
        zone = self.context.zone
        with Horizontal(classes="banner-bar"):
            yield Static(self._title(), classes="banner", id="form-title")
            yield SessionInfo(self.context.session)
        with VerticalScroll(id="form-scroll"), Horizontal(id="form-columns"):
            with Vertical(classes="form-column", id="form-access"):
                yield Static(_("The access"), classes="form-section")
                yield from self._row("kind", Select(
                    [(k.display_title, k) for k in self._kinds()], value=self.kind,
                    allow_blank=False, compact=True, id="kind", disabled=self.lock_kind))
                yield from self._row("purpose", Select(
                    [(p.display_title, p.code) for p in self.context.register.purposes()],
                    prompt=_("Choose the purpose"), compact=True, id="purpose"))
                yield from self._row("purpose_text", Input(
                    id="purpose_text", compact=True, max_length=500,
                    placeholder=_("needed for “Other”")))
                yield from self._row("cameras", self._camera_list())
                span_from, span_to = self.span or (None, None)
                yield from self._row("span_from", Input(
                    format_local(span_from, zone), id="span_from", compact=True,
                    max_length=20, placeholder=_("dd/mm/yyyy hh:mm")))
                yield from self._row("span_to", Input(
                    format_local(span_to, zone), id="span_to", compact=True, max_length=20,
                    placeholder=_("dd/mm/yyyy hh:mm")))
                yield Static(_("Times in {zone}.").format(zone=zone.key), classes="form-hint")
            with Vertical(classes="form-column", id="form-third"):
                yield Static(_("Third party and signature"), classes="form-section")
                for field in ("third_party.name", "third_party.document",
                              "third_party.authorization_ref",
                              "third_party.authorization_issuer"):
                    yield from self._row(field, Input(id=_dom_id(field)[2:], compact=True,
                                                      max_length=200))
                yield from self._row("recipient", Input(id="recipient", compact=True,
                                                        max_length=200))
                yield from self._row("observations", Input(id="observations", compact=True,
                                                           max_length=1000))
                yield from self._row("confidentiality_declared", Checkbox(
                    _("The third party declares:"), id="confidentiality_declared",
                    compact=True))
                yield Static(_(DECLARATION_TEXT), classes="declaration")
                yield from self._row("signature", Input(id="signature", password=True,
                                                        compact=True, max_length=256))
                yield Static(id="form-message", classes="form-message")
                yield Static(_("Tab: next field · Space: tick · Enter on the password or "
                               "Ctrl+S: sign"), classes="form-hint")
        yield KeyFooter()

    def _camera_list(self) -> SelectionList[str]:
        configured = {c.id: c for c in self.context.console.cameras}
        options: list[tuple[str, str, bool]] = [
            (f"{c.id} · {c.name}", c.id, c.id in self.cameras) for c in configured.values()]
        options += [(cid, cid, True) for cid in self.cameras if cid not in configured]
        return SelectionList[str](*options, id="cameras", compact=True)

    def _title(self) -> str:
        return _("Access register · new entry: {kind}").format(
            kind=escape(self.kind.display_title))

    def on_mount(self) -> None:
        self._show_kind(self.kind)
        self._show_purpose_text()
        first = "purpose" if self.lock_kind else "kind"
        self.query_one(f"#{first}").focus()

    # -- what the form shows for the kind and purpose ----------------------------------------

    def _show_kind(self, kind: AccessKind) -> None:
        self.kind = kind
        self.query_one("#form-title", Static).update(self._title())
        self.query_one("#f-recipient-row").display = kind is AccessKind.EXPORT
        if kind is not AccessKind.EXPORT:
            self._set_error("recipient", "")

    def _show_purpose_text(self) -> None:
        self.query_one("#f-purpose_text-row").display = self._purpose() == OTHER
        if self._purpose() != OTHER:
            self._set_error("purpose_text", "")

    @on(Select.Changed, "#kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, AccessKind):
            self._show_kind(event.value)

    @on(Select.Changed, "#purpose")
    def _purpose_changed(self) -> None:
        self._show_purpose_text()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "signature":
            self.action_submit()
        else:
            self.focus_next()

    # -- reading the form ------------------------------------------------------------------

    def _purpose(self) -> str:
        value = self.query_one("#purpose", Select).value
        return value if isinstance(value, str) else ""

    def _text(self, dom_id: str) -> str:
        return self.query_one(f"#{dom_id}", Input).value

    def read_request(self) -> tuple[AccessRequest, list[MissingField]]:
        """The request as typed, and what only the form can find wrong (unreadable times).

        An unreadable time is replaced by a placeholder so that the service can still check
        every other field; its own findings about that time are then left out.
        """
        zone = self.context.zone
        problems: list[MissingField] = []
        now = self.context.clock()
        spans: dict[str, datetime] = {}
        for field, fallback, empty in (
            ("span_from", now - timedelta(hours=2),
             _("type when the footage starts, as dd/mm/yyyy hh:mm")),
            ("span_to", now - timedelta(hours=1),
             _("type when the footage ends, as dd/mm/yyyy hh:mm")),
        ):
            text = self._text(field).strip()
            try:
                spans[field] = parse_local(text, zone)
            except ValueError:
                spans[field] = fallback
                problems.append(MissingField(field, empty if not text else _(
                    "{text} is not a date and time: write it as dd/mm/yyyy hh:mm").format(
                        text=text)))
        third_values = [self._text(_dom_id(f)[2:]) for f in (
            "third_party.name", "third_party.document", "third_party.authorization_ref",
            "third_party.authorization_issuer")]
        needs_third = self.kind in (AccessKind.VISIT, AccessKind.ERASURE)
        third = (ThirdParty(*third_values) if needs_third or any(v.strip() for v in third_values)
                 else None)
        request = AccessRequest(
            kind=self.kind, purpose=self._purpose(),
            cameras=list(self.query_one("#cameras", SelectionList).selected),
            span_from=spans["span_from"], span_to=spans["span_to"],
            purpose_text=self._text("purpose_text") if self._purpose() == OTHER else "",
            third_party=third, observations=self._text("observations"),
            confidentiality_declared=self.query_one("#confidentiality_declared",
                                                    Checkbox).value,
            recipient=self._text("recipient") if self.kind is AccessKind.EXPORT else None,
        )  # fmt: skip
        return request, problems

    # -- errors ----------------------------------------------------------------------------

    def _set_error(self, field: str, message: str) -> None:
        for widget in self.query(f"#{_dom_id(field)}-error"):
            assert isinstance(widget, Static)
            widget.update(escape(message))
            widget.set_class(bool(message), "shown")
        row = self.query(f"#{_dom_id(field)}-row")
        for widget in row:
            widget.set_class(bool(message), "invalid")

    def show_errors(self, missing: Sequence[MissingField]) -> None:
        """Mark every field of *missing* (clearing the others) and focus the first one."""
        by_field: dict[str, list[str]] = {}
        for m in missing:
            by_field.setdefault(m.field, []).append(m.message)
        self.errors = {f: "; ".join(messages) for f, messages in by_field.items()}
        for field, _label in FIELDS:
            self._set_error(field, self.errors.get(field, ""))
        count = len(self.errors)
        self.show_message(ngettext("{n} field to complete or correct: see the marks in red.",
                                   "{n} fields to complete or correct: see the marks in red.",
                                   count).format(n=count) if count else "")
        for field, _label in FIELDS:
            if field in self.errors:
                self.query_one(f"#{_dom_id(field)[2:] if '.' in field else field}").focus()
                break

    def show_message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#form-message", Static)
        message.update(escape(text))
        message.set_class(error and bool(text), "error")

    # -- signing ---------------------------------------------------------------------------

    def action_submit(self) -> None:
        if self.busy:
            return
        session = self.context.session
        if session is None:
            self.show_message(_("Nobody is signed in: the entry cannot be signed."))
            return
        request, problems = self.read_request()
        unreadable = {p.field for p in problems}
        missing = [m for m in self.context.register.check(request)
                   if m.field not in unreadable
                   and not (m.field in ("span_from", "span_to") and unreadable)]
        missing += problems
        password = self._text("signature")
        if not password:
            missing.append(MissingField("signature", _("type your password: it is your "
                                                        "signature")))
        order = [f for f, _label in FIELDS]
        missing.sort(key=lambda m: order.index(m.field) if m.field in order else len(order))
        if missing:
            self.show_errors(missing)
            return
        self.show_errors([])
        self.busy = True
        self.show_message(_("Checking the signature…"), error=False)
        self._sign(session, request, password)

    @work(exclusive=True, group="register-sign")
    async def _sign(self, session: Session, request: AccessRequest, password: str) -> None:
        try:
            entry = await asyncio.to_thread(self.context.register.open_entry, session,
                                            request, password)
        except RegisterIncomplete as e:
            self.show_errors(e.missing)
            return
        except SignatureRejected as e:
            signature = self.query_one("#signature", Input)
            signature.value = ""
            self.show_errors([MissingField("signature", _("wrong password"))])
            self.show_message(e.message)
            signature.focus()
            return
        except CentraleError as e:
            self.show_message(f"{e.display_title}: {e.message}")
            return
        finally:
            self.busy = False
        self._finish(entry)

    def _finish(self, entry: RegisterEntry | None) -> None:
        self.dismiss(entry)
        if self.on_done is not None:
            self.on_done(entry)

    def action_cancel(self) -> None:
        if not self.busy:
            self._finish(None)
