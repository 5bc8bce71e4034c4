"""Stream readers: one thread per open stream, newest-frame-only handoff.

A :class:`StreamReader` opens one RTSP stream (or, for the demo, a local video file played in
real time) with PyAV, decodes it and scales every frame straight to the size its consumer
asked for (``frame.to_ndarray(width, height)`` runs FFmpeg's swscale once, on the small
output). Only the newest frame is kept: a slow consumer drops frames, it never queues them.

Timeouts: ``av.open(timeout=(open, read))`` installs FFmpeg's interrupt callback, so a frozen
or unreachable camera raises instead of blocking forever. A camera that closes the connection
ends the demux loop without an exception; that is treated as a disconnect too.

No Textual here: consumers are told about new frames and status changes through plain
callbacks, called from the reader thread, which must be cheap and thread-safe.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import av
import av.error
import numpy as np

from cameras.errors import CameraAuthError, CameraError
from cameras.masks import GATES, BlankReason, MaskGate, apply_masks, blank_reason
from registry.i18n import _

if TYPE_CHECKING:
    from cameras.config import StreamSettings

log = logging.getLogger(__name__)


class StreamStatus(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    AUTH_FAILED = "auth_failed"
    OFFLINE = "offline"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        """The status in the operator's language."""
        return {
            StreamStatus.CONNECTING: _("connecting"),
            StreamStatus.LIVE: _("live"),
            StreamStatus.RECONNECTING: _("reconnecting"),
            StreamStatus.AUTH_FAILED: _("auth failed"),
            StreamStatus.OFFLINE: _("offline"),
            StreamStatus.STOPPED: _("stopped"),
        }[self]


@dataclass(frozen=True)
class StreamSource:
    """Where a stream comes from.

    ``url`` is an ``rtsp://`` URL or a local file. ``resolver``, when given, is called in the
    reader thread before every connection attempt and returns the URL to open (ONVIF cameras
    ask the device for their stream URI; a device that is offline at start-up is simply
    retried). Credentials are passed apart and inserted into the URL only when opening it,
    so that they never show up in logs or status texts.
    """

    camera_id: str
    url: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    loop: bool = False
    realtime: bool = False
    resolver: Callable[[], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StreamStats:
    fps: float
    kbps: float
    last_frame_age_s: float | None
    frames: int
    dropped: int
    width: int
    height: int
    reconnects: int


@dataclass(frozen=True)
class VideoFrame:
    """A decoded frame scaled to the consumer's size: RGB, ``uint8``, shape (H, W, 3)."""

    rgb: np.ndarray
    seq: int
    pts_s: float | None
    wallclock: float
    #: the decoded frame's size before scaling (the camera's own resolution)
    source_size: tuple[int, int] = (0, 0)
    #: set when the mask gate blanked the whole frame: why (the tile shows its label)
    blank: BlankReason | None = None


class _AuthFailed(Exception):
    pass


def _with_credentials(url: str, username: str | None, password: str | None) -> str:
    if not username or "://" not in url:
        return url
    from urllib.parse import quote

    scheme, rest = url.split("://", 1)
    if "@" in rest.split("/", 1)[0]:
        return url
    auth = quote(username, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return f"{scheme}://{auth}@{rest}"


def _default_settings() -> StreamSettings:
    from cameras.config import StreamSettings

    return StreamSettings()


class StreamReader:
    """Reads one stream in its own thread; see the module docstring."""

    #: how many seconds of history the fps and kbit/s figures average over
    STATS_WINDOW_S = 2.0

    def __init__(
        self,
        source: StreamSource,
        *,
        settings: StreamSettings | None = None,
        on_frame: Callable[[], None] | None = None,
        on_status: Callable[[StreamStatus, str], None] | None = None,
        gate: MaskGate | None = None,
    ) -> None:
        self.source = source
        #: asked once per frame; without one, the camera's gate in GATES (cameras.masks)
        self.gate = gate
        self.settings = settings or _default_settings()
        self._on_frame = on_frame
        self._on_status = on_status
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = StreamStatus.STOPPED
        self._detail = ""
        self._target: tuple[int, int] | None = None
        self._latest: VideoFrame | None = None
        self._taken_seq = 0
        self._seq = 0
        self._dropped = 0
        self._reconnects = 0
        self._frame_times: collections.deque[float] = collections.deque()
        self._packet_bytes: collections.deque[tuple[float, int]] = collections.deque()

    # -- consumer side -------------------------------------------------------------------

    def set_target_size(self, width: int, height: int) -> None:
        """Scale the following frames to ``width`` x ``height`` pixels."""
        with self._lock:
            self._target = (max(2, int(width)), max(2, int(height)))

    @property
    def status(self) -> StreamStatus:
        return self._status

    @property
    def status_detail(self) -> str:
        return self._detail

    def latest(self) -> VideoFrame | None:
        """The newest frame, without consuming it."""
        return self._latest

    def take(self, after_seq: int = 0) -> VideoFrame | None:
        """The newest frame if it is newer than ``after_seq``; marks it as seen."""
        frame = self._latest
        if frame is None or frame.seq <= after_seq:
            return None
        with self._lock:
            self._taken_seq = max(self._taken_seq, frame.seq)
        return frame

    def stats(self) -> StreamStats:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            frames = list(self._frame_times)
            nbytes = sum(n for _, n in self._packet_bytes)
            latest = self._latest
            span = self.STATS_WINDOW_S
            if frames:
                span = max(1e-3, min(self.STATS_WINDOW_S, now - frames[0]))
            fps = (len(frames) - 1) / max(1e-3, frames[-1] - frames[0]) if len(frames) > 1 else 0.0
            return StreamStats(
                fps=fps,
                kbps=nbytes * 8 / 1000 / span if nbytes else 0.0,
                last_frame_age_s=(time.time() - latest.wallclock) if latest else None,
                frames=self._seq,
                dropped=self._dropped,
                width=latest.rgb.shape[1] if latest else 0,
                height=latest.rgb.shape[0] if latest else 0,
                reconnects=self._reconnects,
            )

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start reading in a new thread (a no-op while already running).

        Each run has its own stop event, so a previous thread that is still winding down
        inside FFmpeg after :meth:`stop` can neither block a restart nor publish anything.
        """
        if self.running:
            return
        stop = threading.Event()
        self._stop = stop
        self._set_status(StreamStatus.CONNECTING, "", stop)
        self._thread = threading.Thread(
            target=self._run, args=(stop,), name=f"reader-{self.source.camera_id}",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 0.5) -> None:
        """Ask the thread to end and wait at most ``timeout`` seconds.

        A thread blocked inside FFmpeg (opening a silent camera, reading a frozen one) ends by
        itself within the open or read timeout; it is a daemon thread, holds nothing the
        caller needs and can no longer publish frames or statuses, so ``stop`` does not wait
        for it longer than asked.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._status, self._detail = StreamStatus.STOPPED, ""
        if self._on_status is not None:
            self._on_status(StreamStatus.STOPPED, "")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    # -- reader thread ------------------------------------------------------------------

    def _set_status(self, status: StreamStatus, detail: str, stop: threading.Event) -> None:
        if stop.is_set() or stop is not self._stop:
            return
        changed = status is not self._status or detail != self._detail
        self._status, self._detail = status, detail
        if changed and self._on_status is not None:
            self._on_status(status, detail)

    def _run(self, stop: threading.Event) -> None:
        backoff = self.settings.reconnect_min_s
        failures = 0
        while not stop.is_set():
            got_frames = False
            try:
                got_frames = self._session(stop)
                detail = _("the camera closed the stream")
            except _AuthFailed as exc:
                self._set_status(StreamStatus.AUTH_FAILED, str(exc), stop)
                # Credentials will not fix themselves quickly: retry at the slowest pace.
                stop.wait(self.settings.reconnect_max_s)
                continue
            except CameraAuthError as exc:
                self._set_status(StreamStatus.AUTH_FAILED, exc.message, stop)
                stop.wait(self.settings.reconnect_max_s)
                continue
            except CameraError as exc:  # unreachable, protocol error, unsupported
                detail = exc.message
            except av.error.TimeoutError:
                detail = _("no data within the timeout")
            except (av.error.FFmpegError, OSError) as exc:
                detail = str(exc)
            except Exception as exc:
                log.exception("camera %s: unexpected reader error", self.source.camera_id)
                detail = f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                break
            if got_frames:
                backoff, failures = self.settings.reconnect_min_s, 0
            else:
                failures += 1
            self._reconnects += 1
            # After a few failed attempts in a row the camera is called offline; we keep
            # trying, with exponential backoff up to reconnect_max_s.
            status = StreamStatus.OFFLINE if failures >= 3 else StreamStatus.RECONNECTING
            self._set_status(status, detail, stop)
            log.info("camera %s: %s (%s), retry in %.1fs", self.source.camera_id, status, detail,
                     backoff)
            stop.wait(backoff)
            backoff = min(self.settings.reconnect_max_s, backoff * 2)

    def _open(self) -> Any:
        src = self.source
        url = src.resolver() if src.resolver is not None else src.url
        s = self.settings
        is_rtsp = url.startswith(("rtsp://", "rtsps://"))
        if url.startswith("file:"):
            url = urlsplit(url).path
        options = {
            "fpsprobesize": "0",
            "analyzeduration": str(s.analyzeduration_us),
            "probesize": str(max(32, s.probesize)),
        }
        if is_rtsp:
            options["rtsp_transport"] = "tcp"
            options["rtsp_flags"] = "prefer_tcp"
        full_url = _with_credentials(url, src.username, src.password) if is_rtsp else url
        # FFmpeg's RTSP demuxer still returns one buffered packet when PyAV's read timer
        # fires, and the next read waits a whole timeout again: half the configured value
        # makes a frozen camera show within read_timeout_s.
        try:
            return av.open(
                full_url, options=options, timeout=(s.open_timeout_s, s.read_timeout_s / 2)
            )
        except (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError) as exc:
            raise _AuthFailed(_("the camera refused the credentials")) from exc

    def _session(self, stop: threading.Event) -> bool:
        """One connection: open, decode until the stream ends or fails. True if it played."""
        container = self._open()
        got = False
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            base_wall: float | None = None
            base_pts = 0.0
            offset = 0.0  # added to pts when a looping file restarts
            last_pts = 0.0
            for frame_pts, frame in self._frames(container, stream, stop):
                if stop.is_set():
                    break
                pts: float | None = None
                if frame_pts is not None:
                    pts = frame_pts + offset
                    if self.source.loop and pts + 1e-6 < last_pts:  # file restarted
                        # continue the timeline one frame after the last one
                        offset = last_pts + 1 / float(stream.average_rate or 10) - frame_pts
                        pts = frame_pts + offset
                    last_pts = pts
                    if self.source.realtime:
                        if base_wall is None:
                            base_wall, base_pts = time.monotonic(), pts
                        delay = base_wall + (pts - base_pts) - time.monotonic()
                        if delay > 0 and stop.wait(delay):
                            break
                        if delay < -1.0:  # far behind (machine was busy): resync
                            base_wall, base_pts = time.monotonic(), pts
                self._publish(frame, pts, stop)
                if not got:
                    got = True
                    self._set_status(StreamStatus.LIVE, "", stop)
        finally:
            container.close()
        return got

    def _frames(
        self, container: Any, stream: Any, stop: threading.Event
    ) -> Iterator[tuple[float | None, Any]]:
        """Yield (pts in seconds, decoded frame); forever for a looping file."""
        tb = stream.time_base
        while not stop.is_set():
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if packet.size:
                    now = time.monotonic()
                    with self._lock:
                        self._packet_bytes.append((now, packet.size))
                for frame in packet.decode():
                    pts = float(frame.pts * tb) if frame.pts is not None and tb else None
                    yield pts, frame
            if not self.source.loop:
                return
            container.seek(0)

    def _publish(self, frame: Any, pts_s: float | None, stop: threading.Event) -> None:
        if stop is not self._stop:
            return  # a thread from a previous run, still winding down
        target = self._target
        if target is None:
            target = (frame.width, frame.height)
        rgb = frame.to_ndarray(
            width=target[0], height=target[1], format="rgb24", interpolation="AREA"
        )
        # The one place frames leave cameras/: masked (or blanked) before anyone sees them.
        gate = self.gate
        decision = gate.decision() if gate is not None else GATES.decision(self.source.camera_id)
        rgb = apply_masks(rgb, decision)
        now = time.monotonic()
        with self._lock:
            self._seq += 1
            if self._latest is not None and self._latest.seq > self._taken_seq:
                self._dropped += 1
            self._latest = VideoFrame(
                rgb=rgb, seq=self._seq, pts_s=pts_s, wallclock=time.time(),
                source_size=(frame.width, frame.height), blank=blank_reason(decision),
            )
            self._frame_times.append(now)
            self._trim(now)
        if self._on_frame is not None:
            self._on_frame()

    def _trim(self, now: float) -> None:
        horizon = now - self.STATS_WINDOW_S
        while self._frame_times and self._frame_times[0] < horizon:
            self._frame_times.popleft()
        while self._packet_bytes and self._packet_bytes[0][0] < horizon:
            self._packet_bytes.popleft()
