"""Helpers for console (Textual) tests.

``StillHub`` stands in for :class:`cameras.hub.StreamHub` in snapshot tests only: it hands
out readers that show one fixed picture (the demo scene at t=0, scaled to the size asked),
so that a snapshot does not depend on which frame a live stream happened to be at. Every
behaviour test uses the real hub with real demo clips decoded by PyAV.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from cameras.config import CameraConfig
from cameras.hub import StreamHandle
from cameras.stream import StreamSource, StreamStats, StreamStatus, VideoFrame
from console import demo
from screens.context import ConsoleContext

FIXED_NOW = datetime(2026, 11, 23, 10, 30, 0)


def fixed_clock(tz: ZoneInfo) -> datetime:
    return FIXED_NOW.replace(tzinfo=tz)


def demo_picture(camera_id: str, size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """The demo scene of ``camera_id`` at t=0 as RGB."""
    cam = next(c for c in demo.CAMERAS if c.id == camera_id)
    w, h = size
    canvas = cam.background(w, h)
    cam.drawer(canvas, 0.0, w / 1280)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


class StillReader:
    """Reader-shaped object that always shows the same picture."""

    def __init__(self, camera_id: str, on_frame: Callable[[], None] | None,
                 status: StreamStatus = StreamStatus.LIVE) -> None:
        self.source = StreamSource(camera_id, "still")
        self._picture = demo_picture(camera_id) if status is StreamStatus.LIVE else None
        self._on_frame = on_frame
        self._frame: VideoFrame | None = None
        self._lock = threading.Lock()
        self.status = status
        self.status_detail = ""

    def set_target_size(self, width: int, height: int) -> None:
        if self._picture is None:
            return
        rgb = cv2.resize(self._picture, (width, height), interpolation=cv2.INTER_AREA)
        with self._lock:
            seq = (self._frame.seq + 1) if self._frame else 1
            self._frame = VideoFrame(rgb=rgb, seq=seq, pts_s=0.0, wallclock=time.time(),
                                     source_size=(640, 360))
        if self._on_frame:
            self._on_frame()

    def take(self, after_seq: int = 0) -> VideoFrame | None:
        frame = self._frame
        return frame if frame is not None and frame.seq > after_seq else None

    def latest(self) -> VideoFrame | None:
        return self._frame

    def stats(self) -> StreamStats:
        return StreamStats(fps=10.0, kbps=512.0, last_frame_age_s=0.05, frames=100, dropped=0,
                           width=640, height=360, reconnects=0)


class StillHub:
    def __init__(self, cameras: list[CameraConfig],
                 statuses: dict[str, StreamStatus] | None = None) -> None:
        self.cameras = {c.id: c for c in cameras}
        self.statuses = statuses or {}
        self.acquired: list[tuple[str, str]] = []

    def acquire(self, camera_id: str, which: str,
                on_frame: Callable[[], None] | None = None) -> StreamHandle:
        self.acquired.append((camera_id, which))
        status = self.statuses.get(camera_id, StreamStatus.LIVE)
        return StreamHandle(camera_id, which, StillReader(camera_id, on_frame, status))  # type: ignore[arg-type]

    def release(self, handle: StreamHandle, on_frame: Callable[[], None] | None = None) -> None:
        self.acquired.remove((handle.camera_id, handle.which))

    def close(self, timeout: float = 2.0) -> None:
        self.acquired.clear()


def demo_camera_configs(count: int = 6) -> list[CameraConfig]:
    """Camera configs of the demo comune, pointing nowhere (for StillHub)."""
    return [
        CameraConfig(id=c.id, name=c.name, place=c.place, kind=c.kind,
                     main_url=f"/nonexistent/{c.id}-main.mp4", anonymous=c.anonymous)
        for c in demo.CAMERAS[:count]
    ]


def context(hub: object, cameras: list[CameraConfig], layout: int = 4) -> ConsoleContext:
    return ConsoleContext(
        hub=hub,  # type: ignore[arg-type]
        cameras=cameras,
        site_name="Comune di Valdemo",
        control_room="Centrale operativa",
        layout=layout,
        clock=fixed_clock,
    )
