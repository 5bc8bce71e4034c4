"""Control leases: who drives a PTZ camera now, and who may take it (R9).

Driving a camera takes its lease; every command renews it; it lapses ``idle_s`` seconds
(30 by default) after the last command. While it runs:

- the holder's commands go through (the same person from another console too: the lease is
  the person's, and moves to the console they use);
- anyone else of the same or a lower level is refused with a message naming the holder and
  until when it holds;
- a first-level person's command takes over a second-level lease at once (first level has
  priority, R9): audited, and the console that lost it is told at its next command or poll
  (:meth:`LeaseBook.poll`), from the ``taken_from`` column;
- a second-level person may drive a camera only while a first-level supervisor has opened it
  to the second level (:meth:`LeaseBook.open_camera`, until a time; closing is audited too).

Leases live in the shared database, so several consoles (and the recorder's tour runner,
which pauses a tour while someone holds the camera) see the same rows. Reading and writing a
lease happen in one ``BEGIN IMMEDIATE`` transaction: two consoles taking the same camera at
the same moment cannot both win. A held key renews the row at most once a second (a write
per key repeat would cost a disk sync each); the holder is still checked on every command.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.roles import Level, Permission, PermissionDenied
from registry.session import Auditor, Session, require
from registry.store_ptz import LeaseRow, PtzControlStore

#: Seconds without a command after which a lease lapses.
DEFAULT_IDLE_S: Final = 30.0
#: A held lease is written again only when it was renewed longer ago than this.
RENEW_EVERY_S: Final = 1.0

# Audit actions.
LEASE_TAKEN = "ptz.lease_taken"
LEASE_TAKEOVER = "ptz.lease_takeover"
LEASE_REFUSED = "ptz.lease_refused"
LEASE_RELEASED = "ptz.lease_released"
CAMERA_OPENED = "ptz.opened"
CAMERA_CLOSED = "ptz.closed"


class LeaseRefused(CentraleError):
    """Somebody else drives the camera (or it is not open to this person's level)."""

    title = N_("Camera in use")

    def __init__(self, message: str, *, holder: str = "", until: datetime | None = None,
                 title: str | None = None) -> None:  # fmt: skip
        super().__init__(message, title=title)
        self.holder = holder
        self.until = until


class LeaseLost(LeaseRefused):
    """This console's lease was taken over by a first-level person."""

    title = N_("Control taken over")


@dataclass(frozen=True)
class Lease:
    camera_id: str
    holder: str
    holder_name: str
    level: Level
    expires_at: datetime
    #: whose lease this one took over, if it was a takeover
    taken_from: str | None = None

    def held_by(self, session: Session) -> bool:
        return self.holder == session.username


def _lease(row: LeaseRow) -> Lease:
    return Lease(row.camera_id, row.holder, row.holder_name, Level(row.level), row.expires_at,
                 row.taken_from)  # fmt: skip


@dataclass(frozen=True)
class LeasePoll:
    """What a console shows: the live lease (or none), and a takeover it has not been told of."""

    lease: Lease | None
    lost_to: Lease | None = None


class LeaseBook:
    """The leases of every camera, for one console (or the recorder); see the module doc."""

    def __init__(
        self,
        store: PtzControlStore,
        audit: Auditor,
        clock: Clock = utc_now,
        *,
        idle_s: float = DEFAULT_IDLE_S,
        timezone: str = "Europe/Rome",
        workstation: str = "",
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.idle_s = idle_s
        self.tz = ZoneInfo(timezone)
        self.workstation = workstation
        self._lock = threading.Lock()
        #: camera -> (holder, expires_at) of leases this book granted and not yet released
        self._granted: dict[str, tuple[str, datetime]] = {}

    def _time(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%H:%M:%S")

    # -- reading -------------------------------------------------------------------------

    def current(self, camera_id: str) -> Lease | None:
        """The camera's lease if it has not lapsed."""
        row = self.store.lease(camera_id)
        if row is None or row.expires_at <= self.clock():
            return None
        return _lease(row)

    def live(self) -> dict[str, Lease]:
        return {r.camera_id: _lease(r) for r in self.store.leases(live_at=self.clock())}

    def is_open(self, camera_id: str, level: Level) -> bool:
        """True when a first-level supervisor has opened the camera to ``level`` now."""
        if level is Level.FIRST:
            return True
        return any(o.level >= level for o in self.store.openings(self.clock(), camera_id))

    def open_until(self, camera_id: str) -> datetime | None:
        """Until when the camera is open to the second level (None: it is not)."""
        ends = [o.until_at for o in self.store.openings(self.clock(), camera_id)]
        return max(ends) if ends else None

    def poll(self, session: Session, camera_id: str) -> LeasePoll:
        """The camera's lease, and whether this console lost its lease to a takeover."""
        lease = self.current(camera_id)
        with self._lock:
            granted = self._granted.get(camera_id)
            lost: Lease | None = None
            if granted is not None and granted[0] == session.username:
                if lease is not None and not lease.held_by(session):
                    if lease.taken_from == session.username:
                        lost = lease
                    self._granted.pop(camera_id, None)
                elif lease is None:
                    self._granted.pop(camera_id, None)  # lapsed: nothing to tell
        return LeasePoll(lease, lost)

    # -- taking --------------------------------------------------------------------------

    def take(self, session: Session, camera_id: str) -> Lease:
        """Take or renew the camera's lease for ``session``, or raise :class:`LeaseRefused`.

        Called before every command; the refusal is audited.
        """
        now = self.clock()
        expires = now + timedelta(seconds=self.idle_s)
        me = session.username
        row = self.store.lease(camera_id)
        if (row is not None and row.holder == me and row.expires_at > now
                and (expires - row.expires_at).total_seconds() < RENEW_EVERY_S):
            self._remember(camera_id, me, row.expires_at)
            return _lease(row)  # renewed a moment ago: no write for a held key
        if session.level is not Level.FIRST and not self.is_open(camera_id, session.level):
            self.audit.append(me, LEASE_REFUSED, camera_id, {"rule": "not_open"})
            raise LeaseRefused(
                _("Camera {camera} is not open to second-level control rooms: a first-level "
                  "supervisor must open it first").format(camera=camera_id),
                title=N_("Camera not open"),
            )  # fmt: skip
        refused: LeaseRow | None = None
        lost: LeaseRow | None = None
        taken_from: str | None = None
        fresh = False
        with self.store.store.transaction():
            row = self.store.lease(camera_id)
            live = row is not None and row.expires_at > now
            if row is not None and live and row.holder != me:
                if session.level is Level.FIRST and row.level == Level.SECOND:
                    taken_from = row.holder
                elif row.taken_from == me and self._granted_to(camera_id, me):
                    lost = row
                else:
                    refused = row
            if refused is None and lost is None:
                fresh = not live or row is None or row.holder != me
                taken_at = now if fresh or row is None else row.taken_at
                self.store.put_lease(camera_id, me, int(session.level), session.id or None,
                                     session.workstation or self.workstation, taken_at, expires,
                                     taken_from if fresh else (row.taken_from if row else None))
                if taken_from is not None:
                    self.audit.append(me, LEASE_TAKEOVER, camera_id, {
                        "from": taken_from, "until": expires.isoformat()})  # fmt: skip
                elif fresh:
                    self.audit.append(me, LEASE_TAKEN, camera_id,
                                      {"until": expires.isoformat()})  # fmt: skip
        if lost is not None:
            with self._lock:
                self._granted.pop(camera_id, None)
            self.audit.append(me, LEASE_REFUSED, camera_id,
                              {"holder": lost.holder, "rule": "taken_over"})  # fmt: skip
            raise LeaseLost(
                _("{holder} (first level) took over control of camera {camera} at {at}; they "
                  "hold it until {until}").format(holder=lost.holder_name, camera=camera_id,
                                                  at=self._time(lost.taken_at),
                                                  until=self._time(lost.expires_at)),
                holder=lost.holder, until=lost.expires_at,
            )  # fmt: skip
        if refused is not None:
            self.audit.append(me, LEASE_REFUSED, camera_id,
                              {"holder": refused.holder, "until": refused.expires_at.isoformat()})
            raise LeaseRefused(
                _("Camera {camera} is driven by {holder} until {until}").format(
                    camera=camera_id, holder=refused.holder_name,
                    until=self._time(refused.expires_at)),
                holder=refused.holder, until=refused.expires_at,
            )  # fmt: skip
        self._remember(camera_id, me, expires)
        lease = self.store.lease(camera_id)
        assert lease is not None
        return _lease(lease)

    def _remember(self, camera_id: str, holder: str, expires: datetime) -> None:
        with self._lock:
            self._granted[camera_id] = (holder, expires)

    def _granted_to(self, camera_id: str, holder: str) -> bool:
        with self._lock:
            granted = self._granted.get(camera_id)
        return granted is not None and granted[0] == holder

    def release(self, session: Session, camera_id: str) -> bool:
        """Give the camera back before the lease lapses (leaving the PTZ screen)."""
        with self._lock:
            self._granted.pop(camera_id, None)
        if self.store.release_lease(camera_id, session.username):
            self.audit.append(session.username, LEASE_RELEASED, camera_id)
            return True
        return False

    # -- openings to the second level ----------------------------------------------------

    def _require_first_level_supervisor(self, session: Session, camera_id: str) -> None:
        require(session, Permission.DEFINE_PRESETS, self.audit, camera_id)
        if session.level is not Level.FIRST:
            self.audit.append(session.username, LEASE_REFUSED, camera_id,
                              {"rule": "open_needs_first_level"})  # fmt: skip
            raise PermissionDenied(session.username, Permission.DEFINE_PRESETS, _(
                "Only a first-level supervisor may open a camera to second-level control rooms"))

    def open_camera(self, session: Session, camera_id: str, until: datetime) -> int:
        """Let second-level control rooms drive the camera until ``until``."""
        self._require_first_level_supervisor(session, camera_id)
        now = self.clock()
        if until <= now:
            raise LeaseRefused(_("until: the opening must end in the future"),
                               title=N_("Invalid opening"))  # fmt: skip
        opening = self.store.add_opening(camera_id, int(Level.SECOND), session.username, now,
                                         until)  # fmt: skip
        self.audit.append(session.username, CAMERA_OPENED, camera_id,
                          {"level": "2", "until": until.isoformat()})  # fmt: skip
        return opening

    def close_camera(self, session: Session, camera_id: str) -> int:
        """End the openings of the camera now; a second-level lease lapses at its next command."""
        self._require_first_level_supervisor(session, camera_id)
        closed = self.store.close_openings(camera_id, self.clock())
        self.audit.append(session.username, CAMERA_CLOSED, camera_id, {"openings": str(closed)})
        return closed
