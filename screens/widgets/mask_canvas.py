"""A video view with the mask editor's polygons, cursor and drawing drawn over the picture.

Drawn into the picture's pixels (outline cells of the half-block rendering), so the overlay
goes through the same fast path as the video. With no picture (the camera is moving, or the
stream is not there) the overlay is drawn on black: the supervisor still sees the shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from screens.widgets.halfblock import color_mode
from screens.widgets.video import VideoView, _Picture, fit_picture

Point = tuple[float, float]

DONE = (255, 220, 0)  # finished polygons
SELECTED = (0, 230, 255)  # the selected polygon
DRAFT = (255, 60, 60)  # the polygon or rectangle being drawn
CURSOR = (255, 255, 255)


@dataclass
class Overlay:
    polygons: list[tuple[Point, ...]] = field(default_factory=list)
    selected: int | None = None
    draft: list[Point] = field(default_factory=list)
    cursor: Point = (0.5, 0.5)
    version: int = 0


class MaskCanvas(VideoView):
    """See the module docstring; the screen sets :attr:`overlay` and calls :meth:`redraw`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.overlay = Overlay()

    def redraw(self) -> None:
        self.overlay.version += 1
        self._pic = None
        self._strips = None
        self.refresh()

    def _picture(self) -> _Picture | None:
        width, height = self.size
        if width < 2 or height < 1:
            return None
        frame = self._frame
        mode = color_mode(self.app.console)
        key = (frame.seq if frame is not None else -1, width, height * 1000 + self.overlay.version,
               mode)  # fmt: skip
        if self._pic is not None and self._pic.key == key:
            return self._pic
        canvas = np.zeros((height * 2, width, 3), dtype=np.uint8)
        if frame is not None:
            pic = frame.rgb
            ph, pw = min(pic.shape[0], height * 2), min(pic.shape[1], width)
        else:
            pw, ph = fit_picture(self.size, self._aspect)
            pic = None
        y0 = (height * 2 - ph) // 2
        y0 -= y0 % 2
        x0 = (width - pw) // 2
        if pic is not None:
            canvas[y0 : y0 + ph, x0 : x0 + pw] = pic[:ph, :pw]
        self._draw(canvas, x0, y0, pw, ph)
        rows = self._encoder.encode(canvas, mode) if mode is not None else None
        self._pic = _Picture(key, canvas, mode, rows)  # type: ignore[arg-type]
        self._strips = None
        self.painted_frames += 1
        return self._pic

    def _draw(self, canvas: np.ndarray, x0: int, y0: int, pw: int, ph: int) -> None:
        def px(p: Point) -> tuple[int, int]:
            return (x0 + round(p[0] * (pw - 1)), y0 + round(p[1] * (ph - 1)))

        ov = self.overlay
        for i, poly in enumerate(ov.polygons):
            pts = np.array([px(p) for p in poly], dtype=np.int32)
            colour = SELECTED if i == ov.selected else DONE
            cv2.polylines(canvas, [pts], True, colour, 1)
        if ov.draft:
            pts = np.array([px(p) for p in [*ov.draft, ov.cursor]], dtype=np.int32)
            cv2.polylines(canvas, [pts], False, DRAFT, 1)
        cx, cy = px(ov.cursor)
        cv2.line(canvas, (cx - 3, cy), (cx + 3, cy), CURSOR, 1)
        cv2.line(canvas, (cx, cy - 3), (cx, cy + 3), CURSOR, 1)

