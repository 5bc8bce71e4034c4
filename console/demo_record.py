"""Recording the demo's cameras, so that playback (F7), holds (F6) and export have footage.

The demo cameras are looping clips, not RTSP streams. The recorder reads whatever it opens as
fast as the demuxer goes, which for a file would write twelve seconds of footage in a few
milliseconds and then start over with timestamps back at zero. So each demo camera gets a
:class:`~footage.recorder.CameraRecorder` whose input is a :class:`LoopingClip`: the same
demuxed packets (stream copy, nothing decoded), released at the pace of their own timestamps
and shifted by one clip length at every loop, so the recorder sees what a camera would send.
Everything after the input is the recorder's own path: segments cut at keyframes,
encrypted fMP4, index rows in the order of docs/design/recording.md, health rows.

The recorder works on a database connection of its own: its commits (every segment, every
health change) never wait for the console's UI thread, nor the UI for them. It takes the
footage lock like ``centrale recorder``; when a recorder already runs on the data
directory, the demo records nothing (and logs why) rather than writing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import av

from cameras.config import CameraConfig, is_file_source
from cameras.stream import StreamSource
from footage.index import Auditor, FootageIndex, RecorderLock
from footage.recorder import CameraRecorder, RecorderSettings
from footage.retention import Retention
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.store import Store
from registry.store_footage import FootageStore

if TYPE_CHECKING:
    from console.config import CentraleConfig

log = logging.getLogger(__name__)

#: Demo segments are shorter than the real recorder's 60 s, so that playback has footage soon.
DEMO_SEGMENT_S: Final = 20.0


class LoopingClip:
    """A video file played as a live stream: looping, real-time, timestamps always rising.

    Stands in for the PyAV input container the recorder opens (``streams``, ``demux``,
    ``close``). ``stop`` is checked while waiting for a packet's time, so that a stop never
    waits longer than one frame interval.
    """

    def __init__(self, path: str, stop: threading.Event) -> None:
        self._container: Any = av.open(path)
        self.streams = self._container.streams
        self._stop = stop

    def demux(self, stream: Any) -> Iterator[Any]:
        tb = Fraction(stream.time_base or Fraction(1, 90000))
        offset = 0
        origin: int | None = None
        started = time.monotonic()
        while not self._stop.is_set():
            first: int | None = None
            last_end = 0
            step = 0
            for packet in self._container.demux(stream):
                if packet.dts is None or not packet.size:
                    continue
                if first is None:
                    first = packet.dts
                step = packet.duration or step
                last_end = max(last_end, packet.dts + (packet.duration or step))
                packet.dts += offset - first
                if packet.pts is not None:
                    packet.pts += offset - first
                if origin is None:
                    origin = packet.dts
                due = started + float((packet.dts - origin) * tb)
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                yield packet
            if first is None:
                return  # an empty file: the recorder reconnects, and says so
            offset += last_end - first
            self._container.seek(0, stream=stream)

    def close(self) -> None:
        self._container.close()


class _ClipRecorder(CameraRecorder):
    """The recorder, reading a demo clip through :class:`LoopingClip` instead of a socket."""

    def _open(self) -> Any:
        return LoopingClip(self.source.url, self._stop)


def _is_clip(cam: CameraConfig) -> bool:
    url = cam.stream_url("main")
    return bool(url) and cam.onvif is None and is_file_source(url or "")


class DemoRecorder:
    """The running demo recorder; :meth:`stop` closes every segment and the connection."""

    def __init__(self, data_dir: Path, cameras: Sequence[CameraConfig], auditor: Auditor, *,
                 segment_s: float = DEMO_SEGMENT_S, clock: Clock = utc_now) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.cameras = [c for c in cameras if c.enabled and c.record and _is_clip(c)]
        self.audit = auditor
        self.clock = clock
        self.settings = RecorderSettings(segment_s=segment_s)
        self.lock = RecorderLock(self.data_dir)
        self.recorders: dict[str, CameraRecorder] = {}
        self._store: Store | None = None
        self.index: FootageIndex | None = None

    def start(self) -> bool:
        """Start recording; False (nothing started) when another recorder holds the lock."""
        if not self.lock.acquire():
            log.warning("demo recorder: another recorder runs on %s; the demo records nothing",
                        self.data_dir)  # fmt: skip
            return False
        try:
            self._store = Store.open(self.data_dir)
            self.index = FootageIndex(self.data_dir, FootageStore(self._store), self.clock)
            self.index.reconcile(self.audit)
            Retention(self.index, self.audit, {c.id: c.retention_days for c in self.cameras},
                      self.clock).run()  # fmt: skip
            for cam in self.cameras:
                url = cam.stream_url("main") or ""
                rec = _ClipRecorder(StreamSource(cam.id, url, loop=True, realtime=True),
                                    self.index, settings=self.settings,
                                    clock=self.clock)  # fmt: skip
                self.recorders[cam.id] = rec
                rec.start()
        except BaseException:
            self.stop()
            raise
        log.info("demo recorder: %d cameras into %s", len(self.recorders), self.data_dir)
        return True

    @property
    def segments_written(self) -> int:
        return sum(r.segments_written for r in self.recorders.values())

    def stop(self) -> None:
        for rec in self.recorders.values():
            rec.request_stop()
        for rec in self.recorders.values():
            rec.stop()
        self.recorders.clear()
        if self._store is not None:
            try:
                self._store.close()
            except CentraleError as exc:
                log.error("demo recorder: database not closed cleanly: %s", exc)
            self._store = None
        self.lock.release()


def start_demo_recorder(data_dir: Path, config: CentraleConfig, store: Store,
                        audit: Auditor, *, segment_s: float = DEMO_SEGMENT_S) -> DemoRecorder:
    """Record the demo cameras of ``config`` into ``data_dir`` in background threads.

    ``store`` is the console's database; it only names the database file (the recorder opens
    its own connection, see the module doc). Returns the recorder, running or (another
    recorder holds the data directory) idle; either way ``.stop()`` at the console's end.
    """
    recorder = DemoRecorder(Path(store.path).parent, config.cameras, audit,
                            segment_s=segment_s)  # fmt: skip
    recorder.start()
    return recorder
