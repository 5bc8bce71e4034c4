"""The supervisor's erasure of specific footage for a data subject's right (R18, GDPR art. 17).

R18: footage is never deleted from a workstation; retention is the only routine deletion.
The one exception is a data subject's request to erase footage of themselves, which the
responsabile answers (Lumezzane art. 8 c.2). So an erasure needs:

- permission ``review_register``, which only the supervisore holds (the same rule as the
  register's ``erasure`` entries, ``registry.register.KIND_PERMISSION``);
- a register entry of kind ``erasure`` signed by the same person, naming the camera, whose
  span covers the span to erase (the entry records the data subject as its third party and
  the written request as its authorization);
- no active hold on any of the footage: a hold is a legal order to keep it, and an erasure
  request does not lift it (release the hold first, with its reason, if that is right).

Deletion is by crypto-shredding, as for retention (docs/design/recording.md): the segments'
keys are overwritten and the receipt written in **one** transaction, then the files are
unlinked. Segments go **whole**: a segment is a unit of encryption, so the footage actually
erased may start before and end after the span asked for, by up to one segment (60 s) at
each end; the receipt says exactly what was erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, NoReturn

from footage.holds import covers, is_active
from footage.index import Auditor, FootageIndex
from footage.retention import METHOD
from registry.clock import Clock, format_at, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.register import AccessKind, AccessRegister, RegisterEntry
from registry.roles import Permission
from registry.session import Session, require
from registry.store_footage import COMPLETE, WRITING, SegmentRow

#: Audit actions.
ERASED: Final = "footage.erase"
ERASE_REFUSED: Final = "footage.erase_refused"


class ErasureError(CentraleError):
    """The erasure cannot be done as asked; nothing was deleted."""

    title = N_("Erasure refused")


@dataclass(frozen=True)
class ErasureReceipt:
    camera: str
    entry_id: int
    #: the span asked for
    span_from: datetime
    span_to: datetime
    segments: int
    bytes: int
    #: what was actually erased (whole segments), None when nothing was recorded there
    erased_from: datetime | None
    erased_to: datetime | None
    audit_id: int | None
    wal_truncated: bool


class Erasure:
    """Erase one camera's footage of a span under a signed erasure entry."""

    def __init__(self, index: FootageIndex, register: AccessRegister, audit: Auditor,
                 clock: Clock = utc_now) -> None:  # fmt: skip
        self.index = index
        self.register = register
        self.audit = audit
        self.clock = clock

    def plan(self, session: Session, camera: str, span_from: datetime, span_to: datetime,
             entry_id: int) -> tuple[RegisterEntry, list[SegmentRow]]:  # fmt: skip
        """Check everything and return the segments that would go; refusals audited."""
        target = f"camera:{camera}"
        require(session, Permission.REVIEW_REGISTER, self.audit, target)
        if span_from >= span_to:
            raise ErasureError(_("--to: the end of the span must come after its start"))
        try:
            entry = self.register.entry(session, entry_id)
        except CentraleError as e:
            self._refuse(session, target, entry_id, "no_entry", e.message)
        if entry.username != session.username:
            self._refuse(session, target, entry_id, "not_own_entry", _(
                "Register entry {id} was signed by {who}: sign your own erasure entry."
            ).format(id=entry_id, who=entry.username))
        if entry.kind is not AccessKind.ERASURE:
            self._refuse(session, target, entry_id, "wrong_kind", _(
                "Register entry {id} is a {kind} entry, not an erasure."
            ).format(id=entry_id, kind=entry.kind.display_title))
        if camera not in entry.cameras:
            self._refuse(session, target, entry_id, "camera_not_covered", _(
                "Register entry {id} does not name camera {camera}."
            ).format(id=entry_id, camera=camera))
        if span_from < entry.span_from or span_to > entry.span_to:
            self._refuse(session, target, entry_id, "span_not_covered", _(
                "The span to erase must lie within the span of register entry {id}."
            ).format(id=entry_id))
        segs = self.index.store.segments(camera=camera, states=(COMPLETE, WRITING),
                                         since=span_from, until=span_to)
        if any(s.state == WRITING for s in segs):
            self._refuse(session, target, entry_id, "recording", _(
                "Camera {camera} is still recording inside the span: try again in a "
                "minute, once the segment is complete."
            ).format(camera=camera))
        now = self.clock()
        held = sorted({h.id for h in self.index.store.holds(active_at=now) for s in segs
                       if is_active(h, now) and covers(h, camera, s.start_at,
                                                       s.end_at or s.start_at)})
        if held:
            self._refuse(session, target, entry_id, "held", _(
                "Footage in the span is kept under hold {ids}: an erasure cannot override a "
                "hold. Nothing was deleted."
            ).format(ids=", ".join(str(i) for i in held)))
        return entry, segs

    def erase(self, session: Session, camera: str, span_from: datetime, span_to: datetime,
              entry_id: int) -> ErasureReceipt:  # fmt: skip
        """Crypto-shred the covered segments (whole) with a receipt in the same commit."""
        entry, segs = self.plan(session, camera, span_from, span_to, entry_id)
        store = self.index.store
        erased_from = min((s.start_at for s in segs), default=None)
        erased_to = max((s.end_at or s.start_at for s in segs), default=None)
        size = sum(s.size for s in segs)
        with store.store.transaction():
            store.mark_garbage(s.id for s in segs)  # keys gone from this commit on
            event = self.audit.append(session.username, ERASED, f"camera:{camera}", {
                "register_entry": str(entry.id), "camera": camera,
                "span_from": format_at(span_from), "span_to": format_at(span_to),
                "erased_from": format_at(erased_from) if erased_from else "",
                "erased_to": format_at(erased_to) if erased_to else "",
                "segments": str(len(segs)), "bytes": str(size),
                "method": METHOD + "; whole segments",
            })  # fmt: skip
        self.index.delete(segs)  # unlink the files, forget the rows
        wal = store.checkpoint_wal() if segs else True
        return ErasureReceipt(camera, entry.id, span_from, span_to, len(segs), size,
                              erased_from, erased_to, getattr(event, "id", None), wal)

    def _refuse(self, session: Session, target: str, entry_id: int, reason: str,
                message: str) -> NoReturn:  # fmt: skip
        self.audit.append(session.username, ERASE_REFUSED, target,
                          {"register_entry": str(entry_id), "reason": reason})
        raise ErasureError(message)
