"""The redaction tool's picture: one still frame with the boxes drawn as outlines over it.

The frame is handed over by the screen (:meth:`RedactionCanvas.show`), not read from a
stream: a still reader, shaped like the stream readers the video view knows, scales it to
the widget. Outlines are drawn into the picture's pixels, as the mask editor does, so they
go through the same half-block path as the video. A box's colour says its kind; the
selected box is drawn twice as thick; a box not in force at the frame shown is grey; a
detector's proposal not yet reviewed is magenta.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np

from cameras.hub import StreamHub
from cameras.stream import StreamStats, StreamStatus, VideoFrame
from screens.widgets.halfblock import color_mode
from screens.widgets.video import OneReaderHub, VideoView, _Picture, letterbox

__all__ = ["COLOURS", "DrawnBox", "RedactionCanvas", "StillReader"]

COLOURS: dict[str, tuple[int, int, int]] = {
    "blur": (255, 220, 0),
    "solid": (255, 70, 70),
    "keep": (60, 230, 90),
    "proposal": (255, 0, 255),
    "inactive": (128, 128, 128),
}


@dataclass(frozen=True)
class DrawnBox:
    rect: tuple[float, float, float, float]
    #: a key of :data:`COLOURS`
    colour: str
    selected: bool = False


class StillReader:
    """One frame at a time, scaled to the size the view asks for."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.on_frame: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._rgb: np.ndarray | None = None
        self._scaled: VideoFrame | None = None
        self._seq = 0
        self._target: tuple[int, int] | None = None

    def put(self, rgb: np.ndarray | None) -> None:
        with self._lock:
            self._rgb = rgb
            self._seq += 1
            self._scaled = self._scale()
        if self.on_frame is not None:
            self.on_frame()

    def _scale(self) -> VideoFrame | None:
        rgb = self._rgb
        if rgb is None:
            return None
        h, w = rgb.shape[:2]
        pic = rgb
        if self._target is not None and self._target != (w, h):
            pic = cv2.resize(rgb, self._target, interpolation=cv2.INTER_AREA)
        return VideoFrame(np.ascontiguousarray(pic), self._seq, None, time.time(), (w, h))

    def set_target_size(self, width: int, height: int) -> None:
        with self._lock:
            if self._target == (width, height):
                return
            self._target = (width, height)
            self._seq += 1
            self._scaled = self._scale()
        if self.on_frame is not None:
            self.on_frame()

    @property
    def status(self) -> StreamStatus:
        return StreamStatus.LIVE if self._rgb is not None else StreamStatus.CONNECTING

    @property
    def status_detail(self) -> str:
        return ""

    def latest(self) -> VideoFrame | None:
        return self._scaled

    def take(self, after_seq: int = 0) -> VideoFrame | None:
        frame = self._scaled
        return frame if frame is not None and frame.seq > after_seq else None

    def stats(self) -> StreamStats:
        h, w = self._rgb.shape[:2] if self._rgb is not None else (0, 0)
        return StreamStats(0.0, 0.0, None, self._seq, 0, w, h, 0)


@dataclass
class _Overlay:
    boxes: list[DrawnBox] = field(default_factory=list)
    version: int = 0


class RedactionCanvas(VideoView):
    """See the module docstring; the screen calls :meth:`show` and :meth:`draw_boxes`."""

    def __init__(self, camera_id: str, *, id: str | None = None) -> None:
        self.still = StillReader(camera_id)
        super().__init__(cast(StreamHub, OneReaderHub(self.still)), camera_id, "main", id=id)
        self.overlay = _Overlay()

    def show(self, rgb: np.ndarray | None) -> None:
        self.still.put(rgb)
        self.take_frame()

    def draw_boxes(self, boxes: list[DrawnBox]) -> None:
        self.overlay.boxes = boxes
        self.overlay.version += 1
        self._pic = None
        self._strips = None
        self.refresh()

    def _picture(self) -> _Picture | None:
        frame = self._frame
        if frame is None:
            return None
        width, height = self.size
        if width < 2 or height < 1:
            return None
        mode = color_mode(self.app.console)
        key = (frame.seq, width, height * 1000 + self.overlay.version, mode)
        if self._pic is not None and self._pic.key == key:
            return self._pic
        canvas, (x0, y0, pw, ph) = letterbox(frame.rgb, width, height)
        for box in self.overlay.boxes:
            bx0, by0, bx1, by1 = box.rect
            p0 = (x0 + round(bx0 * (pw - 1)), y0 + round(by0 * (ph - 1)))
            p1 = (x0 + round(bx1 * (pw - 1)), y0 + round(by1 * (ph - 1)))
            cv2.rectangle(canvas, p0, p1, COLOURS[box.colour], 2 if box.selected else 1)
        rows = self._encoder.encode(canvas, mode) if mode is not None else None
        self._pic = _Picture(key, canvas, mode, rows)
        self._strips = None
        self.painted_frames += 1
        return self._pic
