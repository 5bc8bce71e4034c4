"""The picture of one camera stream, drawn with half-block cells.

The widget holds a :class:`~cameras.hub.StreamHandle` while it is mounted (so the stream is
open only while shown), tells the reader the pixel size it wants, and draws the newest frame.

Frame handoff: the reader thread only raises a flag on the view (no message, no event-loop
wake-up per frame). One :class:`FrameClock` per screen ticks at :attr:`FrameClock.RATE_HZ`
and refreshes, together, every view whose flag is up, after taking its newest frame: a slow
UI skips frames instead of queueing them, and the compositor runs once per tick for all the
tiles that changed instead of once per tile-frame.

Drawing bypasses Textual's styles cache and line filters (they would rebuild every row of
every frame in Python): :meth:`render_lines` returns :class:`VideoStrip` rows whose terminal
text is built with numpy, and which still split correctly into segments if Textual needs to
cut them (toast, tooltip) or draws the screen dimmed under a modal. With no picture, the
widget falls back to the normal render path and shows a placeholder with the reason.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from cameras.hub import StreamHandle
from cameras.stream import StreamStats, StreamStatus, VideoFrame
from registry.i18n import _
from screens.widgets.halfblock import RowEncoder, color_mode, strips_for_picture

if TYPE_CHECKING:
    from cameras.hub import StreamHub, Which
    from cameras.stream import StreamReader


def fit_picture(cells: Size, aspect: float) -> tuple[int, int]:
    """Largest (width, height) in pixels with ``aspect`` that fits ``cells`` (2 px per row)."""
    max_w, max_h = max(2, cells.width), max(2, cells.height * 2)
    w = max_w
    h = round(w / aspect)
    if h > max_h:
        h = max_h
        w = round(h * aspect)
    h -= h % 2
    return max(2, w), max(2, h)


def letterbox(rgb: np.ndarray, width: int, height: int
              ) -> tuple[np.ndarray, tuple[int, int, int, int]]:  # fmt: skip
    """*rgb* centred on a black canvas of ``width`` x ``2 * height`` pixels (cropped where
    larger), and where it lies there: ``(x0, y0, pw, ph)``, ``y0`` even so that the picture
    starts at the top of a character cell."""
    canvas = np.zeros((height * 2, width, 3), dtype=np.uint8)
    ph, pw = min(rgb.shape[0], height * 2), min(rgb.shape[1], width)
    y0 = (height * 2 - ph) // 2
    y0 -= y0 % 2
    x0 = (width - pw) // 2
    canvas[y0 : y0 + ph, x0 : x0 + pw] = rgb[:ph, :pw]
    return canvas, (x0, y0, pw, ph)


class FrameSource(Protocol):
    """A reader with the shape of a :class:`~cameras.stream.StreamReader` whose new-frame
    callback is an attribute (a playback, a still picture)."""

    on_frame: Callable[[], None] | None


class OneReaderHub:
    """Hub-shaped: hands a view its one reader; the view acquires and releases it as it would
    a live stream of the hub."""

    def __init__(self, reader: FrameSource) -> None:
        self.reader = reader

    def acquire(self, camera_id: str, which: Which,
                on_frame: Callable[[], None] | None = None) -> StreamHandle:  # fmt: skip
        self.reader.on_frame = on_frame
        return StreamHandle(camera_id, which, cast("StreamReader", self.reader))

    def release(self, handle: StreamHandle, on_frame: Callable[[], None] | None = None) -> None:
        self.reader.on_frame = None


@dataclass(frozen=True)
class _Picture:
    key: tuple[int, int, int, str | None]
    canvas: np.ndarray
    mode: str | None
    rows: list[str] | None


class FrameClock:
    """Refreshes the video views of one screen that have a new frame, all in one tick."""

    #: ticks per second: at least the fastest stream shown (the full view's 25 fps)
    RATE_HZ: ClassVar[float] = 30.0
    _clocks: ClassVar[weakref.WeakKeyDictionary[Screen[object], FrameClock]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, screen: Screen[object]) -> None:
        self.views: set[VideoView] = set()
        self._screen = weakref.ref(screen)
        screen.set_interval(1 / self.RATE_HZ, self.tick, name="frame-clock")

    @classmethod
    def of(cls, screen: Screen[object]) -> FrameClock:
        clock = cls._clocks.get(screen)
        if clock is None:
            clock = cls._clocks[screen] = FrameClock(screen)
        return clock

    def tick(self) -> None:
        screen = self._screen()
        # Not ``screen.is_current``: that is also true for a screen under a modal, and
        # nothing may be drawn over the privacy blank.
        if screen is None or screen.app.screen is not screen:
            # Under a modal (privacy blank, command palette) nothing is drawn at video
            # rate; the views keep their flags and show the newest frame when back on top.
            return
        ready = [view for view in self.views if view.new_frame]
        if not ready:
            return
        writer = _DirectWriter.for_screen(screen)
        for view in ready:
            view.new_frame = False
            if writer is None or not writer.draw(view):
                view.take_frame()  # the ordinary path: refresh, Textual's compositor draws
        if writer is not None:
            writer.flush()


class _DirectWriter:
    """Writes uncovered video rows straight to the terminal, bypassing the compositor.

    Textual's compositor re-renders, cuts and joins every widget under a refreshed region;
    for video that was about two thirds of the UI thread's work (docs/benchmarks.md). When
    nothing is drawn over a view (no toast, tooltip or other overlay intersects it, the view
    is not clipped, the screen is on top) its rows are already final: they are written at
    their place, in one write per tick, with the same bytes the compositor would produce.
    Anything over a view sends it back to the ordinary path, so overlays stay correct. The
    widget's ``render_lines`` keeps returning the same rows, so any repaint Textual does on
    its own shows the same picture.
    """

    def __init__(self, screen: Screen[object]) -> None:
        self.screen = screen
        self.app = screen.app
        self.chunks: list[str] = []
        compositor = screen._compositor
        self.visible = compositor.visible_widgets
        # regions of everything that is not a video view or one of its containers
        containers: set[object] = {screen}
        for widget in self.visible:
            if isinstance(widget, VideoView):
                containers.update(widget.ancestors)
        self.covers = [
            region.intersection(clip)
            for widget, (region, clip) in self.visible.items()
            if widget not in containers and not isinstance(widget, VideoView)
        ]

    @classmethod
    def for_screen(cls, screen: Screen[object]) -> _DirectWriter | None:
        app = screen.app
        driver = app._driver
        if (
            driver is None
            or app.is_headless
            or driver.is_inline
            or not app._running
            or app._closed
            or app._batch_count
        ):
            return None
        return cls(screen)

    def draw(self, view: VideoView) -> bool:
        placed = self.visible.get(view)
        if placed is None:
            return False
        region, clip = placed
        if clip.intersection(region) != region:
            return False  # partly clipped
        if any(cover.overlaps(region) for cover in self.covers):
            return False  # something is drawn over it
        rows = view.take_frame_rows()
        if rows is None:
            return False  # not taken: the ordinary path takes it
        x, y = region.x, region.y
        self.chunks.extend(f"\x1b[{y + i + 1};{x + 1}H{row}" for i, row in enumerate(rows))
        return True

    def flush(self) -> None:
        if not self.chunks:
            return
        app = self.app
        cursor = self.screen.outer_size.clamp_offset(app.cursor_position)
        data = "".join(self.chunks) + f"\x1b[{cursor.y + 1};{cursor.x + 1}H"
        if app._sync_available:
            data = "\x1b[?2026h" + data + "\x1b[?2026l"
        driver = app._driver
        if driver is not None:
            driver.write(data)
        self.chunks = []


class VideoView(Widget):
    """Draws one stream; see the module docstring."""

    DEFAULT_CSS = """
    VideoView {
        width: 1fr;
        height: 1fr;
        background: #000000;
        color: #9a9a9a;
        content-align: center middle;
        text-align: center;
    }
    """

    #: picture aspect ratio until the first frame tells the real one
    DEFAULT_ASPECT: ClassVar[float] = 16 / 9

    status: reactive[StreamStatus] = reactive(StreamStatus.CONNECTING)

    class StatusChanged(Message):
        def __init__(self, status: StreamStatus) -> None:
            super().__init__()
            self.status = status

    def __init__(
        self,
        hub: StreamHub,
        camera_id: str,
        which: Which,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.hub = hub
        self.camera_id = camera_id
        self.which: Which = which
        self._handle: StreamHandle | None = None
        #: raised by the reader thread when a frame is ready, lowered by the frame clock
        self.new_frame = False
        self._clock: FrameClock | None = None
        self._frame: VideoFrame | None = None
        self._seen_seq = 0
        self._aspect = self.DEFAULT_ASPECT
        self._encoder = RowEncoder()
        self._pic: _Picture | None = None
        self._strips: list[Strip] | None = None
        #: frames turned into terminal rows (for the benchmark and the tests)
        self.painted_frames = 0
        #: monotonic times of mounting and of the first painted frame (first-frame latency)
        self.mounted_at: float | None = None
        self.first_painted_at: float | None = None

    # -- stream life cycle --------------------------------------------------------------

    def on_mount(self) -> None:
        self.mounted_at = time.monotonic()
        self._clock = FrameClock.of(self.screen)
        self._clock.views.add(self)
        self._handle = self.hub.acquire(self.camera_id, self.which, self._frame_arrived)
        self._resize_target()
        self._poll_status()
        self.set_interval(0.5, self._poll_status)

    def on_unmount(self) -> None:
        if self._clock is not None:
            self._clock.views.discard(self)
        if self._handle is not None:
            self.hub.release(self._handle, self._frame_arrived)
            self._handle = None

    def on_resize(self) -> None:
        self._resize_target()
        self._strips = None

    def _resize_target(self) -> None:
        if self._handle is not None and self.size.width and self.size.height:
            self._handle.reader.set_target_size(*fit_picture(self.size, self._aspect))

    @property
    def reader_stats(self) -> StreamStats | None:
        return self._handle.reader.stats() if self._handle else None

    def _frame_arrived(self) -> None:
        """Reader thread: just raise the flag (an attribute write; the clock does the rest)."""
        self.new_frame = True

    def _take_newest(self) -> bool:
        """Take the newest frame from the reader; False if there is none."""
        if self._handle is None:
            return False
        frame = self._handle.reader.take(self._seen_seq)
        if frame is None:
            return False
        self._seen_seq = frame.seq
        self._frame = frame
        sw, sh = frame.source_size
        if sw and sh and abs(sw / sh - self._aspect) > 0.01:
            self._aspect = sw / sh  # the camera's real shape: ask for frames of that shape
            self._resize_target()
        self._strips = None
        if self.status is not StreamStatus.LIVE:
            self.status = StreamStatus.LIVE
        return True

    def take_frame(self) -> None:
        """Frame clock: take the newest frame and let Textual redraw the widget."""
        if self._take_newest():
            self.refresh()

    def take_frame_rows(self) -> list[str] | None:
        """Frame clock, direct path: the newest frame's rows as terminal text.

        None, without taking the frame, when the direct path does not apply: no new frame,
        the first frame or a new size (the compositor must place it), or a colour system
        that only the segment path handles. The caller then uses :meth:`take_frame`.
        """
        if self._handle is None or self.app.no_color or self._frame is None:
            return None
        peek = self._handle.reader.latest()
        if (
            peek is None
            or peek.seq <= self._seen_seq
            or peek.rgb.shape != self._frame.rgb.shape
            or color_mode(self.app.console) is None
            or self.status is not StreamStatus.LIVE
        ):
            return None
        if not self._take_newest():
            return None
        picture = self._picture()
        if picture is None or picture.rows is None or len(picture.rows) != self.size.height:
            self.refresh()  # cannot happen with a colour mode; be safe anyway
            return []
        return picture.rows

    def _poll_status(self) -> None:
        if self._handle is None:
            return
        status = self._handle.reader.status
        if status is not self.status:
            self.status = status

    def watch_status(self, status: StreamStatus) -> None:
        if status is not StreamStatus.LIVE:
            self._frame = None  # never show a stale picture as if it were live
            self._strips = None
        self.post_message(self.StatusChanged(status))
        self.refresh()

    # -- drawing ------------------------------------------------------------------------

    def render(self) -> Content:
        """The placeholder, when there is no picture to draw."""
        text = {
            StreamStatus.CONNECTING: _("Connecting…"),
            StreamStatus.LIVE: _("Waiting for the picture…"),
            StreamStatus.RECONNECTING: _("Signal lost: reconnecting…"),
            StreamStatus.AUTH_FAILED: _("Authentication failed: check the camera credentials"),
            StreamStatus.OFFLINE: _("Camera offline: retrying"),
            StreamStatus.STOPPED: _("No signal"),
        }[self.status]
        detail = ""
        if self._handle is not None and self.status is not StreamStatus.CONNECTING:
            detail = self._handle.reader.status_detail
        return Content(f"{text}\n{detail}" if detail else text)

    def _picture(self) -> _Picture | None:
        """The current frame laid out on the widget (letterboxed) and encoded; cached."""
        frame = self._frame
        if frame is None:
            return None
        width, height = self.size
        mode = color_mode(self.app.console)
        key = (frame.seq, width, height, mode)
        if self._pic is not None and self._pic.key == key:
            return self._pic
        canvas, _where = letterbox(frame.rgb, width, height)
        rows = self._encoder.encode(canvas, mode) if mode is not None else None
        self._pic = _Picture(key, canvas, mode, rows)
        self._strips = None
        self.painted_frames += 1
        if self.first_painted_at is None:
            self.first_painted_at = time.monotonic()
        return self._pic

    def _picture_strips(self) -> list[Strip] | None:
        """Textual strips of the current picture, made only when Textual asks for them."""
        picture = self._picture()
        if picture is None:
            return None
        if self._strips is None:
            self._strips = strips_for_picture(picture.canvas, picture.mode, None, picture.rows)
        return self._strips

    def render_lines(self, crop: Region) -> list[Strip]:
        if self.app.no_color:
            return super().render_lines(crop)
        strips = self._picture_strips()
        if strips is None:
            return super().render_lines(crop)
        x1, x2 = crop.column_span
        out = strips[crop.y : crop.bottom]
        if (x1, x2) != (0, self.size.width):
            out = [s.crop(x1, x2) for s in out]
        return out

    def render_line(self, y: int) -> Strip:
        strips = self._picture_strips()
        if strips is None or self.app.no_color:
            return super().render_line(y)
        if y < len(strips):
            return Strip(list(strips[y]), self.size.width)
        return Strip([Segment(" " * self.size.width, Style(bgcolor="black"))], self.size.width)
