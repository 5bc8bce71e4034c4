"""The digital access register (R24-R27) and its supervisor review (R25).

Every feature that opens recorded footage (playback, export, a visitor's viewing, a data
subject's erasure) calls :meth:`AccessRegister.open_entry` first and goes on only with the
entry it returns. The register is the human-facing record; the audit trail is the machine
record, and each entry is written in one transaction with its ``register_entry`` audit event,
whose id the entry keeps so that the review can show what happened around it.

Choices, from the regulations (Lumezzane art. 10ter, 11, 13; Perugia Allegato 1 §6-9 and its
"foglio tipo"):

- **Purposes** are the regulation's own (:data:`REGULATION_PURPOSES`, with the article they
  come from), the site's ``extra_purposes`` (config), and "other", which needs free text.
  Footage is reviewed only for a stated purpose (R26, Lum. 10ter.3, 11.1).
- **Permissions per kind**: playback needs ``playback``; export needs ``export``; a visit
  needs ``playback`` (an operator shows the footage to the visitor); an erasure needs
  ``review_register``, because answering a data subject is the responsabile's own duty
  (Lum. art. 8 c.2 "rispondere all'interessato"), and only the responsabile holds it.
- **A third party** (name, identity document, the written authorization's reference and
  issuer, Lum. 11.5-11.6, 13.4, Per. All.1 §7-9) is required for visits, erasures and the
  data subject's own access; when a third party is named, so is their confidentiality
  declaration (the "foglio tipo"'s Dichiarazione). An export needs its recipient.
- **The signature** is the operator's password, checked by the ``confirm`` callable
  (``Accounts.verify_signature``, which audits a wrong one and counts it toward the lockout).
- **Seeing entries**: ``review_register`` sees everyone's; anybody else only their own.
- **Review**: only ``review_register``, never of one's own entries: Lum. 10ter.5 makes the
  responsabile verify the accesses *of the authorised staff*, and a self-verification proves
  nothing. A responsabile's own entries stay "to review" until another one (or the titolare)
  reviews them, which the review screen shows honestly.
- **Completed later**: the visitor's time out, the span and cameras actually viewed (only
  widening), the exported file's name and SHA-256 (once). Everything else is fixed at signing;
  the schema's triggers refuse changes (registry/migrations/v0003_register.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from registry.audit import AuditEntry, AuditTrail
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.register_model import (
    AccessKind,
    NewEntry,
    RegisterEntry,
    RegisterFilter,
    Review,
    ThirdParty,
)
from registry.roles import Permission
from registry.session import Session, require
from registry.store import Store
from registry.store_register import RegisterStore

__all__ = [
    "OTHER",
    "REGULATION_PURPOSES",
    "AccessKind",
    "AccessRegister",
    "AccessRequest",
    "MissingField",
    "Purpose",
    "RegisterEntry",
    "RegisterError",
    "RegisterFilter",
    "RegisterIncomplete",
    "Review",
    "SignatureRejected",
    "ThirdParty",
]

# Audit actions.
REGISTER_ENTRY = "register_entry"
REGISTER_VISIT_CLOSED = "register_visit_closed"
REGISTER_FILE_ATTACHED = "register_file_attached"
REGISTER_REVIEWED = "register_reviewed"
REGISTER_REVIEW_REFUSED = "register_review_refused"

#: The permission each kind of access needs (see the module docstring).
KIND_PERMISSION: dict[AccessKind, Permission] = {
    AccessKind.PLAYBACK: Permission.PLAYBACK,
    AccessKind.EXPORT: Permission.EXPORT,
    AccessKind.VISIT: Permission.PLAYBACK,
    AccessKind.ERASURE: Permission.REVIEW_REGISTER,
}

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Purpose:
    """A reason for opening recorded footage."""

    code: str
    #: English message id, shown translated through :attr:`display_title`
    title: str
    #: the wording on the register's printed copy (the regulation is Italian)
    legal_title: str
    #: where the regulations name it
    basis: str = ""
    requires_text: bool = False

    @property
    def display_title(self) -> str:
        return _(self.title)


OTHER = "other"
DATA_SUBJECT_REQUEST = "data_subject_request"

#: The purposes the regulations name (Lum. art. 5, 11.4, 18.2; Per. art. 4, All.1 §6).
REGULATION_PURPOSES: tuple[Purpose, ...] = (
    Purpose("police_investigation",
            N_("Investigation by the judicial authority or the police"),
            "Indagini dell'autorità giudiziaria o di polizia",
            "Lum. 11.4, 18.2 b; Per. All.1 §6-7"),
    Purpose("judicial_evidence",
            N_("Evidence gathering as judicial police, on the judicial authority's mandate"),
            "Acquisizione di prove su mandato dell'autorità giudiziaria", "Lum. 5.1 j"),
    Purpose("road_accident", N_("Reconstruction of a road accident"),
            "Ricostruzione della dinamica di incidente stradale", "Lum. 5.1 n"),
    Purpose("traffic_violation", N_("Road-traffic violation"),
            "Accertamento di violazioni al codice della strada", "Lum. 5.3 ter"),
    Purpose("urban_security", N_("Public safety and urban security"),
            "Sicurezza pubblica e sicurezza urbana", "Lum. 5.1 f, h; Per. 4.5 a-b"),
    Purpose("municipal_property", N_("Protection of municipal property (vandalism, damage)"),
            "Tutela del patrimonio comunale (vandalismi, danneggiamenti)", "Lum. 5.1 g, i"),
    Purpose("illegal_dumping", N_("Illegal dumping of waste"),
            "Abbandono illecito di rifiuti", "Lum. 5.1"),
    Purpose("civil_protection", N_("Civil protection and people's safety"),
            "Protezione civile e incolumità delle persone", "Lum. 5.1 a, k, m"),
    Purpose(DATA_SUBJECT_REQUEST, N_("Data subject's access request"),
            "Istanza di accesso dell'interessato", "Lum. 11.4; Per. All.2"),
    Purpose("maintenance", N_("System maintenance check"),
            "Verifica tecnica e manutenzione dell'impianto", "Lum. 11.4; Per. All.1 §6"),
)  # fmt: skip

_OTHER_PURPOSE = Purpose(OTHER, N_("Other (state the purpose)"), "Altro", "", True)


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What the operator fills in before footage opens (R24)."""

    kind: AccessKind
    purpose: str
    cameras: Sequence[str]
    span_from: datetime
    span_to: datetime
    purpose_text: str = ""
    third_party: ThirdParty | None = None
    observations: str = ""
    confidentiality_declared: bool = False
    #: who receives an export's copy
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class MissingField:
    #: the request's attribute, e.g. ``"purpose"`` or ``"third_party.document"``
    field: str
    #: translated, for the operator
    message: str


class RegisterError(CentraleError):
    title = N_("Access register")


class RegisterIncomplete(RegisterError):
    """Every missing or invalid field of a request, so the form can mark all at once."""

    title = N_("Register entry incomplete")

    def __init__(self, missing: Sequence[MissingField]) -> None:
        super().__init__("\n".join(f"{m.field}: {m.message}" for m in missing))
        self.missing = list(missing)

    @property
    def fields(self) -> list[str]:
        return [m.field for m in self.missing]


class SignatureRejected(RegisterError):
    title = N_("Signature rejected")


class AccessRegister:
    """The register of one :class:`Store`; ``confirm(session, password)`` is the signature."""

    def __init__(
        self,
        store: Store,
        audit: AuditTrail,
        confirm: Callable[[Session, str], bool],
        clock: Clock = utc_now,
        extra_purposes: Iterable[str] = (),
    ) -> None:
        self._store = store
        self._rows = RegisterStore(store)
        self._audit = audit
        self._confirm = confirm
        self._clock = clock
        extras: list[Purpose] = []
        for text in extra_purposes:
            text = text.strip()
            if text and all(p.legal_title != text for p in extras):
                extras.append(Purpose(f"site:{text}", text, text, "config"))
        self._purposes = {p.code: p for p in (*REGULATION_PURPOSES, *extras, _OTHER_PURPOSE)}

    # ---------------------------------------------------------------- purposes

    def purposes(self) -> list[Purpose]:
        """The regulation's purposes, then the site's, then "other"."""
        return list(self._purposes.values())

    def purpose(self, code: str) -> Purpose | None:
        return self._purposes.get(code)

    # ---------------------------------------------------------------- signing

    def open_entry(self, session: Session, request: AccessRequest, password: str
                   ) -> RegisterEntry:  # fmt: skip
        """Check, sign and write one entry with its audit event; footage may then open."""
        require(session, KIND_PERMISSION[request.kind], self._audit, "register")
        now = self._clock()
        missing = self.check(request, now)
        if missing:
            raise RegisterIncomplete(missing)
        if not self._confirm(session, password):
            raise SignatureRejected(_("The password is not {who}'s: the entry was not "
                                      "signed and nothing was written.").format(
                                          who=session.username))
        purpose = self._purposes[request.purpose]
        third = _clean_third(request.third_party)
        new = NewEntry(
            at=self._clock(), username=session.username, full_name=session.full_name,
            role=session.role.name, session_id=session.id, kind=request.kind,
            purpose=purpose.code, purpose_title=purpose.legal_title,
            purpose_text=request.purpose_text.strip(), cameras=_cameras(request.cameras),
            span_from=request.span_from, span_to=request.span_to, third_party=third,
            recipient=(request.recipient or "").strip() or None,
            observations=request.observations.strip(),
            confidentiality_declared=request.confidentiality_declared,
        )  # fmt: skip
        with self._store.transaction():
            entry_id = self._rows.insert(new)
            event = self._audit.append(session.username, REGISTER_ENTRY, _target(entry_id), {
                "kind": str(new.kind), "purpose": new.purpose, "cameras": list(new.cameras),
                "span_from": new.span_from.isoformat(), "span_to": new.span_to.isoformat(),
                "third_party": third.name if third else None,
            })  # fmt: skip
            self._rows.set_audit_id(entry_id, event.id)
        return self._get(entry_id)

    def check(self, request: AccessRequest, now: datetime | None = None) -> list[MissingField]:
        """Every missing or invalid field of *request* (empty when it may be signed)."""
        now = self._clock() if now is None else now
        out: list[MissingField] = []

        def miss(field: str, message: str) -> None:
            out.append(MissingField(field, message))

        purpose = self._purposes.get(request.purpose)
        if purpose is None:
            miss("purpose", _("choose the purpose of the access"))
        elif purpose.requires_text and not request.purpose_text.strip():
            miss("purpose_text", _("describe the purpose in words"))
        if not _cameras(request.cameras):
            miss("cameras", _("name at least one camera"))
        if request.span_from.tzinfo is None or request.span_to.tzinfo is None:
            miss("span_from", _("the time span must carry its time zone"))
        else:
            if request.span_from >= request.span_to:
                miss("span_to", _("the end of the span must come after its start"))
            if request.span_to > now:
                miss("span_to", _("the span cannot end in the future"))
        needs_third = request.kind in (AccessKind.VISIT, AccessKind.ERASURE) or (
            request.purpose == DATA_SUBJECT_REQUEST)
        third = request.third_party
        if needs_third or third is not None:
            for name, value, message in (
                ("name", third.name if third else "", _("the third party's full name")),
                ("document", third.document if third else "",
                 _("the third party's identity document")),
                ("authorization_ref", third.authorization_ref if third else "",
                 _("the reference of the written authorization")),
                ("authorization_issuer", third.authorization_issuer if third else "",
                 _("who issued the authorization")),
            ):  # fmt: skip
                if not value.strip():
                    miss(f"third_party.{name}", _("missing: {what}").format(what=message))
            if not request.confidentiality_declared:
                miss("confidentiality_declared",
                     _("the third party must declare to keep what they see confidential"))
        if request.kind is AccessKind.EXPORT and not (request.recipient or "").strip():
            miss("recipient", _("name who receives the exported copy"))
        return out

    # ---------------------------------------------------------------- completed later

    def close_visit(self, session: Session, entry_id: int, at: datetime | None = None
                    ) -> RegisterEntry:  # fmt: skip
        """Write the visitor's time out (now, or *at*: not before the time in, not future)."""
        require(session, Permission.PLAYBACK, self._audit, _target(entry_id))
        entry = self._get(entry_id)
        now = self._clock()
        at = now if at is None else at
        if entry.kind is not AccessKind.VISIT:
            raise RegisterError(_("Entry {id} is not a visit.").format(id=entry_id))
        if at < entry.at or at > now:
            raise RegisterError(_("The time out must lie between the time in and now."))
        with self._store.transaction():
            if not self._rows.close_visit(entry_id, at):
                raise RegisterError(_("The visit of entry {id} is already closed.").format(
                    id=entry_id))
            self._audit.append(session.username, REGISTER_VISIT_CLOSED, _target(entry_id),
                               {"time_out": at.isoformat()})
        return self._get(entry_id)

    def record_viewed(self, entry_id: int, cameras: Sequence[str], span_from: datetime,
                      span_to: datetime) -> RegisterEntry:  # fmt: skip
        """Widen the span and cameras actually viewed under *entry_id*.

        Not audited here: the playback that viewed them writes its own audit events.
        """
        self._get(entry_id)
        if span_from > span_to:
            raise RegisterError(_("The end of the span must come after its start."))
        self._rows.record_viewed(entry_id, _cameras(cameras), span_from, span_to)
        return self._get(entry_id)

    def attach_file(self, entry_id: int, file_name: str, sha256: str) -> RegisterEntry:
        """Record an export's file name and SHA-256 (once)."""
        entry = self._get(entry_id)
        sha256 = sha256.strip().lower()
        if entry.kind is not AccessKind.EXPORT:
            raise RegisterError(_("Entry {id} is not an export.").format(id=entry_id))
        if not file_name.strip() or not _SHA256.fullmatch(sha256):
            raise RegisterError(_("An exported file needs its name and a SHA-256 of 64 "
                                  "hexadecimal digits."))
        with self._store.transaction():
            if not self._rows.attach_file(entry_id, file_name.strip(), sha256):
                raise RegisterError(_("Entry {id} already has its exported file.").format(
                    id=entry_id))
            self._audit.append(entry.username, REGISTER_FILE_ATTACHED, _target(entry_id),
                               {"file_name": file_name.strip(), "sha256": sha256})
        return self._get(entry_id)

    # ---------------------------------------------------------------- reading

    def entries(self, session: Session, flt: RegisterFilter | None = None,
                limit: int | None = 100, offset: int = 0) -> list[RegisterEntry]:  # fmt: skip
        """Entries matching *flt*, newest first (only one's own without ``review_register``)."""
        return self._rows.query(self._scope(session, flt), limit=limit, offset=offset)

    def iter_entries(self, session: Session, flt: RegisterFilter | None = None,
                     batch: int = 500) -> Iterator[RegisterEntry]:  # fmt: skip
        """Every entry matching *flt*, oldest first, read a page at a time (for exports).

        The permission is checked now, not at the first page."""
        return self._pages(self._scope(session, flt), batch)

    def _pages(self, scoped: RegisterFilter, batch: int) -> Iterator[RegisterEntry]:
        offset = 0
        while True:
            page = self._rows.query(scoped, limit=batch, offset=offset, oldest_first=True)
            yield from page
            if len(page) < batch:
                return
            offset += batch

    def count(self, session: Session, flt: RegisterFilter | None = None) -> int:
        return self._rows.count(self._scope(session, flt))

    def entry(self, session: Session, entry_id: int) -> RegisterEntry:
        entry = self._get(entry_id)
        if entry.username != session.username:
            require(session, Permission.REVIEW_REGISTER, self._audit, _target(entry_id))
        return entry

    def open_visits(self, session: Session) -> list[RegisterEntry]:
        """Visits still in the control room (to close them when the visitor leaves)."""
        if not session.allows(Permission.REVIEW_REGISTER):
            require(session, Permission.PLAYBACK, self._audit, "register")
        return self._rows.open_visits()

    def events_around(self, session: Session, entry_id: int, minutes: int = 30
                      ) -> list[AuditEntry]:  # fmt: skip
        """The audit events of the entry's signer, and any about the entry, within
        *minutes* of its signing: what the person did before and after."""
        require(session, Permission.REVIEW_REGISTER, self._audit, _target(entry_id))
        entry = self._get(entry_id)
        window = timedelta(minutes=minutes)
        target = _target(entry_id)
        return [e for e in self._audit.entries(since=entry.at - window,
                                               until=entry.at + window)
                if e.actor == entry.username or e.target == target]  # fmt: skip

    # ---------------------------------------------------------------- review

    def mark_reviewed(self, session: Session, entry_id: int, note: str) -> RegisterEntry:
        """The responsabile's verification (R25), audited; never of one's own entry."""
        require(session, Permission.REVIEW_REGISTER, self._audit, _target(entry_id))
        entry = self._get(entry_id)
        if entry.username == session.username:
            self._audit.append(session.username, REGISTER_REVIEW_REFUSED, _target(entry_id),
                               {"reason": "own_entry"})
            raise RegisterError(_("Nobody reviews their own accesses: entry {id} must be "
                                  "reviewed by another supervisor.").format(id=entry_id))
        if entry.review is not None:
            raise RegisterError(_("Entry {id} was already reviewed by {who}.").format(
                id=entry_id, who=entry.review.reviewer_name))
        if not note.strip():
            raise RegisterIncomplete([MissingField("note", _("write the outcome of the "
                                                             "review"))])
        now = self._clock()
        with self._store.transaction():
            self._rows.add_review(entry_id, session.username, session.full_name, now,
                                  note.strip())
            event = self._audit.append(session.username, REGISTER_REVIEWED,
                                       _target(entry_id), {"note": note.strip()})
            self._rows.set_review_audit_id(entry_id, event.id)
        return self._get(entry_id)

    # ---------------------------------------------------------------- helpers

    def _get(self, entry_id: int) -> RegisterEntry:
        entry = self._rows.get(entry_id)
        if entry is None:
            raise RegisterError(_("There is no register entry {id}.").format(id=entry_id))
        return entry

    def _scope(self, session: Session, flt: RegisterFilter | None) -> RegisterFilter:
        flt = flt or RegisterFilter()
        if session.allows(Permission.REVIEW_REGISTER):
            return flt
        if flt.person not in (None, session.username):
            require(session, Permission.REVIEW_REGISTER, self._audit, "register")
        return replace(flt, person=session.username)


def _target(entry_id: int) -> str:
    return f"register/{entry_id}"


def _cameras(cameras: Iterable[str]) -> tuple[str, ...]:
    """Stripped, non-empty, in order, without repeats."""
    out: list[str] = []
    for camera in cameras:
        camera = camera.strip()
        if camera and camera not in out:
            out.append(camera)
    return tuple(out)


def _clean_third(third: ThirdParty | None) -> ThirdParty | None:
    if third is None:
        return None
    return ThirdParty(third.name.strip(), third.document.strip(),
                      third.authorization_ref.strip(), third.authorization_issuer.strip())
