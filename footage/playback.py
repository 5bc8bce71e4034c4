"""Playing recorded footage back, only through a signed access-register entry (R24, R26).

:class:`Playback` is the gate: :meth:`Playback.open` needs ``playback`` and the id of a
register entry that the *same session* signed (kind playback, or a visit, where the operator
shows footage to the visitor) and that names the camera; anything else is refused and the
refusal audited. Opening writes a ``playback`` audit event; closing writes ``playback.end``
and the span actually viewed goes into the entry (``AccessRegister.record_viewed``, which
only widens), also at every seek, so a crash loses at most the last stretch.

:class:`PlaybackReader` reads one camera's segments through the index (never by path) in
its own thread, like :class:`cameras.stream.StreamReader`: it keeps only the newest frame,
scaled to the size the view asks for, and calls ``on_frame`` (an attribute write on the
view). Every frame goes through :func:`cameras.masks.apply_masks` with the decision in force
at the frame's wall time (:class:`footage.playback_timeline.MaskTimeline`). Seeking crosses
segment boundaries and gaps: a time with no recording lands on the next recorded instant and
says so in :attr:`PlaybackStatus.notice`; playing skips a gap the same way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

import av
import av.error

from cameras.config import CameraConfig
from cameras.masks import BlankReason, MaskDecision, Show, apply_masks, blank_reason
from cameras.stream import StreamStats, StreamStatus, VideoFrame
from footage.index import Auditor, FootageIndex
from footage.mp4 import open_segment
from footage.playback_timeline import DayTimeline, MaskTimeline, day_timeline
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.register import AccessKind, AccessRegister, RegisterEntry
from registry.roles import Permission
from registry.session import Session, require
from registry.store_footage import FootageStore, SegmentRow
from registry.store_ptz import PtzStore

log = logging.getLogger(__name__)

SPEEDS: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Audit actions.
PLAYBACK: Final = "playback"
PLAYBACK_END: Final = "playback.end"
PLAYBACK_REFUSED: Final = "playback.refused"
#: register entry kinds under which footage may be played
PLAYABLE_KINDS: Final = frozenset({AccessKind.PLAYBACK, AccessKind.VISIT})


class PlaybackError(CentraleError):
    title = N_("Playback")


class PlaybackRefused(PlaybackError):
    """No register entry of this session allows playing this camera back."""

    title = N_("Playback refused")


@dataclass(frozen=True)
class PlaybackStatus:
    """What the status line shows; a snapshot, safe to read from any thread."""

    camera_id: str
    #: wall time of the frame shown (None before the first one)
    position: datetime | None = None
    playing: bool = False
    speed: float = 1.0
    #: None when shown (with ``masks`` masks), else why the picture is blank
    blank: BlankReason | None = None
    masks: int = 0
    #: the last thing worth saying (a gap skipped, the end of the recording), translated
    notice: str = ""
    #: commands not yet carried out (tests wait for 0)
    pending: int = 0


class PlaybackReader:
    """One camera's recordings, decoded forward in a thread; see the module docstring."""

    def __init__(
        self, camera_id: str, index: FootageIndex, masks: MaskTimeline, *,
        on_viewed: Callable[[datetime, datetime], None] | None = None,
        on_frame: Callable[[], None] | None = None, zone: tzinfo = UTC,
    ) -> None:  # fmt: skip
        self.camera_id = camera_id
        #: the site's time zone, for the notices
        self.zone = zone
        self.index = index
        self.masks = masks
        self.on_viewed = on_viewed
        #: called from the reader thread after each new frame (the view raises a flag)
        self.on_frame = on_frame
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._seek_to: datetime | None = None
        self._steps = 0
        self._playing = False
        self._speed = 1.0
        self._pending = 0
        self._target: tuple[int, int] | None = None
        self._latest: VideoFrame | None = None
        self._seq = 0
        self._status = StreamStatus.CONNECTING
        self._detail = ""
        self._state = PlaybackStatus(camera_id)
        self._viewed: tuple[datetime, datetime] | None = None
        self._flushed: tuple[datetime, datetime] | None = None
        # reader-thread only
        self._seg: SegmentRow | None = None
        self._container: Any = None
        self._frames: Any = None
        self._interval = 0.1
        self._pace: tuple[float, datetime] | None = None
        #: a frame decoded but not shown (paused while waiting for its time)
        self._peeked: Any = None

    # -- commands (any thread) ------------------------------------------------------------

    def start(self, at: datetime) -> None:
        """Start the thread, showing the frame at *at* (paused)."""
        self.seek(at)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"playback-{self.camera_id}",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _command(self, change: Callable[[], None], *, counted: bool = False) -> None:
        """Apply *change* under the lock; *counted* (seek, step) waits for the thread."""
        with self._cond:
            change()
            if counted:
                self._pending += 1
                self._state = replace(self._state, pending=self._pending)
            self._cond.notify_all()

    def seek(self, at: datetime) -> None:
        def change() -> None:
            self._seek_to = at
            self._steps = 0
        self._command(change, counted=True)

    def seek_by(self, seconds: float) -> None:
        """Relative to the frame shown (or to a seek not yet carried out)."""
        with self._cond:
            base = self._seek_to or self._state.position
        if base is not None:
            self.seek(base + timedelta(seconds=seconds))

    def step(self, frames: int = 1) -> None:
        """Pause and move one frame forward (backward: a seek one frame interval back)."""
        if frames < 0:
            self.pause()
            self.seek_by(frames * self._interval)
            return

        def change() -> None:
            self._playing = False
            self._steps += frames
            self._state = replace(self._state, playing=False)
        self._command(change, counted=True)

    def play(self) -> None:
        self._set_playing(True)

    def pause(self) -> None:
        self._set_playing(False)

    def toggle(self) -> None:
        self._set_playing(not self._playing)

    def _set_playing(self, playing: bool) -> None:
        def change() -> None:
            self._playing = playing
            self._pace = None
            self._state = replace(self._state, playing=playing, notice="")
        self._command(change)

    def set_speed(self, speed: float) -> None:
        if speed not in SPEEDS:
            raise PlaybackError(_("speed: choose one of {speeds}").format(
                speeds=", ".join(f"{s:g}x" for s in SPEEDS)))

        def change() -> None:
            self._speed = speed
            self._pace = None
            self._state = replace(self._state, speed=speed)
        self._command(change)

    def faster(self) -> None:
        i = SPEEDS.index(self._speed)
        self.set_speed(SPEEDS[min(i + 1, len(SPEEDS) - 1)])

    def slower(self) -> None:
        i = SPEEDS.index(self._speed)
        self.set_speed(SPEEDS[max(i - 1, 0)])

    def close(self, timeout: float = 2.0) -> tuple[datetime, datetime] | None:
        """Stop the thread, record the span viewed; returns it (None: nothing was shown)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._status = StreamStatus.STOPPED
        self._flush_viewed()
        return self._viewed

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every command was carried out and nothing plays (tests, benchmark)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or (self._playing and not self._stop):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- the view's side (the same shape as StreamReader) --------------------------------

    def set_target_size(self, width: int, height: int) -> None:
        with self._cond:
            self._target = (max(2, int(width)), max(2, int(height)))

    @property
    def status(self) -> StreamStatus:
        return self._status

    @property
    def status_detail(self) -> str:
        return self._detail

    def latest(self) -> VideoFrame | None:
        return self._latest

    def take(self, after_seq: int = 0) -> VideoFrame | None:
        frame = self._latest
        return frame if frame is not None and frame.seq > after_seq else None

    def stats(self) -> StreamStats:
        f = self._latest
        return StreamStats(fps=1 / self._interval * self._speed if self._playing else 0.0,
                           kbps=0.0, last_frame_age_s=None, frames=self._seq, dropped=0,
                           width=f.rgb.shape[1] if f else 0, height=f.rgb.shape[0] if f else 0,
                           reconnects=0)  # fmt: skip

    def state(self) -> PlaybackStatus:
        return self._state

    @property
    def viewed(self) -> tuple[datetime, datetime] | None:
        return self._viewed

    # -- reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not (self._stop or self._seek_to or self._steps or self._playing):
                        self._cond.wait()
                    if self._stop:
                        return
                    seek, self._seek_to = self._seek_to, None
                    steps = self._steps
                    self._steps = 0
                    playing, done = self._playing, self._pending
                if seek is not None:
                    self._do_seek(seek)
                    self._flush_viewed()
                for _i in range(steps):
                    self._advance(paced=False)
                if playing and not seek and not steps:
                    self._advance(paced=True)
                if done:
                    with self._cond:
                        self._pending = max(0, self._pending - done)
                        self._state = replace(self._state, pending=self._pending)
                        self._cond.notify_all()
        except Exception as exc:  # keep the UI told; the thread is over
            log.exception("playback of %s failed", self.camera_id)
            self._status, self._detail = StreamStatus.OFFLINE, f"{type(exc).__name__}: {exc}"
            self._notice(_("Playback stopped: {error}").format(error=exc), playing=False)
        finally:
            self._close_container()
            with self._cond:
                self._pending = 0
                self._playing = False
                self._cond.notify_all()

    def _notice(self, text: str, *, playing: bool | None = None) -> None:
        with self._cond:
            if playing is not None:
                self._playing = playing
            self._state = replace(self._state, notice=text, playing=self._playing)
            self._cond.notify_all()

    def _segments_from(self, at: datetime) -> list[SegmentRow]:
        store = self.index.store
        segs = store.segments(camera=self.camera_id, since=at, until=at + timedelta(days=1))
        if not segs:
            segs = store.segments(camera=self.camera_id, since=at)
        return [s for s in segs if s.end_at is not None and s.end_at > at]

    def _open(self, seg: SegmentRow) -> bool:
        self._close_container()
        try:
            container = open_segment(self.index.path_of(seg), seg.key)
        except (OSError, av.error.FFmpegError) as exc:
            log.error("segment %s cannot be opened: %s", seg.path, exc)
            return False
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or 0) or (seg.frames / seg.duration_s
                                                    if seg.duration_s else 10.0)
        self._interval = 1 / rate if rate > 0 else 0.1
        self._seg, self._container = seg, container
        self._frames = container.decode(stream)
        self.masks.load(seg.start_at, (seg.end_at or seg.start_at) + timedelta(seconds=1))
        return True

    def _close_container(self) -> None:
        if self._container is not None:
            with contextlib.suppress(av.error.FFmpegError):
                self._container.close()
        self._container = self._frames = self._seg = self._peeked = None

    def _do_seek(self, target: datetime) -> None:
        self._pace = None
        for seg in self._segments_from(target):
            if not self._open(seg):
                continue
            notice = ""
            if (seg.start_at - target).total_seconds() > self._interval:
                # a real gap; less than a frame is the seam between two segments
                notice = _("No recording at {at}: moved to the next recorded moment, "
                           "{next}.").format(at=self._hms(target),
                                             next=self._hms(seg.start_at))
            target = max(target, seg.start_at)
            offset = (target - seg.start_at).total_seconds()
            stream = self._container.streams.video[0]
            if offset > self._interval:
                try:
                    self._container.seek(int(offset / stream.time_base), stream=stream,
                                         backward=True, any_frame=False)
                    self._frames = self._container.decode(stream)
                except av.error.FFmpegError:
                    self._open(seg)  # decode from the start instead
            floor = offset - self._interval / 2
            for frame in self._frames:
                if frame.time is not None and frame.time >= floor:
                    self._publish(frame)
                    self._notice(notice)
                    return
        self._notice(_("No recording at or after {at}.").format(at=self._hms(target)),
                     playing=False)

    def _advance(self, *, paced: bool) -> None:
        """Show the next frame, across segment boundaries and gaps."""
        frame, self._peeked = self._peeked, None
        if frame is None and self._frames is not None:
            frame = next(self._frames, None)
        while frame is None:
            seg = self._seg
            if seg is None or not self._next_segment(seg):
                self._notice(_("End of the recording."), playing=False)
                return
            frame = next(self._frames, None)
        if paced:
            self._wait_for(self._frame_wall(frame))
            with self._cond:
                if self._stop or self._seek_to is not None or not self._playing:
                    self._peeked = frame
                    return
        self._publish(frame)

    def _next_segment(self, seg: SegmentRow) -> bool:
        end = seg.end_at or seg.start_at
        for nxt in self._segments_from(end - timedelta(milliseconds=1)):
            if nxt.id == seg.id or nxt.start_at < seg.start_at:
                continue
            if not self._open(nxt):
                continue
            if (nxt.start_at - end).total_seconds() > 1.0:
                self._pace = None
                self._notice(_("No recording from {start} to {end}: gap skipped.").format(
                    start=self._hms(end), end=self._hms(nxt.start_at)))
            return True
        return False

    def _wait_for(self, wall: datetime) -> None:
        now = time.monotonic()
        if self._pace is None:
            self._pace = (now, wall)
            return
        base_mono, base_wall = self._pace
        due = base_mono + (wall - base_wall).total_seconds() / self._speed
        delay = due - now
        if delay < -1.0:  # far behind (a slow machine at 8x): start again from here
            self._pace = (now, wall)
        elif delay > 0:
            with self._cond:
                self._cond.wait_for(lambda: self._stop or self._seek_to is not None
                                    or not self._playing, delay)  # fmt: skip

    def _frame_wall(self, frame: Any) -> datetime:
        assert self._seg is not None
        return self._seg.start_at + timedelta(seconds=float(frame.time or 0.0))

    def _publish(self, frame: Any) -> None:
        wall = self._frame_wall(frame)
        target = self._target or (frame.width, frame.height)
        rgb = frame.to_ndarray(width=target[0], height=target[1], format="rgb24",
                               interpolation="AREA")
        decision: MaskDecision = self.masks.decision_at(wall)
        rgb = apply_masks(rgb, decision)
        self._seq += 1
        self._latest = VideoFrame(rgb=rgb, seq=self._seq, pts_s=wall.timestamp(),
                                  wallclock=time.time(), source_size=(frame.width, frame.height),
                                  blank=blank_reason(decision))  # fmt: skip
        with self._cond:
            viewed = self._viewed
            self._viewed = (wall, wall) if viewed is None else (min(viewed[0], wall),
                                                                max(viewed[1], wall))
            self._state = replace(
                self._state, position=wall, blank=blank_reason(decision),
                masks=len(decision.masks) if isinstance(decision, Show) else 0,
            )  # fmt: skip
        self._status, self._detail = StreamStatus.LIVE, ""
        if self.on_frame is not None:
            self.on_frame()

    def _hms(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%H:%M:%S")

    def _flush_viewed(self) -> None:
        viewed = self._viewed
        if viewed is None or viewed == self._flushed or self.on_viewed is None:
            return
        try:
            self.on_viewed(*viewed)
            self._flushed = viewed
        except CentraleError:
            log.exception("viewed span of %s not recorded yet", self.camera_id)


class Playback:
    """The gate in front of recorded footage; see the module docstring."""

    def __init__(
        self, data_dir: Path, footage: FootageStore, ptz: PtzStore, register: AccessRegister,
        audit: Auditor, cameras: Sequence[CameraConfig], clock: Clock = utc_now,
        zone: tzinfo = UTC,
    ) -> None:  # fmt: skip
        self.zone = zone
        self.index = FootageIndex(data_dir, footage, clock)
        self.footage = footage
        self.ptz = ptz
        self.register = register
        self.audit = audit
        self.cameras = {c.id: c for c in cameras}
        self.clock = clock

    def entry_for(self, session: Session, entry_id: int, camera_id: str) -> RegisterEntry:
        """The entry, if it lets *session* play *camera_id* back; refused (audited) else."""
        target = f"camera:{camera_id}"
        require(session, Permission.PLAYBACK, self.audit, target)
        try:
            entry = self.register.entry(session, entry_id)
        except CentraleError:
            entry = None
        reason = ""
        if entry is None:
            reason = "no_entry"
        elif entry.username != session.username or entry.session_id != session.id:
            reason = "not_this_session"
        elif entry.kind not in PLAYABLE_KINDS:
            reason = "wrong_kind"
        elif camera_id not in entry.cameras:
            reason = "camera_not_covered"
        if not reason and entry is not None:
            return entry
        self.audit.append(session.username, PLAYBACK_REFUSED, target,
                          {"register_entry": str(entry_id), "reason": reason})
        raise PlaybackRefused({
            "no_entry": _("There is no register entry {id}: sign one before playing "
                          "footage back."),
            "not_this_session": _("Register entry {id} was not signed in this session: "
                                  "sign a new one."),
            "wrong_kind": _("Register entry {id} is not for playing footage back."),
            "camera_not_covered": _("Register entry {id} does not name camera {camera}."),
        }[reason].format(id=entry_id, camera=camera_id))

    def open(
        self, session: Session, entry_id: int, camera_id: str, at: datetime,
        on_frame: Callable[[], None] | None = None,
    ) -> PlaybackReader:  # fmt: skip
        """A started reader showing *camera_id* at *at*, under register entry *entry_id*."""
        entry = self.entry_for(session, entry_id, camera_id)
        self.audit.append(session.username, PLAYBACK, f"camera:{camera_id}", {
            "register_entry": str(entry.id), "at": at.isoformat()})

        def viewed(start: datetime, end: datetime) -> None:
            self.register.record_viewed(entry.id, [camera_id], start, end)

        reader = _AuditedReader(
            camera_id, self.index,
            MaskTimeline(self.cameras.get(camera_id), camera_id, self.ptz),
            on_viewed=viewed, on_frame=on_frame, zone=self.zone,
        )  # fmt: skip
        reader.on_closed = lambda span: self.audit.append(
            session.username, PLAYBACK_END, f"camera:{camera_id}", {
                "register_entry": str(entry.id),
                "viewed_from": span[0].isoformat() if span else "",
                "viewed_to": span[1].isoformat() if span else ""})
        reader.start(at)
        return reader

    def timeline(self, camera_id: str, start: datetime, end: datetime) -> DayTimeline:
        """Recorded spans, gaps and holds (no footage: needs no register entry)."""
        return day_timeline(self.footage, camera_id, start, end, self.clock())


class _AuditedReader(PlaybackReader):
    """A reader that writes ``playback.end`` once when closed."""

    on_closed: Callable[[tuple[datetime, datetime] | None], object] | None = None

    def close(self, timeout: float = 2.0) -> tuple[datetime, datetime] | None:
        span = super().close(timeout)
        hook, self.on_closed = self.on_closed, None
        if hook is not None:
            hook(span)
        return span
