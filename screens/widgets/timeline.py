"""The playback timeline: a day of one camera, and a zoomed window around the cursor.

Three kinds of time are drawn (docs/design/recording.md): recorded (a full block in the
success colour), gaps where nothing was recorded (a dim dot), and holds (a row of their own
under the bars: footage kept past its term). The day bar shows the whole day, 24 hours
across the width; the zoom bar shows :attr:`Timeline.zoom` around the cursor, so seconds of
footage are visible too. The cursor is the frame shown, drawn reversed on both bars.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from footage.playback_timeline import DayTimeline, Span
from registry.i18n import _

RECORDED = Style(color="green")
PARTIAL = Style(color="green", dim=True)
GAP = Style(color="grey50")
HOLD = Style(color="yellow", bold=True)
HOLD_OFF = Style(color="grey50")
CURSOR = Style(reverse=True, bold=True)
LABEL_W = 6


def _overlap(spans: tuple[Span, ...], start: datetime, end: datetime) -> float:
    """Seconds of ``[start, end)`` covered by *spans*."""
    total = 0.0
    for s in spans:
        lo, hi = max(s.start, start), min(s.end, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


class Timeline(Widget):
    DEFAULT_CSS = """
    Timeline {
        height: 6;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, zone: ZoneInfo, *, zoom: timedelta = timedelta(minutes=10),
                 id: str | None = None) -> None:  # fmt: skip
        super().__init__(id=id)
        self.zone = zone
        self.zoom = zoom
        self.data: DayTimeline | None = None
        self.cursor: datetime | None = None

    def show(self, data: DayTimeline | None, cursor: datetime | None) -> None:
        changed = (data is not self.data) or cursor != self.cursor
        self.data, self.cursor = data, cursor
        if changed:
            self.refresh()

    def _bar(self, start: datetime, end: datetime, width: int) -> tuple[Text, Text]:
        """The bar of ``[start, end)`` and its holds row, ``width`` cells wide."""
        bar, holds = Text(), Text()
        data = self.data
        cell = (end - start) / max(1, width)
        cursor_i = None
        if self.cursor is not None and start <= self.cursor < end:
            cursor_i = int((self.cursor - start) / cell)
        for i in range(width):
            a = start + cell * i
            b = a + cell
            seconds = cell.total_seconds()
            char, style = " ", Style()
            if data is not None:
                rec = _overlap(data.recorded, a, b)
                if rec >= seconds / 2:
                    char, style = "█", RECORDED
                elif rec > 0:
                    char, style = "▌", PARTIAL
                elif _overlap(data.gaps, a, b) > 0:
                    char, style = "·", GAP
                active = tuple(h for h in data.holds if h.active)
                if _overlap(active, a, b) > 0:
                    holds.append("▀", HOLD)
                elif _overlap(tuple(data.holds), a, b) > 0:
                    holds.append("▀", HOLD_OFF)
                else:
                    holds.append(" ")
            else:
                holds.append(" ")
            if i == cursor_i:
                char = "┃" if char == " " else char
                style = style + CURSOR
            bar.append(char, style)
        return bar, holds

    def _labels(self, start: datetime, end: datetime, width: int, fmt: str,
                count: int) -> Text:  # fmt: skip
        line = [" "] * width
        for k in range(count + 1):
            at = start + (end - start) * k / count
            text = at.astimezone(self.zone).strftime(fmt)
            x = min(width - len(text), round(width * k / count))
            if k == count or x < 0:
                continue
            for j, ch in enumerate(text):
                if x + j < width:
                    line[x + j] = ch
        return Text("".join(line), style=Style(color="grey62"))

    def render(self) -> Text:
        width = max(10, self.size.width - LABEL_W)
        data = self.data
        if data is None:
            return Text(_("Loading the timeline…"), style=GAP)
        day_bar, day_holds = self._bar(data.start, data.end, width)
        centre = self.cursor or data.start
        z0 = centre - self.zoom / 2
        zoom_bar, zoom_holds = self._bar(z0, z0 + self.zoom, width)
        out = Text()
        pad = " " * LABEL_W
        out.append(pad)
        out.append_text(self._labels(data.start, data.end, width, "%H", 8))
        out.append("\n" + _("day").ljust(LABEL_W)[:LABEL_W])
        out.append_text(day_bar)
        out.append("\n" + _("holds").ljust(LABEL_W)[:LABEL_W])
        out.append_text(day_holds)
        out.append("\n" + _("zoom").ljust(LABEL_W)[:LABEL_W])
        out.append_text(zoom_bar)
        out.append("\n" + _("holds").ljust(LABEL_W)[:LABEL_W])
        out.append_text(zoom_holds)
        out.append("\n" + pad)
        out.append_text(self._labels(z0, z0 + self.zoom, width, "%H:%M:%S", 4))
        return out
