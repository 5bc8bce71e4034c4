"""The purge pass: retention as a legal ceiling (R16), holds respected (R17, R30).

At time ``T`` every ``complete`` segment of camera ``c`` that started before
``T - retention_days(c)`` and that no active hold covers is crypto-shredded (its key
destroyed, then its file unlinked: :meth:`footage.index.FootageIndex.delete`). Cameras not in
the configuration keep the legal maximum, 7 days. Each pass that is not a dry run writes one
receipt to the audit trail. docs/design/recording.md, "Retention as a ceiling".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from cameras.config import MAX_RETENTION_DAYS
from footage.holds import covers
from footage.index import Auditor, FootageIndex
from registry.clock import Clock, format_at, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.store_footage import SegmentRow

#: How a purge makes footage unrecoverable, as written in each receipt.
METHOD: Final = "crypto-shred: per-segment AES-128 key zeroed in the index, then file unlinked"
#: A real pass may look ahead of the clock by this much (clock skew between processes).
FUTURE_TOLERANCE: Final = timedelta(minutes=1)


class RetentionError(CentraleError):
    title = N_("Retention")


@dataclass
class CameraPurge:
    camera: str
    retention_days: int
    ceiling: datetime
    segments: int = 0
    bytes: int = 0
    first_start: datetime | None = None
    last_end: datetime | None = None
    held: int = 0

    def receipt(self) -> dict[str, Any]:
        return {
            "retention_days": self.retention_days,
            "ceiling": format_at(self.ceiling),
            "segments": self.segments,
            "bytes": self.bytes,
            "from": format_at(self.first_start) if self.first_start else None,
            "to": format_at(self.last_end) if self.last_end else None,
            "held": self.held,
        }


@dataclass
class PurgeReport:
    as_of: datetime
    dry_run: bool
    cameras: list[CameraPurge] = field(default_factory=list)
    wal_truncated: bool | None = None
    receipt_id: int | None = None

    @property
    def segments(self) -> int:
        return sum(c.segments for c in self.cameras)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.cameras)

    @property
    def held(self) -> int:
        return sum(c.held for c in self.cameras)


class Retention:
    """Runs purge passes over one data directory's footage."""

    def __init__(
        self,
        index: FootageIndex,
        audit: Auditor,
        retention_days: Mapping[str, int] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.index = index
        self.audit = audit
        self.retention_days = dict(retention_days or {})
        self.clock = clock

    def days_for(self, camera: str) -> int:
        """The camera's ceiling in days: configured, never above the legal maximum."""
        return max(1, min(MAX_RETENTION_DAYS, self.retention_days.get(camera, MAX_RETENTION_DAYS)))

    def run(
        self, *, as_of: datetime | None = None, dry_run: bool = False, actor: str = "system"
    ) -> PurgeReport:
        now = self.clock()
        at = as_of or now
        if at.tzinfo is None:
            raise RetentionError(_("--as-of needs a time zone (e.g. 2025-01-31T12:00:00+01:00)"))
        if not dry_run and at > now + FUTURE_TOLERANCE:
            raise RetentionError(
                _("--as-of {at} is in the future: that would delete footage before its term "
                  "(only allowed with --dry-run)").format(at=format_at(at))
            )
        store = self.index.store
        holds = store.holds(active_at=at)
        report = PurgeReport(as_of=at, dry_run=dry_run)
        doomed: list[SegmentRow] = []
        cameras = sorted(set(store.cameras()) | set(self.retention_days))
        for camera in cameras:
            days = self.days_for(camera)
            ceiling = at - timedelta(days=days)
            purge = CameraPurge(camera, days, ceiling)
            cam_holds = [h for h in holds if camera in h.cameras]
            for seg in store.started_before(camera, ceiling):
                end = seg.end_at or seg.start_at
                if any(covers(h, camera, seg.start_at, end) for h in cam_holds):
                    purge.held += 1
                    continue
                doomed.append(seg)
                purge.segments += 1
                purge.bytes += seg.size
                purge.first_start = min(purge.first_start or seg.start_at, seg.start_at)
                purge.last_end = max(purge.last_end or end, end)
            if purge.segments or purge.held:
                report.cameras.append(purge)
        if dry_run:
            return report
        self.index.delete(doomed)
        if doomed:
            report.wal_truncated = store.checkpoint_wal()
        entry = self.audit.append(actor, "retention.purge", "footage", {
            "as_of": format_at(at),
            "method": METHOD,
            "segments": report.segments,
            "bytes": report.bytes,
            "held": report.held,
            "cameras": {c.camera: c.receipt() for c in report.cameras},
            "wal_truncated": report.wal_truncated,
        })  # fmt: skip
        report.receipt_id = getattr(entry, "id", None)
        return report
