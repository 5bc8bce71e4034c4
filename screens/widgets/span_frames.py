"""The frames of one export's span, one at a time, as the export will see them.

The redaction tool works on a paused picture; it must be the picture the export encodes, so
a frame's wall time is reckoned as :mod:`footage.export_cut` reckons it (the segment's start
plus the packet's offset from the segment's first packet) and the privacy masks in force at
that time (the plan's mask timeline) are applied before anything is shown: a stretch with no
known mask state is black here too. Boxes are placed on what the recipient would see.

Forward steps continue the open decoder; a step back comes from the last frames kept; a jump
opens the segment that holds the target and decodes from its first packet (segments are a
minute at most). No thread of its own: the screen calls it from a worker.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av.error
import numpy as np

from cameras.masks import MaskDecision, apply_masks
from footage.mp4 import open_segment
from registry.store_footage import SegmentRow

__all__ = ["SpanFrame", "SpanFrames"]

#: frames kept for steps back
KEEP = 32


@dataclass(frozen=True)
class SpanFrame:
    """One frame: its wall time and its RGB picture with the masks in force applied."""

    at: datetime
    rgb: np.ndarray
    #: the interval to the next frame (from the stream's rate)
    interval: timedelta


class SpanFrames:
    """See the module docstring. ``decision(at)``: the mask decision in force at *at*."""

    def __init__(self, segments: Sequence[SegmentRow], path_of: Callable[[SegmentRow], Path],
                 start: datetime, end: datetime,
                 decision: Callable[[datetime], MaskDecision | None]) -> None:  # fmt: skip
        self.segments = [s for s in segments if s.start_at < end]
        self.path_of = path_of
        self.start = start
        self.end = end
        self.decision = decision
        self._seg: int | None = None
        self._container: Any = None
        self._frames: Iterator[tuple[datetime, Any]] | None = None
        self._peek: tuple[datetime, Any] | None = None
        self._kept: deque[SpanFrame] = deque(maxlen=KEEP)
        self.current: SpanFrame | None = None
        self.interval = timedelta(milliseconds=100)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._frames = self._peek = None
        self._seg = None

    # -- decoding ------------------------------------------------------------------------

    def _open(self, index: int) -> None:
        self.close()
        seg = self.segments[index]
        container = open_segment(self.path_of(seg), seg.key)
        stream = container.streams.video[0]
        if stream.average_rate:
            self.interval = timedelta(seconds=float(1 / Fraction(stream.average_rate)))
        self._container, self._seg = container, index
        self._frames = self._decode(container, stream, seg)

    @staticmethod
    def _decode(container: Any, stream: Any, seg: SegmentRow) -> Iterator[tuple[datetime, Any]]:
        tb = Fraction(stream.time_base or Fraction(1, 90000))
        first: int | None = None
        try:
            for packet in container.demux(stream):
                if packet.dts is None or not packet.size:
                    continue
                if first is None:
                    first = packet.dts
                for frame in packet.decode():
                    if frame.pts is not None:
                        yield seg.start_at + timedelta(
                            seconds=float((frame.pts - first) * tb)), frame
        except av.error.InvalidDataError:
            return  # a damaged tail: what was read counts

    def _next_raw(self) -> tuple[datetime, Any] | None:
        """The next decoded frame of the span, across segments; None past the end."""
        if self._peek is not None:
            peeked, self._peek = self._peek, None
            return peeked
        while True:
            if self._frames is None:
                return None
            nxt = next(self._frames, None)
            if nxt is not None:
                return None if nxt[0] >= self.end else nxt
            assert self._seg is not None
            if self._seg + 1 >= len(self.segments):
                return None
            self._open(self._seg + 1)

    def _publish(self, at: datetime, frame: Any) -> SpanFrame:
        rgb = apply_masks(frame.to_ndarray(format="rgb24"), self.decision(at))
        shown = SpanFrame(at, rgb, self.interval)
        self.current = shown
        self._kept.append(shown)
        return shown

    # -- moving ---------------------------------------------------------------------------

    def seek(self, target: datetime) -> SpanFrame | None:
        """The last frame at or before *target* (the first of the span if none is)."""
        target = min(max(target, self.start), self.end)
        starts = [s.start_at for s in self.segments]
        index = max(0, bisect.bisect_right(starts, target) - 1)
        if not self.segments:
            return None
        self._kept.clear()
        self._open(index)
        best: tuple[datetime, Any] | None = None
        while True:
            item = self._next_raw()
            if item is None:
                break
            if item[0] < self.start:
                continue  # decoded only to reach the span
            if item[0] > target:
                if best is None:
                    best = item  # the span's first frame comes after the target
                else:
                    self._peek = item
                break
            best = item
            if item[0] == target:
                break
        if best is None:
            return None
        return self._publish(*best)

    def step(self, frames: int) -> SpanFrame | None:
        """*frames* forward (> 0) or back (< 0) from the current frame."""
        if self.current is None:
            return self.seek(self.start)
        if frames < 0:
            kept = list(self._kept)
            here = next((i for i, f in enumerate(kept) if f.at == self.current.at), None)
            if here is not None and here + frames >= 0:
                self.current = kept[here + frames]
                del kept[here + frames + 1:]
                self._kept = deque(kept, maxlen=KEEP)
                # the decoder stays ahead: reopen at the kept frame on the next step forward
                self._frames = None
                self._peek = None
                return self.current
            return self.seek(self.current.at - self.interval * (-frames) + self.interval / 2)
        if self._frames is None and self._peek is None:
            at = self.current.at
            shown = self.seek(at)
            if shown is None:
                return None
        shown = self.current
        for _ in range(frames):
            item = self._next_raw()
            if item is None:
                break
            shown = self._publish(*item)
        return shown
