"""The access register's values: what an entry holds, what a request asks, how to filter.

Plain frozen dataclasses shared by the service (:mod:`registry.register`) and its SQL
(:mod:`registry.store_register`), so that neither imports the other's internals. Times are
timezone-aware UTC; they are shown in the site's time zone by whoever shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from registry.i18n import N_, _


class AccessKind(StrEnum):
    """Why recorded footage is opened; each kind needs its own permission (see register.py)."""

    PLAYBACK = "playback"  # an operator plays recordings back
    EXPORT = "export"  # a copy leaves the system (issue 6)
    VISIT = "visit"  # a third party views footage in the control room (Per. All.1 §8-9)
    ERASURE = "erasure"  # a data subject's right to erasure (issue 4)

    @property
    def display_title(self) -> str:
        return _(_KIND_TITLES[self])

    @property
    def legal_title(self) -> str:
        """The Italian wording used on the register's printed and CSV copies."""
        return _KIND_LEGAL[self]


_KIND_TITLES: dict[AccessKind, str] = {
    AccessKind.PLAYBACK: N_("Playback"),
    AccessKind.EXPORT: N_("Export"),
    AccessKind.VISIT: N_("Visit"),
    AccessKind.ERASURE: N_("Erasure"),
}

_KIND_LEGAL: dict[AccessKind, str] = {
    AccessKind.PLAYBACK: "Visione registrazioni",
    AccessKind.EXPORT: "Estrazione copia",
    AccessKind.VISIT: "Visione da parte di terzi",
    AccessKind.ERASURE: "Cancellazione su istanza",
}


@dataclass(frozen=True, slots=True)
class ThirdParty:
    """Someone other than the operator who sees the footage (R24, R27; Per. All.1 §9)."""

    name: str
    #: identity document, e.g. "C.I. CA12345AB"
    document: str
    #: the written authorization's reference, e.g. "prot. 1234/2026"
    authorization_ref: str
    #: who authorised it (the responsabile, the titolare, the judicial authority)
    authorization_issuer: str


@dataclass(frozen=True, slots=True)
class Review:
    """The responsabile's verification of one entry (R25, Lum. 10ter.5)."""

    reviewer: str
    reviewer_name: str
    at: datetime
    note: str
    audit_id: int | None


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One signed access to recorded footage."""

    id: int
    #: when it was signed; for a visit also the visitor's time in
    at: datetime
    username: str
    full_name: str
    role: str
    session_id: int | None
    kind: AccessKind
    purpose: str
    #: the purpose's wording as it was signed
    purpose_title: str
    purpose_text: str
    #: cameras asked for when signing
    cameras: tuple[str, ...]
    span_from: datetime
    span_to: datetime
    third_party: ThirdParty | None
    recipient: str | None
    observations: str
    confidentiality_declared: bool
    #: the ``register_entry`` audit event written with it
    audit_id: int | None
    time_out: datetime | None = None
    viewed_cameras: tuple[str, ...] = ()
    viewed_from: datetime | None = None
    viewed_to: datetime | None = None
    file_name: str | None = None
    file_sha256: str | None = None
    review: Review | None = None

    @property
    def time_in(self) -> datetime | None:
        return self.at if self.kind is AccessKind.VISIT else None

    @property
    def is_open_visit(self) -> bool:
        return self.kind is AccessKind.VISIT and self.time_out is None

    @property
    def all_cameras(self) -> tuple[str, ...]:
        """Requested cameras, then those only viewed, without repeats."""
        return self.cameras + tuple(c for c in self.viewed_cameras if c not in self.cameras)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What the service hands the store to write (already validated and signed)."""

    at: datetime
    username: str
    full_name: str
    role: str
    session_id: int | None
    kind: AccessKind
    purpose: str
    purpose_title: str
    purpose_text: str
    cameras: tuple[str, ...]
    span_from: datetime
    span_to: datetime
    third_party: ThirdParty | None
    recipient: str | None
    observations: str
    confidentiality_declared: bool


@dataclass(frozen=True, slots=True)
class RegisterFilter:
    """The supervisor's filters; ``None`` means "any". The period is ``[period_from,
    period_to)`` on the time the entry was signed."""

    period_from: datetime | None = None
    period_to: datetime | None = None
    person: str | None = None
    camera: str | None = None
    purpose: str | None = None
    #: True: only reviewed entries; False: only those still to review
    reviewed: bool | None = None
    kind: AccessKind | None = None
