"""Holds: footage kept past its retention ceiling, only with a legal ground (R17, R30).

Every change needs permission ``hold`` (checked with :func:`registry.session.require`, which
audits refusals) and writes an audit entry with the values before and after. A hold never
shortens anything and cannot bring back purged footage; when it expires or is released, the
next purge pass treats its footage like any other (docs/design/recording.md, "Holds").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from enum import StrEnum

from footage.index import Auditor
from registry.clock import Clock, format_at, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.roles import Permission
from registry.session import Session, require
from registry.store_footage import FootageStore, HoldRow


class Ground(StrEnum):
    """The grounds on which the regulations allow keeping footage longer (R17, R30)."""

    INVESTIGATION = "investigation"
    SEIZURE = "seizure"
    CRIME = "crime"
    TRAFFIC = "traffic"
    CLOSURE = "closure"
    DATA_SUBJECT_REQUEST = "data_subject_request"

    @property
    def label(self) -> str:
        return _(_GROUND_TITLES[self])


_GROUND_TITLES: dict[Ground, str] = {
    Ground.INVESTIGATION: N_("investigation by a judicial or judicial-police authority"),
    Ground.SEIZURE: N_("seizure order"),
    Ground.CRIME: N_("crime detected"),
    Ground.TRAFFIC: N_("traffic-violation proceedings"),
    Ground.CLOSURE: N_("holidays or office closure"),
    Ground.DATA_SUBJECT_REQUEST: N_("pending data-subject request"),
}


class HoldError(CentraleError):
    """A hold cannot be created or changed as asked; nothing was changed."""

    title = N_("Hold refused")


def covers(hold: HoldRow, camera: str, start: datetime, end: datetime) -> bool:
    """Whether *hold* names *camera* and overlaps ``[start, end)``."""
    return camera in hold.cameras and hold.span_start < end and start < hold.span_end


def is_active(hold: HoldRow, at: datetime) -> bool:
    return hold.released_at is None and hold.expires_at > at


class Holds:
    """Create, extend, release and list holds on behalf of a signed-in person."""

    def __init__(
        self,
        store: FootageStore,
        audit: Auditor,
        clock: Clock = utc_now,
        *,
        known_cameras: Collection[str] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.known_cameras = set(known_cameras) if known_cameras is not None else None

    def create(
        self,
        session: Session,
        *,
        ground: Ground | str,
        authority: str,
        reference: str,
        cameras: Sequence[str],
        span_start: datetime,
        span_end: datetime,
        expires_at: datetime,
        note: str = "",
    ) -> HoldRow:
        require(session, Permission.HOLD, self.audit, "hold:new")
        now = self.clock()
        ground = self._ground(ground)
        authority, reference = authority.strip(), reference.strip()
        if not authority:
            raise HoldError(_("authority: name the authority that asked for the hold"))
        if not reference:
            raise HoldError(_("reference: give the reference number of the request or order"))
        cams = tuple(dict.fromkeys(c.strip() for c in cameras if c.strip()))
        if not cams:
            raise HoldError(_("cameras: name at least one camera"))
        if self.known_cameras is not None:
            unknown = [c for c in cams if c not in self.known_cameras]
            if unknown:
                raise HoldError(_("cameras: unknown camera {ids}").format(ids=", ".join(unknown)))
        self._check_span(span_start, span_end)
        if expires_at <= now:
            raise HoldError(_("expires: the expiry must be in the future"))
        with self.store.store.transaction():
            hold_id = self.store.add_hold(
                ground=str(ground), authority=authority, reference=reference, cameras=cams,
                span_start=span_start, span_end=span_end, expires_at=expires_at,
                note=note.strip(), placed_by=session.username, placed_at=now,
            )  # fmt: skip
            self.audit.append(session.username, "hold.create", f"hold:{hold_id}", {
                "ground": str(ground), "authority": authority, "reference": reference,
                "cameras": ",".join(cams), "span_start": format_at(span_start),
                "span_end": format_at(span_end), "expires_at": format_at(expires_at),
            })  # fmt: skip
        return self._get(hold_id)

    def extend(
        self,
        session: Session,
        hold_id: int,
        *,
        expires_at: datetime | None = None,
        span_start: datetime | None = None,
        span_end: datetime | None = None,
    ) -> HoldRow:
        """A later expiry and/or a wider span; never shorter, never narrower."""
        require(session, Permission.HOLD, self.audit, f"hold:{hold_id}")
        hold = self._get(hold_id)
        now = self.clock()
        if not is_active(hold, now):
            raise HoldError(_("hold {id} is released or expired: place a new one").format(
                id=hold_id))
        new_expiry = expires_at or hold.expires_at
        new_start = span_start or hold.span_start
        new_end = span_end or hold.span_end
        if new_expiry < hold.expires_at:
            raise HoldError(_("expires: an extension cannot bring the expiry forward; "
                              "release the hold instead"))
        if new_start > hold.span_start or new_end < hold.span_end:
            raise HoldError(_("span: an extension can only widen the span"))
        self._check_span(new_start, new_end)
        if (new_expiry, new_start, new_end) == (hold.expires_at, hold.span_start, hold.span_end):
            raise HoldError(_("nothing to extend: give a later expiry or a wider span"))
        with self.store.store.transaction():
            self.store.update_hold(hold_id, span_start=new_start, span_end=new_end,
                                   expires_at=new_expiry)
            self.audit.append(session.username, "hold.extend", f"hold:{hold_id}", {
                "expires_at": f"{format_at(hold.expires_at)} -> {format_at(new_expiry)}",
                "span_start": f"{format_at(hold.span_start)} -> {format_at(new_start)}",
                "span_end": f"{format_at(hold.span_end)} -> {format_at(new_end)}",
            })  # fmt: skip
        return self._get(hold_id)

    def release(self, session: Session, hold_id: int, reason: str) -> HoldRow:
        """End the hold now; its footage goes back under the retention ceiling."""
        require(session, Permission.HOLD, self.audit, f"hold:{hold_id}")
        hold = self._get(hold_id)
        if hold.released_at is not None:
            raise HoldError(_("hold {id} is already released").format(id=hold_id))
        reason = reason.strip()
        if not reason:
            raise HoldError(_("reason: say why the hold is released"))
        now = self.clock()
        with self.store.store.transaction():
            self.store.release_hold(hold_id, by=session.username, at=now, reason=reason)
            self.audit.append(session.username, "hold.release", f"hold:{hold_id}",
                              {"reason": reason, "reference": hold.reference})
        return self._get(hold_id)

    def listing(self, session: Session, *, active_only: bool = False) -> list[HoldRow]:
        """Holds name investigations: only people who may place them may read them."""
        require(session, Permission.HOLD, self.audit, "holds")
        return self.store.holds(active_at=self.clock() if active_only else None)

    def protecting(self, at: datetime) -> list[HoldRow]:
        """Holds that protect footage at *at* (for the purge pass; no session)."""
        return self.store.holds(active_at=at)

    # ---------------------------------------------------------------- helpers

    def _get(self, hold_id: int) -> HoldRow:
        hold = self.store.hold(hold_id)
        if hold is None:
            raise HoldError(_("there is no hold {id}").format(id=hold_id))
        return hold

    @staticmethod
    def _ground(value: Ground | str) -> Ground:
        try:
            return Ground(value)
        except ValueError:
            raise HoldError(_("ground: {value} is not a ground for a hold; choose one of "
                              "{choices}").format(value=repr(value),
                                                  choices=", ".join(g.value for g in Ground))
                            ) from None

    @staticmethod
    def _check_span(start: datetime, end: datetime) -> None:
        if end <= start:
            raise HoldError(_("span: the end must come after the start"))
