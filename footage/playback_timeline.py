"""What playback needs besides the video: the masks of each moment, and a day's timeline.

Masks (R7, docs/design/masks.md): recorded footage is shown through the same
:func:`cameras.masks.apply_masks` as live view, with the decision *in force when the frame
was recorded*. A fixed camera shows its stored masks. A PTZ camera's view changes, so its
decision comes from the mask-state timeline (``registry.store_ptz``, written by
``ptz.maskstate``): the newest state at or before the frame. No state at all, a state that
was not shown (moving, off preset, unknown) or a mask text that does not load is blank:
nobody can say what the camera was looking at, so nothing is shown (fail closed). A camera
that is no longer configured is blank too (its kind, hence its masks, is not known).

The timeline of a day draws recorded spans, the gaps between them and the holds that name
the camera, for the playback screen (docs/design/recording.md, "Holds").
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cameras.config import CameraConfig
from cameras.masks import (
    BLANK_UNKNOWN,
    NO_MASKS,
    NOT_CONFIGURED,
    Blank,
    BlankReason,
    MaskDecision,
    MaskError,
    MaskSet,
    Show,
)
from footage.holds import covers, is_active
from registry.store_footage import FootageStore, SegmentRow
from registry.store_ptz import MaskStateRow, PtzStore

#: Two segments closer than this are one recorded span (the recorder cuts back to back).
JOIN_S: Final = 1.0

_STATE_BLANK: Final[dict[str, BlankReason]] = {
    "moving": BlankReason.MOVING,
    "off_preset": BlankReason.OFF_PRESET,
    "unknown": BlankReason.UNKNOWN,
}


class MaskTimeline:
    """The mask decision in force at any moment of one camera's recordings; thread-safe.

    PTZ states are read from the store a window at a time (:meth:`load`) and looked up by
    bisection, so the reader thread asks the database once per segment, not per frame.
    """

    def __init__(self, camera: CameraConfig | None, camera_id: str, ptz: PtzStore) -> None:
        self.camera = camera
        self.camera_id = camera_id
        self.ptz = ptz
        self._lock = threading.Lock()
        self._fixed: MaskDecision | None = None
        self._window: tuple[datetime, datetime] | None = None
        self._times: list[datetime] = []
        self._rows: list[MaskStateRow | None] = []
        self._parsed: dict[str, MaskDecision] = {}

    @property
    def is_ptz(self) -> bool:
        return self.camera is not None and self.camera.is_ptz

    def load(self, start: datetime, end: datetime) -> None:
        """Read the states that decide ``[start, end)`` (the state in force at start too)."""
        if self.camera is None or not self.camera.is_ptz:
            return
        before = self.ptz.mask_state_at(self.camera_id, start)
        rows = self.ptz.mask_states(self.camera_id, start, end)
        times: list[datetime] = [start]
        entries: list[MaskStateRow | None] = [before]
        for row in rows:
            times.append(row.at)
            entries.append(row)
        with self._lock:
            self._window = (start, end)
            self._times, self._rows = times, entries

    def decision_at(self, at: datetime) -> MaskDecision:
        if self.camera is None:
            return NOT_CONFIGURED
        if not self.camera.is_ptz:
            return self._fixed_decision()
        with self._lock:
            window = self._window
        if window is None or not window[0] <= at < window[1]:
            self.load(at - timedelta(seconds=1), at + timedelta(minutes=5))
        with self._lock:
            i = bisect.bisect_right(self._times, at) - 1
            row = self._rows[i] if i >= 0 else None
        return self._row_decision(row)

    def _fixed_decision(self) -> MaskDecision:
        if self._fixed is None:
            text = self.ptz.fixed_masks(self.camera_id)
            try:
                masks = MaskSet.loads(text, f"camera {self.camera_id}") if text else NO_MASKS
            except MaskError:
                return BLANK_UNKNOWN  # stored masks that do not load: show nothing
            self._fixed = Show(masks)
        return self._fixed

    def _row_decision(self, row: MaskStateRow | None) -> MaskDecision:
        if row is None:
            return BLANK_UNKNOWN
        if not row.shown:
            return Blank(_STATE_BLANK.get(row.state, BlankReason.UNKNOWN))
        hit = self._parsed.get(row.masks)
        if hit is None:
            try:
                hit = Show(MaskSet.loads(row.masks, f"camera {self.camera_id}"))
            except MaskError:
                hit = BLANK_UNKNOWN
            self._parsed[row.masks] = hit
        return hit


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class HoldSpan(Span):
    hold_id: int
    reference: str
    active: bool


@dataclass(frozen=True)
class DayTimeline:
    """Recorded spans, gaps and holds of one camera between ``start`` and ``end``."""

    camera: str
    start: datetime
    end: datetime
    recorded: tuple[Span, ...]
    gaps: tuple[Span, ...]
    holds: tuple[HoldSpan, ...]

    def recorded_at(self, at: datetime) -> bool:
        return any(s.contains(at) for s in self.recorded)

    def held_at(self, at: datetime) -> bool:
        return any(h.active and h.contains(at) for h in self.holds)


def recorded_spans(segments: Sequence[SegmentRow]) -> list[Span]:
    """Segments joined into spans wherever the next starts within :data:`JOIN_S`."""
    spans: list[Span] = []
    join = timedelta(seconds=JOIN_S)
    for seg in sorted(segments, key=lambda s: s.start_at):
        end = seg.end_at or seg.start_at
        if spans and seg.start_at <= spans[-1].end + join:
            if end > spans[-1].end:
                spans[-1] = Span(spans[-1].start, end)
        else:
            spans.append(Span(seg.start_at, end))
    return spans


def day_timeline(
    store: FootageStore, camera: str, start: datetime, end: datetime, now: datetime
) -> DayTimeline:
    """The timeline of ``[start, end)``; gaps only up to *now* (the future is not a gap)."""
    segs = store.segments(camera=camera, since=start, until=end)
    recorded = [Span(max(s.start, start), min(s.end, end)) for s in recorded_spans(segs)]
    gaps: list[Span] = []
    cursor = start
    horizon = min(end, now)
    for span in recorded:
        if span.start > cursor and cursor < horizon:
            gaps.append(Span(cursor, min(span.start, horizon)))
        cursor = max(cursor, span.end)
    if cursor < horizon:
        gaps.append(Span(cursor, horizon))
    holds = [
        HoldSpan(max(h.span_start, start), min(h.span_end, end), h.id, h.reference,
                 is_active(h, now))
        for h in store.holds() if covers(h, camera, start, end)
    ]  # fmt: skip
    return DayTimeline(camera, start, end, tuple(recorded), tuple(gaps), tuple(holds))
