"""The segment index and its files, kept in agreement (docs/design/recording.md).

Every change to a segment goes through :class:`FootageIndex`, in the order the design fixes:
create = reserve row (with key) -> create file (fsync dir) -> write, fdatasync per fragment
-> fsync -> commit ``complete``; delete = destroy key + mark ``garbage`` -> unlink -> fsync
dir -> forget row. :meth:`FootageIndex.reconcile` repairs whatever a crash left between two
of those steps. All SQL is in :mod:`registry.store_footage`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from footage.mp4 import (
    SegmentFile,
    complete_prefix,
    file_sha256,
    fsync_dir,
    make_dirs,
    new_key,
    probe,
)
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.store_footage import COMPLETE, GARBAGE, WRITING, FootageStore, SegmentRow

log = logging.getLogger(__name__)

FOOTAGE_DIR: Final = "footage"
LOCK_FILE: Final = ".recorder.lock"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEGMENT_NAME = re.compile(r"\d{6}-\d+\.mp4")


class Auditor(Protocol):
    """What the footage services need of :class:`registry.audit.AuditTrail`."""

    def append(self, actor: str, action: str, target: str = "",
               details: Mapping[str, Any] | None = None) -> object: ...


class RecorderRunning(CentraleError):
    """Another recorder holds the data directory's footage lock."""

    title = N_("Recorder already running")


def footage_root(data_dir: Path) -> Path:
    return Path(data_dir) / FOOTAGE_DIR


class RecorderLock:
    """``flock`` on ``footage/.recorder.lock``: one recorder per data directory.

    The kernel drops the lock when the process dies, ``kill -9`` included, so a stale lock
    never blocks a restart.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = footage_root(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RecorderLock:
        if not self.acquire():
            raise RecorderRunning(
                _("another recorder is running on {path}").format(path=self.path.parent)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class ReconcileReport:
    garbage_removed: int = 0
    reservations_dropped: int = 0
    salvaged: list[int] = field(default_factory=list)
    unsalvageable: int = 0
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    unknown_files: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.garbage_removed or self.reservations_dropped or self.salvaged
            or self.unsalvageable or self.missing or self.damaged or self.orphans_removed
        )  # fmt: skip


class FootageIndex:
    """Segments of one data directory: their rows and their files."""

    def __init__(self, data_dir: Path, store: FootageStore, clock: Clock = utc_now) -> None:
        self.data_dir = Path(data_dir)
        self.root = footage_root(self.data_dir)
        self.store = store
        self.clock = clock

    def path_of(self, seg: SegmentRow) -> Path:
        return self.data_dir / seg.path

    @staticmethod
    def relative_path(camera: str, start_at: datetime, seg_id: int) -> str:
        at = start_at.astimezone(UTC)
        return f"{FOOTAGE_DIR}/{camera}/{at:%Y-%m-%d}/{at:%H%M%S}-{seg_id}.mp4"

    # ---------------------------------------------------------------- writing

    def begin(self, camera: str, start_at: datetime) -> tuple[SegmentRow, SegmentFile]:
        """Reserve a row with a new key, then create its file (design: "Ordering")."""
        row = self.store.reserve_segment(
            camera, start_at, new_key(), self.clock(),
            lambda seg_id: self.relative_path(camera, start_at, seg_id),
        )  # fmt: skip
        path = self.path_of(row)
        try:
            make_dirs(path.parent, self.data_dir)
            return row, SegmentFile(path)
        except OSError:
            self.store.drop(row.id)  # no file was created: the reservation goes
            raise

    def finish(
        self, row: SegmentRow, file: SegmentFile, *, start_at: datetime, end_at: datetime,
        frames: int,
    ) -> SegmentRow:  # fmt: skip
        """fsync the file, then commit the row as ``complete``."""
        file.close(sync=True)
        self.store.complete_segment(
            row.id, start_at=start_at, end_at=max(end_at, start_at), size=file.size,
            sha256=file.sha256, frames=frames,
        )  # fmt: skip
        done = self.store.segment(row.id)
        assert done is not None
        return done

    def salvage(self, row: SegmentRow) -> SegmentRow | None:
        """Keep the complete fragments of a ``writing`` row's file; None if none are usable.

        Used after a crash and after ``ENOSPC``: the partial fragment at the end is cut off.
        """
        path = self.path_of(row)
        if not path.exists():
            self.store.drop(row.id)
            return None
        try:
            end, fragments = complete_prefix(path)
            if fragments:
                if path.stat().st_size != end:
                    os.truncate(path, end)
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                info = probe(path, row.key)
            if not fragments or info.frames == 0:
                self.delete([row])
                return None
            size, digest = file_sha256(path)
        except OSError as exc:
            log.error("segment %s cannot be salvaged: %s", row.path, exc)
            self.delete([row])
            return None
        self.store.complete_segment(
            row.id, start_at=row.start_at,
            end_at=row.start_at + timedelta(seconds=info.duration_s), size=size,
            sha256=digest, frames=info.frames,
        )  # fmt: skip
        return self.store.segment(row.id)

    # ---------------------------------------------------------------- deleting

    def delete(self, rows: Iterable[SegmentRow]) -> tuple[int, int]:
        """Crypto-shred and remove *rows*: (segments, bytes). Design: "Ordering"."""
        rows = list(rows)
        if not rows:
            return 0, 0
        self.store.mark_garbage(r.id for r in rows)  # from this commit on: unreadable
        self._remove_files(rows)
        self.store.forget(r.id for r in rows)
        return len(rows), sum(r.size for r in rows)

    def _remove_files(self, rows: Iterable[SegmentRow]) -> None:
        dirs: set[Path] = set()
        for r in rows:
            path = self.path_of(r)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            dirs.add(path.parent)
        for d in dirs:
            if not d.exists():
                continue
            fsync_dir(d)
            self._prune_empty(d)

    def _prune_empty(self, day_dir: Path) -> None:
        """Remove an empty day folder (and an empty camera folder above it)."""
        for d in (day_dir, day_dir.parent):
            if d == self.root or not d.is_relative_to(self.root):
                return
            try:
                d.rmdir()
            except OSError:
                return
            fsync_dir(d.parent)

    # ---------------------------------------------------------------- checking

    def check(self, *, hashes: bool = True) -> list[str]:
        """Every way rows and files disagree (the invariants of the design note); [] if none.

        Meant for a stopped recorder: ``writing`` rows count as problems.
        """
        problems: list[str] = []
        rows = self.store.segments(states=(WRITING, COMPLETE, GARBAGE))
        for row in rows:
            path = self.path_of(row)
            if row.state != COMPLETE:
                problems.append(f"{row.path}: row left in state {row.state}")
                continue
            if not path.is_file():
                problems.append(f"{row.path}: complete row without its file")
                continue
            size = path.stat().st_size
            if size != row.size:
                problems.append(f"{row.path}: {size} bytes on disk, {row.size} in the row")
            elif hashes and file_sha256(path)[1] != row.sha256:
                problems.append(f"{row.path}: sha256 differs from the row")
        known = {r.path for r in rows}
        if self.root.is_dir():
            for path in sorted(self.root.rglob("*.mp4")):
                rel = path.relative_to(self.data_dir).as_posix()
                if rel not in known:
                    problems.append(f"{rel}: file without a row")
        return problems

    # ---------------------------------------------------------------- reconciling

    def reconcile(self, audit: Auditor | None = None) -> ReconcileReport:
        """Bring rows and files back into agreement after a crash (caller holds the lock)."""
        report = ReconcileReport()
        for row in self.store.unfinished():
            if row.state == GARBAGE:
                self._remove_files([row])
                self.store.forget([row.id])
                report.garbage_removed += 1
            elif row.state == WRITING:
                if not self.path_of(row).exists():
                    self.store.drop(row.id)
                    report.reservations_dropped += 1
                elif self.salvage(row) is not None:
                    report.salvaged.append(row.id)
                else:
                    report.unsalvageable += 1
        for row in self.store.segments(states=(COMPLETE,)):
            path = self.path_of(row)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                report.missing.append(row.path)
                self.store.drop(row.id)
                log.error("segment file %s is missing: removed outside Centrale", row.path)
                continue
            if size != row.size:
                report.damaged.append(row.path)
                log.error("segment file %s has %d bytes, %d recorded", row.path, size, row.size)
        self._orphans(report)
        if audit is not None and report.changed:
            self._audit(audit, report)
        return report

    def _orphans(self, report: ReconcileReport) -> None:
        if not self.root.is_dir():
            return
        known = self.store.paths()
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name == LOCK_FILE:
                continue
            rel = path.relative_to(self.data_dir).as_posix()
            if rel in known:
                continue
            parts = path.relative_to(self.root).parts
            if len(parts) == 3 and _DAY.fullmatch(parts[1]) and _SEGMENT_NAME.fullmatch(parts[2]):
                # Its row (and key) are gone: ciphertext nobody can read. Free the space.
                path.unlink()
                fsync_dir(path.parent)
                self._prune_empty(path.parent)
                report.orphans_removed.append(rel)
            else:
                report.unknown_files.append(rel)
                log.warning("unknown file in the footage folder: %s", rel)

    def _audit(self, audit: Auditor, report: ReconcileReport) -> None:
        if report.missing:
            audit.append("system", "footage.missing", "", {"paths": ", ".join(report.missing)})
        if report.damaged:
            audit.append("system", "footage.damaged", "", {"paths": ", ".join(report.damaged)})
        audit.append(
            "system", "footage.reconciled", "",
            {
                "garbage_removed": str(report.garbage_removed),
                "reservations_dropped": str(report.reservations_dropped),
                "salvaged": str(len(report.salvaged)),
                "unsalvageable": str(report.unsalvageable),
                "orphans_removed": str(len(report.orphans_removed)),
            },
        )  # fmt: skip
