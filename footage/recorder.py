"""Recording one camera's main stream by stream copy into encrypted fMP4 segments.

A :class:`CameraRecorder` owns one thread: it opens the stream with PyAV (RTSP over TCP,
open/read timeouts, like :class:`cameras.stream.StreamReader`), *demuxes* packets without
decoding them and muxes them into the current segment. A segment starts at a keyframe and
is cut at the first keyframe after ``segment_s``. A lost connection closes the segment; the
next one starts after the reconnection, so a gap stays a gap. Health (recording,
reconnecting, failing, disk_full, stopped) goes to the ``camera_health`` row.

Files and rows change only through :class:`footage.index.FootageIndex`, in the order of
docs/design/recording.md. Only video is recorded (no audio: public-space recording of sound
is not allowed by the regulations).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
import av.error

from cameras.credentials import with_credentials
from cameras.errors import CameraAuthError, CameraError
from cameras.stream import StreamSource
from footage.index import FootageIndex
from footage.mp4 import SegmentFile, muxer_options
from registry.clock import Clock, utc_now
from registry.i18n import _
from registry.store import StoreError
from registry.store_footage import SegmentRow

if TYPE_CHECKING:
    from cameras.config import StreamSettings

log = logging.getLogger(__name__)


class Health(StrEnum):
    RECORDING = "recording"
    RECONNECTING = "reconnecting"
    FAILING = "failing"
    DISK_FULL = "disk_full"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        return {
            Health.RECORDING: _("recording"),
            Health.RECONNECTING: _("reconnecting"),
            Health.FAILING: _("failing"),
            Health.DISK_FULL: _("disk full"),
            Health.STOPPED: _("stopped"),
        }[self]


@dataclass(frozen=True)
class RecorderSettings:
    #: a segment is cut at the first keyframe after this many seconds
    segment_s: float = 60.0
    #: below this much free space no new segment starts (the disk-full alarm)
    min_free_bytes: int = 64 * 1024 * 1024
    #: how often free space is checked again while the disk is full
    disk_check_s: float = 5.0
    #: failed connection attempts in a row before the camera is called failing
    failing_after: int = 3


class _AuthFailed(Exception):
    pass


class _DiskFull(Exception):
    pass


class _Segment:
    """The segment being written: its row, file, output container and first timestamp."""

    def __init__(self, row: SegmentRow, file: SegmentFile, template: Any, first_dts: int,
                 start_at: datetime) -> None:
        self.row = row
        self.file = file
        self.output = av.open(file, "w", format="mp4", options=muxer_options(row.key))
        self.stream = self.output.add_stream_from_template(template)
        self.first_dts = first_dts
        self.start_at = start_at
        self.last_end = first_dts
        self.frames = 0
        self.step = 0

    def mux(self, packet: Any) -> None:
        end = packet.dts + (packet.duration or self.step)
        if packet.duration:
            self.step = packet.duration
        packet.dts -= self.first_dts
        if packet.pts is not None:
            packet.pts -= self.first_dts
        packet.stream = self.stream
        self.output.mux(packet)
        self.frames += 1
        self.last_end = max(self.last_end, end)
        if packet.is_keyframe:
            self.file.sync()  # the fragment the keyframe closed is now durable


def free_bytes(path: os.PathLike[str] | str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class CameraRecorder:
    """Records one camera; see the module docstring. ``start()``/``stop()``."""

    def __init__(
        self,
        source: StreamSource,
        index: FootageIndex,
        *,
        settings: RecorderSettings | None = None,
        stream_settings: StreamSettings | None = None,
        clock: Clock = utc_now,
        on_segment: Callable[[SegmentRow], None] | None = None,
    ) -> None:
        from cameras.config import StreamSettings

        self.source = source
        self.camera_id = source.camera_id
        self.index = index
        self.settings = settings or RecorderSettings()
        self.stream_settings = stream_settings or StreamSettings()
        self.clock = clock
        self._on_segment = on_segment
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.health = Health.STOPPED
        self.detail = ""
        self.segments_written = 0
        self._last_end: datetime | None = None
        self._disk_full = False
        self._next_disk_check = 0.0

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name=f"recorder-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish its segment and end, without waiting."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop and wait for the current segment to be closed (at most *timeout* seconds)."""
        self._stop.set()
        if timeout is None:
            timeout = self.stream_settings.read_timeout_s + 5
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_health(Health.STOPPED, "")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---------------------------------------------------------------- health

    def _set_health(self, health: Health, detail: str) -> None:
        changed = (health, detail) != (self.health, self.detail)
        self.health, self.detail = health, detail
        if changed:
            log.info("recorder %s: %s %s", self.camera_id, health, detail)
        try:
            self.index.store.set_health(self.camera_id, str(health), detail, self.clock(),
                                        self._last_end)
        except StoreError as exc:  # the database may sit on the full disk too
            log.error("recorder %s: health not saved: %s", self.camera_id, exc)

    # ---------------------------------------------------------------- thread

    def _run(self, stop: threading.Event) -> None:
        s = self.stream_settings
        backoff, failures = s.reconnect_min_s, 0
        while not stop.is_set():
            recorded = False
            detail = _("the camera closed the stream")
            try:
                recorded = self._session(stop)
            except _AuthFailed as exc:
                self._set_health(Health.FAILING, str(exc))
                stop.wait(s.reconnect_max_s)
                continue
            except CameraAuthError as exc:
                self._set_health(Health.FAILING, exc.message)
                stop.wait(s.reconnect_max_s)
                continue
            except CameraError as exc:
                detail = exc.message
            except av.error.TimeoutError:
                detail = _("no data within the timeout")
            except (av.error.FFmpegError, OSError) as exc:
                detail = str(exc)
            except Exception as exc:  # the thread must survive anything and say so
                log.exception("recorder %s: unexpected error", self.camera_id)
                detail = f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                break
            if recorded:
                backoff, failures = s.reconnect_min_s, 0
            else:
                failures += 1
            health = Health.FAILING if failures >= self.settings.failing_after else (
                Health.RECONNECTING)
            self._set_health(health, detail)
            stop.wait(backoff)
            backoff = min(s.reconnect_max_s, backoff * 2)

    def _open(self) -> Any:
        src, s = self.source, self.stream_settings
        url = src.resolver() if src.resolver is not None else src.url
        options = {
            "fpsprobesize": "0",
            "analyzeduration": str(s.analyzeduration_us),
            "probesize": str(max(32, s.probesize)),
        }
        if url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
            options["rtsp_flags"] = "prefer_tcp"
            url = with_credentials(url, src.username, src.password)
        try:
            return av.open(url, options=options, timeout=(s.open_timeout_s, s.read_timeout_s / 2))
        except (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError) as exc:
            raise _AuthFailed(_("the camera refused the credentials")) from exc

    def _session(self, stop: threading.Event) -> bool:
        """One connection: demux and record until it ends. True if anything was recorded."""
        if not self._disk_full:
            self._set_health(Health.RECONNECTING, _("connecting"))
        container = self._open()
        recorded = False
        seg: _Segment | None = None
        self._last_end = None  # a new connection: its first segment is not contiguous
        try:
            stream = container.streams.video[0]
            tb = Fraction(stream.time_base or Fraction(1, 90000))
            for packet in container.demux(stream):
                if stop.is_set():
                    break
                if packet.dts is None or not packet.size:
                    continue
                keyframe = bool(packet.is_keyframe)
                if seg is not None and keyframe and (
                    float((packet.dts - seg.first_dts) * tb) >= self.settings.segment_s
                ):
                    self._close(seg, tb, end_dts=packet.dts)
                    seg = None
                if seg is None:
                    if not keyframe or not self._space_ok():
                        continue
                    seg = self._begin(stream, packet.dts)
                    recorded = True
                try:
                    seg.mux(packet)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    self._abort(seg)
                    seg = None
                    self._enter_disk_full()
        finally:
            if seg is not None:
                try:
                    self._close(seg, tb, end_dts=None)
                except OSError as exc:
                    self._abort(seg)
                    if exc.errno == errno.ENOSPC:
                        self._enter_disk_full()
            container.close()
        return recorded

    # ---------------------------------------------------------------- segments

    def _begin(self, stream: Any, first_dts: int) -> _Segment:
        now = self.clock()
        last = self._last_end
        # Contiguous with the previous segment of this connection unless the wall clock has
        # drifted more than a second from the media clock: then re-anchor on the wall clock.
        start = last if last is not None and abs((now - last).total_seconds()) < 1.0 else now
        row, file = self.index.begin(self.camera_id, start)
        try:
            seg = _Segment(row, file, stream, first_dts, start)
        except BaseException:
            file.close(sync=False)
            self.index.salvage(row)
            raise
        self._set_health(Health.RECORDING, "")
        return seg

    def _close(self, seg: _Segment, tb: Fraction, end_dts: int | None) -> None:
        seg.output.close()  # writes the last fragment
        end_ts = end_dts if end_dts is not None else seg.last_end
        end_at = seg.start_at + timedelta(seconds=float((end_ts - seg.first_dts) * tb))
        done = self.index.finish(seg.row, seg.file, start_at=seg.start_at, end_at=end_at,
                                 frames=seg.frames)
        self._last_end = done.end_at
        self.segments_written += 1
        if self._on_segment is not None:
            self._on_segment(done)

    def _abort(self, seg: _Segment) -> None:
        """After a write error: keep the complete fragments, as after a crash."""
        with contextlib.suppress(Exception):
            seg.output.close()
        with contextlib.suppress(OSError):
            seg.file.close(sync=False)
        kept = self.index.salvage(seg.row)
        self._last_end = None
        if kept is not None:
            self.segments_written += 1
            if self._on_segment is not None:
                self._on_segment(kept)

    # ---------------------------------------------------------------- disk space

    def _space_ok(self) -> bool:
        """Whether a new segment may start; enters or leaves the disk-full state."""
        now = time.monotonic()
        if self._disk_full and now < self._next_disk_check:
            return False
        try:
            free = free_bytes(self.index.root if self.index.root.exists() else self.index.data_dir)
        except OSError:
            free = 0
        if free < self.settings.min_free_bytes:
            self._enter_disk_full(free)
            return False
        if self._disk_full:
            self._disk_full = False
            log.warning("recorder %s: free space is back (%d bytes)", self.camera_id, free)
        return True

    def _enter_disk_full(self, free: int | None = None) -> None:
        self._next_disk_check = time.monotonic() + self.settings.disk_check_s
        self._last_end = None
        if not self._disk_full:
            log.error("recorder %s: disk full, recording stopped", self.camera_id)
        self._disk_full = True
        detail = _("no space left for footage; recording resumes by itself when space returns")
        if free is not None:
            detail += " " + _("({mb} MB free)").format(mb=free // (1024 * 1024))
        self._set_health(Health.DISK_FULL, detail)


def record_file(
    index: FootageIndex, camera_id: str, path: os.PathLike[str] | str, start_at: datetime,
    segment_s: float = 60.0,
) -> list[SegmentRow]:  # fmt: skip
    """Record a video file as if its first packet had arrived at *start_at*.

    Same segments, ordering and encryption as a live camera, with times taken from the
    file's own timestamps: for importing footage, tests and benchmarks.
    """
    done: list[SegmentRow] = []
    container = av.open(str(path))
    try:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base or Fraction(1, 90000))
        seg: _Segment | None = None
        origin: int | None = None
        for packet in container.demux(stream):
            if packet.dts is None or not packet.size:
                continue
            if origin is None:
                if not packet.is_keyframe:
                    continue
                origin = packet.dts
            if seg is not None and packet.is_keyframe and (
                float((packet.dts - seg.first_dts) * tb) >= segment_s
            ):
                end = start_at + timedelta(seconds=float((packet.dts - origin) * tb))
                seg.output.close()
                done.append(index.finish(seg.row, seg.file, start_at=seg.start_at,
                                         end_at=end, frames=seg.frames))
                seg = None
            if seg is None:
                begin = start_at + timedelta(seconds=float((packet.dts - origin) * tb))
                row, file = index.begin(camera_id, begin)
                seg = _Segment(row, file, stream, packet.dts, begin)
            seg.mux(packet)
        if seg is not None and origin is not None:
            end = start_at + timedelta(seconds=float((seg.last_end - origin) * tb))
            seg.output.close()
            done.append(index.finish(seg.row, seg.file, start_at=seg.start_at, end_at=end,
                                     frames=seg.frames))
    finally:
        container.close()
    return done

