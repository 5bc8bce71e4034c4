"""A camera tile: the picture of one camera framed with its name, place, clock and status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from textual.app import ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from cameras.stream import StreamStatus
from screens.widgets.video import VideoView

if TYPE_CHECKING:
    from cameras.config import CameraConfig
    from cameras.hub import StreamHub, Which

STATUS_MARK = {
    StreamStatus.LIVE: "●",
    StreamStatus.CONNECTING: "◌",
    StreamStatus.RECONNECTING: "◌",
    StreamStatus.AUTH_FAILED: "✖",
    StreamStatus.OFFLINE: "✖",
    StreamStatus.STOPPED: "○",
}


class CameraTile(Widget, can_focus=True):
    """Border title: name and place; border subtitle: status and the clock."""

    DEFAULT_CSS = """
    CameraTile {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        background: #000000;
        height: 1fr;
        width: 1fr;
        padding: 0;
    }
    CameraTile:focus {
        /* the same border type, only other colours: a change of border type costs a
           relayout of the whole grid on every arrow press */
        border: round $accent;
        border-title-color: $background;
        border-title-background: $accent;
        border-title-style: bold;
    }
    CameraTile.-live { border-subtitle-color: $success; }
    CameraTile.-trouble { border-subtitle-color: $error; }
    """

    def __init__(
        self,
        camera: CameraConfig,
        hub: StreamHub,
        which: Which,
        *,
        timezone: str = "Europe/Rome",
        clock_format: str = "%d/%m/%Y %H:%M:%S",
        clock: Callable[[ZoneInfo], datetime] | None = None,
        index: int | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        #: position of the camera in the console's camera list
        self.index = index
        self.camera = camera
        self.hub = hub
        self.which: Which = which
        self._tz = ZoneInfo(timezone)
        self._clock_format = clock_format
        self._clock = clock or datetime.now
        self._status = StreamStatus.CONNECTING
        self.border_title = f"{camera.name} · {camera.place}"

    def compose(self) -> ComposeResult:
        yield VideoView(self.hub, self.camera.id, self.which)

    @property
    def video(self) -> VideoView:
        return self.query_one(VideoView)

    def on_mount(self) -> None:
        self._update_subtitle()
        self.set_interval(1.0, self._update_subtitle)

    def on_video_view_status_changed(self, event: VideoView.StatusChanged) -> None:
        self._status = event.status
        self.set_class(event.status is StreamStatus.LIVE, "-live")
        self.set_class(
            event.status in (StreamStatus.AUTH_FAILED, StreamStatus.OFFLINE,
                             StreamStatus.RECONNECTING),
            "-trouble",
        )
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        now = self._clock(self._tz).strftime(self._clock_format)
        text = f"{STATUS_MARK[self._status]} {self._status.label} · {now}"
        if not self.is_mounted or not self.size:
            self.border_subtitle = text
            return
        # Setting ``border_subtitle`` repaints the whole tile, picture included, and all
        # the tiles' clocks tick in the same instant: repaint only the bottom border row.
        self._border_subtitle = self.render_str(text).expand_tabs(4).split()[0]
        bottom = self.content_region.height
        self.refresh(Region(-1, bottom, self.content_region.width + 2, 1))


class EmptyTile(Widget):
    """A free place in the grid."""

    def render(self) -> str:
        return ""

    DEFAULT_CSS = """
    EmptyTile {
        border: round $panel;
        background: $background;
        height: 1fr;
        width: 1fr;
    }
    """
