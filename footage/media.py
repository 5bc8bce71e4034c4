"""Exported packages on removable media, tracked until delivered or destroyed (R23).

Lumezzane 11.16: copies on removable media are tracked until they are delivered to the
authority or destroyed. Every package :mod:`footage.export` writes starts ``on_disk``; an
operator then records that it was copied onto a medium (which one: "chiavetta USB n. 3",
"DVD prot. 812"), delivered (to whom) or destroyed (with a note: how). States only move
forward: ``on_disk -> copied | delivered | destroyed``, ``copied -> delivered |
destroyed``; delivered and destroyed are final. Each change is audited (``media.copied``,
``media.delivered``, ``media.destroyed``).

Who: the operators who export (permission ``export``) see and update their own packages;
the supervisor (``review_register``) sees and updates everyone's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.roles import Permission
from registry.session import Auditor, Session, require
from registry.store_export import (
    COPIED,
    DELIVERED,
    DESTROYED,
    ON_DISK,
    ExportStore,
    PackageRow,
)

MEDIA_COPIED: Final = "media.copied"
MEDIA_DELIVERED: Final = "media.delivered"
MEDIA_DESTROYED: Final = "media.destroyed"

#: state -> the states it may come from
_FROM: Final = {
    COPIED: (ON_DISK,),
    DELIVERED: (ON_DISK, COPIED),
    DESTROYED: (ON_DISK, COPIED),
}


class MediaError(CentraleError):
    title = N_("Removable media")


def state_label(state: str) -> str:
    return {
        ON_DISK: _("on disk"),
        COPIED: _("copied to medium"),
        DELIVERED: _("delivered"),
        DESTROYED: _("destroyed"),
    }.get(state, state)


class MediaLog:
    """The list of exported packages and their states."""

    def __init__(self, store: ExportStore, audit: Auditor, clock: Clock = utc_now) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock

    def packages(self, session: Session, *, everyone: bool = False,
                 open_only: bool = False) -> list[PackageRow]:  # fmt: skip
        """Newest first: one's own, or everyone's (supervisor). ``open_only``: those not yet
        delivered or destroyed (what is still to be accounted for)."""
        states = (ON_DISK, COPIED) if open_only else (ON_DISK, COPIED, DELIVERED, DESTROYED)
        if everyone:
            require(session, Permission.REVIEW_REGISTER, self.audit, "media")
            return self.store.list(states=states)
        require(session, Permission.EXPORT, self.audit, "media")
        return self.store.list(created_by=session.username, states=states)

    def get(self, session: Session, package_id: int) -> PackageRow:
        row = self.store.get(package_id)
        if row is None:
            raise MediaError(_("There is no exported package {id}.").format(id=package_id))
        if row.created_by != session.username:
            require(session, Permission.REVIEW_REGISTER, self.audit, _target(package_id))
        else:
            require(session, Permission.EXPORT, self.audit, _target(package_id))
        return row

    def copied(self, session: Session, package_id: int, medium: str) -> PackageRow:
        medium = medium.strip()
        if not medium:
            raise MediaError(_("medium: say which medium the package was copied to"))
        return self._move(session, package_id, COPIED, MEDIA_COPIED, {"medium": medium},
                          lambda at: self.store.mark_copied(
                              package_id, medium=medium, by=session.username, at=at,
                              from_states=_FROM[COPIED]))  # fmt: skip

    def delivered(self, session: Session, package_id: int, to: str) -> PackageRow:
        to = to.strip()
        if not to:
            raise MediaError(_("to: say who received the package"))
        return self._move(session, package_id, DELIVERED, MEDIA_DELIVERED, {"to": to},
                          lambda at: self.store.mark_delivered(
                              package_id, to=to, by=session.username, at=at,
                              from_states=_FROM[DELIVERED]))  # fmt: skip

    def destroyed(self, session: Session, package_id: int, note: str, *,
                  delete_file: bool = False) -> PackageRow:  # fmt: skip
        """Record the destruction (of the medium, or of the package); ``delete_file`` also
        removes the package from the export folder."""
        note = note.strip()
        if not note:
            raise MediaError(_("note: say what was destroyed and how"))
        row = self._move(session, package_id, DESTROYED, MEDIA_DESTROYED,
                         {"note": note, "file_deleted": delete_file},
                         lambda at: self.store.mark_destroyed(
                             package_id, by=session.username, at=at, note=note,
                             from_states=_FROM[DESTROYED]))  # fmt: skip
        if delete_file:
            path = Path(row.folder) / row.file_name
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        return row

    def _move(
        self, session: Session, package_id: int, state: str, action: str,
        details: dict[str, object], update: Callable[[datetime], bool],
    ) -> PackageRow:  # fmt: skip
        before = self.get(session, package_id)
        at = self.clock()
        with self.store.store.transaction():
            if not update(at):
                raise MediaError(_("Package {id} is {state}: it cannot become {new}.").format(
                    id=package_id, state=state_label(before.state), new=state_label(state)))
            self.audit.append(session.username, action, _target(package_id), {
                **{k: str(v) for k, v in details.items()}, "file_name": before.file_name,
                "from_state": before.state,
            })  # fmt: skip
        after = self.store.get(package_id)
        assert after is not None
        return after


def _target(package_id: int) -> str:
    return f"export/{package_id}"


def is_open(row: PackageRow) -> bool:
    """Still to be accounted for (not delivered, not destroyed)."""
    return row.state in (ON_DISK, COPIED)


def since(row: PackageRow) -> datetime:
    """When the package entered its current state."""
    return {COPIED: row.copied_at, DELIVERED: row.delivered_at,
            DESTROYED: row.destroyed_at}.get(row.state) or row.created_at  # fmt: skip
