"""The ``centrale recorder`` process: every recording camera, purge passes, clean shutdown.

:class:`RecorderService` takes the footage lock (one recorder per data directory), reconciles
the index with the files (docs/design/recording.md, "Reconciliation at start"), starts one
:class:`~footage.recorder.CameraRecorder` per camera with ``enabled`` and ``record``, and runs a
purge pass at start and then every ``purge_interval_s``. ``stop()`` (SIGTERM, SIGINT) closes
every open segment properly, so that a clean stop loses nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cameras.config import CameraConfig, StreamSettings
from cameras.hub import camera_source
from cameras.stream import StreamSource
from footage.index import Auditor, FootageIndex, ReconcileReport, RecorderLock, RecorderRunning
from footage.recorder import CameraRecorder, RecorderSettings
from footage.retention import PurgeReport, Retention
from ptz.runtime import PtzRuntime, start_ptz_runtime
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import _
from registry.store_footage import FootageStore

log = logging.getLogger(__name__)

PasswordLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ServiceSettings:
    purge_interval_s: float = 300.0
    recorder: RecorderSettings = field(default_factory=RecorderSettings)


def main_source(
    cam: CameraConfig, settings: StreamSettings, password_for: PasswordLookup
) -> StreamSource:
    """Where a camera's main stream comes from (ONVIF cameras: asked at every connection)."""
    return camera_source(cam, "main", settings, password_for)


class RecorderService:
    """See the module docstring. ``start()``, ``stop()``, or ``run()`` until a signal."""

    def __init__(
        self,
        data_dir: Path,
        cameras: Sequence[CameraConfig],
        store: FootageStore,
        audit: Auditor,
        *,
        stream_settings: StreamSettings | None = None,
        settings: ServiceSettings | None = None,
        password_for: PasswordLookup | None = None,
        clock: Clock = utc_now,
        ptz_options: dict[str, object] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.cameras = [c for c in cameras if c.enabled and c.record]
        #: every enabled camera: PTZ ones get their mask-state timeline and tours (ptz.runtime)
        self.all_cameras = [c for c in cameras if c.enabled]
        self.ptz: PtzRuntime | None = None
        self._ptz_options = ptz_options or {}
        self.store = store
        self.audit = audit
        self.stream_settings = stream_settings or StreamSettings()
        self.settings = settings or ServiceSettings()
        self.clock = clock
        self._password_for = password_for or (lambda _id: None)
        self.index = FootageIndex(self.data_dir, store, clock)
        self.retention = Retention(
            self.index, audit, {c.id: c.retention_days for c in cameras}, clock
        )
        self.lock = RecorderLock(self.data_dir)
        self.recorders: dict[str, CameraRecorder] = {}
        self.reconciled: ReconcileReport | None = None
        self.last_purge: PurgeReport | None = None
        self._stop = threading.Event()
        self._purger: threading.Thread | None = None

    def start(self) -> None:
        if not self.lock.acquire():
            raise RecorderRunning(
                _("another recorder is running on {path}").format(path=self.lock.path.parent)
            )
        try:
            self.reconciled = self.index.reconcile(self.audit)
            self.audit.append("system", "recorder.start", "footage",
                              {"cameras": ",".join(c.id for c in self.cameras)})
            self._start_ptz()
            for cam in self.cameras:
                source = main_source(cam, self.stream_settings, self._password_for)
                rec = CameraRecorder(source, self.index, settings=self.settings.recorder,
                                     stream_settings=self.stream_settings, clock=self.clock)
                self.recorders[cam.id] = rec
                rec.start()
            self._stop.clear()
            self._purger = threading.Thread(target=self._purge_loop, name="purge", daemon=True)
            self._purger.start()
        except BaseException:
            self.stop()
            raise

    def _start_ptz(self) -> None:
        """Mask-state timeline and tours of the PTZ cameras; recording goes on without them."""
        if not any(c.is_ptz and c.onvif for c in self.all_cameras):
            return
        try:
            self.ptz = start_ptz_runtime(
                self.all_cameras, self.store.store, self.audit, password_for=self._password_for,
                clock=self.clock, record_timeline=True, run_tours=True, take_leases=False,
                **self._ptz_options,
            )
        except CentraleError as exc:
            log.error("PTZ machinery not started (no tours, no mask timeline): %s", exc)

    def purge_now(self) -> PurgeReport | None:
        try:
            self.last_purge = self.retention.run()
        except CentraleError as exc:  # a busy or full database: the next pass retries
            log.error("purge pass failed: %s", exc)
            return None
        log.info("purge pass: %d segments, %d bytes, %d held", self.last_purge.segments,
                 self.last_purge.bytes, self.last_purge.held)
        return self.last_purge

    def _purge_loop(self) -> None:
        while not self._stop.is_set():
            self.purge_now()
            self._stop.wait(self.settings.purge_interval_s)

    def stop(self) -> None:
        """Close every open segment, stop purging and the tours, release the lock."""
        self._stop.set()
        if self.ptz is not None:
            self.ptz.close()
            self.ptz = None
        for rec in self.recorders.values():
            rec.request_stop()  # all at once: each then needs at most one read timeout
        for rec in self.recorders.values():
            rec.stop()
        if self._purger is not None:
            self._purger.join(30)
            self._purger = None
        if self.recorders:
            written = sum(r.segments_written for r in self.recorders.values())
            try:
                self.audit.append("system", "recorder.stop", "footage",
                                  {"segments_written": str(written)})
            except CentraleError as exc:
                log.error("recorder stop not audited: %s", exc)
        self.recorders.clear()
        self.lock.release()

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (systemd stop, Ctrl+C), then stop cleanly."""
        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("recorder: signal %d, stopping", signum)
            done.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not done.wait(1.0):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
