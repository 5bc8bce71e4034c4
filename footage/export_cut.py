"""Cutting a span out of recorded segments into one plain MP4: stream copy or re-encode.

Read by :mod:`footage.export`. Segments are opened with their keys (``open_segment``) and
read in order; a packet's or frame's **wall time** is its segment's start plus its offset in
the segment, so masks and redactions are looked up at the time the camera saw the picture,
and a gap between segments stays a gap in the clip's timestamps.

- :func:`cut_copy`: packets as recorded, from the keyframe at or before the requested start
  (a clip must start with a keyframe to play) to the last packet before the end. Nothing is
  decoded: the exported pictures are the camera's own bytes.
- :func:`cut_reencode`: frames decoded from the start of the segment that holds the start,
  kept from the requested start exactly, each passed through
  :func:`cameras.masks.apply_masks` with the decision in force at its wall time, then the
  redactions, then encoded with :func:`pick_encoder`'s encoder.

Both call ``step(wall_time)`` for every packet or frame: it reports progress and raises to
cancel.
"""

from __future__ import annotations

import bisect
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import av.error
import numpy as np

from cameras.masks import MaskDecision, apply_masks
from footage.mp4 import open_segment
from footage.redaction import RedactionPlan, apply_redactions
from registry.store_footage import SegmentRow

#: Encoders tried in order (name, options): H.264 first; MPEG-4 Part 2 only as a last resort.
#: x264 ``ultrafast``: CRF 20 keeps the picture quality; the preset only gives up compression
#: (files about twice ``veryfast``'s) for 4x the speed (3 ms against 12 ms a 720p frame
#: here), which is what lets a masked export run at 20x real time on two cores.
ENCODERS: Final[tuple[tuple[str, dict[str, str]], ...]] = (
    ("libx264", {"preset": "ultrafast", "crf": "20"}),
    ("libopenh264", {"b": "4M"}),
    ("h264", {}),
    ("mpeg4", {"qscale": "2"}),
)
#: Time base of re-encoded clips: milliseconds.
MS: Final = Fraction(1, 1000)

Step = Callable[[datetime], None]


@dataclass(frozen=True)
class ClipInfo:
    """What was written: the clip's real span (wall times), frames and picture."""

    start: datetime
    end: datetime
    frames: int
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Timeline:
    """The mask decision in force at each moment: ``decisions[i]`` from ``times[i]`` on."""

    times: tuple[datetime, ...]
    decisions: tuple[MaskDecision, ...]

    def at(self, when: datetime) -> MaskDecision | None:
        """The decision in force at *when*; None (blank) before the first one."""
        i = bisect.bisect_right(self.times, when) - 1
        return self.decisions[i] if i >= 0 else None


def pick_encoder() -> tuple[str, dict[str, str]]:
    """The best video encoder this PyAV build offers (libx264 when present)."""
    for name, options in ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except (av.error.FFmpegError, ValueError):
            continue
        return name, dict(options)
    raise RuntimeError("no usable video encoder in this FFmpeg build")  # pragma: no cover


def segment_params(path: Path, key: bytes) -> tuple[str, int, int, bytes]:
    """(codec, width, height, extradata) of a segment, from its header only."""
    container = open_segment(path, key)
    try:
        ctx = container.streams.video[0].codec_context
        return ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b"")
    finally:
        container.close()


def _packets(segments: Sequence[SegmentRow], path_of: Callable[[SegmentRow], Path]
             ) -> Iterator[tuple[Any, Any, datetime]]:  # fmt: skip
    """(packet, its stream, wall time of its dts) over every segment, in order."""
    for seg in segments:
        container = open_segment(path_of(seg), seg.key)
        try:
            stream = container.streams.video[0]
            tb = Fraction(stream.time_base or Fraction(1, 90000))
            first: int | None = None
            try:
                for packet in container.demux(stream):
                    if packet.dts is None or not packet.size:
                        continue
                    if first is None:
                        first = packet.dts
                    at = seg.start_at + timedelta(seconds=float((packet.dts - first) * tb))
                    yield packet, stream, at
            except av.error.InvalidDataError:
                continue  # a damaged tail: what was read counts, as in probe()
        finally:
            container.close()


def cut_copy(segments: Sequence[SegmentRow], path_of: Callable[[SegmentRow], Path],
             start: datetime, end: datetime, out: Path, step: Step) -> ClipInfo:  # fmt: skip
    """Stream copy of ``[keyframe at or before start, end)`` into *out*."""
    output: Any = None
    out_stream: Any = None
    gop: list[tuple[Any, datetime]] = []
    base: datetime | None = None
    last_dts = -1
    frames = 0
    clip_end = start
    width = height = 0
    codec = ""
    try:
        for packet, stream, at in _packets(segments, path_of):
            if at >= end:
                break
            step(at)
            if base is None:
                if packet.is_keyframe:
                    gop = []
                if gop or packet.is_keyframe:
                    gop.append((packet, at))
                if at < start or not gop:
                    continue
                base = gop[0][1]
                output = av.open(str(out), "w", format="mp4")
                out_stream = output.add_stream_from_template(stream)
                ctx = stream.codec_context
                width, height, codec = ctx.width, ctx.height, ctx.name
                pending, gop = gop, []
            else:
                pending = [(packet, at)]
            for pkt, when in pending:
                tb = Fraction(pkt.time_base)
                shift = (pkt.pts - pkt.dts) if pkt.pts is not None else 0
                dts = max(last_dts + 1, round((when - base).total_seconds() / tb))
                pkt.dts, pkt.pts = dts, dts + shift
                pkt.stream = out_stream
                output.mux(pkt)
                last_dts = dts
                frames += 1
                duration = float((pkt.duration or 0) * tb)
                clip_end = max(clip_end, when + timedelta(seconds=duration))
    finally:
        if output is not None:
            output.close()
    if base is None:
        raise LookupError("no recorded packet in the span")
    return ClipInfo(base, min(max(clip_end, start), end), frames, width, height, codec)


class _Encoder:
    """The re-encoding output, opened at the first kept frame, fed by a worker thread.

    Decoding and masking (this thread) and encoding (the worker) overlap: on a 2-core
    machine that is most of the gain (bench/export_bench.py). Frames travel as I420 arrays;
    an error in the worker is raised by the next :meth:`add` or by :meth:`close`.
    """

    def __init__(self, out: Path, encoder: tuple[str, dict[str, str]]) -> None:
        self.out = out
        self.encoder = encoder
        self.output: Any = None
        self.stream: Any = None
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.last_ms = -1
        self.frames = 0
        self._queue: queue.Queue[tuple[np.ndarray, str, int] | None] = queue.Queue(8)
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stop = False

    def add(self, image: np.ndarray, fmt: str, at: datetime, rate: Fraction) -> None:
        """*image*: I420 (``fmt="yuv420p"``, shape (H*3/2, W)) or RGB (``"rgb24"``)."""
        if self.output is None:
            height = image.shape[0] * 2 // 3 if fmt == "yuv420p" else image.shape[0]
            self.output = av.open(str(self.out), "w", format="mp4")
            stream = self.output.add_stream(self.encoder[0], rate=rate)
            stream.height, stream.width = height, image.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = MS
            stream.options = dict(self.encoder[1])
            stream.thread_type = "AUTO"
            self.stream = stream
            self.first_at = at
            self._worker = threading.Thread(target=self._run, name="export-encoder",
                                            daemon=True)  # fmt: skip
            self._worker.start()
        assert self.first_at is not None
        ms = max(self.last_ms + 1, round((at - self.first_at).total_seconds() * 1000))
        self.last_ms = ms
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put((image, fmt, ms), timeout=0.2)
                break
            except queue.Full:
                continue
        self.frames += 1
        self.last_at = at

    def _run(self) -> None:
        ended = False  # the producer's end mark was taken from the queue
        try:
            while (item := self._queue.get()) is not None:
                if self._stop:
                    continue
                image, fmt, ms = item
                frame = av.VideoFrame.from_ndarray(image, format=fmt)
                frame.pts, frame.time_base = ms, MS
                for packet in self.stream.encode(frame):
                    self.output.mux(packet)
            ended = True
            if not self._stop:
                for packet in self.stream.encode(None):
                    self.output.mux(packet)
        except BaseException as exc:  # noqa: BLE001 - handed to the producer thread
            self._error = exc
            while not ended:  # drain, so that the producer never blocks on a full queue
                ended = self._queue.get() is None

    def close(self, *, flush: bool) -> None:
        if self.output is None:
            return
        try:
            self._stop = not flush
            if self._worker is not None:
                self._queue.put(None)
                self._worker.join()
            if self._error is not None and flush:
                raise self._error
        finally:
            self.output.close()


def _picture(frame: Any, decision: MaskDecision | None, plan: RedactionPlan,
             at: datetime) -> tuple[np.ndarray, str]:  # fmt: skip
    """The frame masked and redacted, as an array the encoder takes.

    8-bit 4:2:0 limited-range frames (what cameras send) go I420 -> RGB -> I420 through
    OpenCV (four times faster than swscale's RGB->YUV here); any other format through
    PyAV's own conversion to RGB.
    """
    import cv2

    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        rgb = cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
        rgb = apply_redactions(apply_masks(rgb, decision), plan, at)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), "yuv420p"
    rgb = apply_masks(frame.to_ndarray(format="rgb24"), decision)
    return apply_redactions(rgb, plan, at), "rgb24"


@dataclass
class _Reencode:
    """One re-encoding run: the span, what is applied to each frame, and the output."""

    start: datetime
    end: datetime
    step: Step
    timeline: Timeline
    plan: RedactionPlan
    enc: _Encoder
    rate: Fraction = Fraction(10)

    def emit(self, frames: Any, seg: SegmentRow, first: int, tb: Fraction) -> None:
        for frame in frames:
            if frame.pts is None:
                continue
            at = seg.start_at + timedelta(seconds=float((frame.pts - first) * tb))
            if self.start <= at < self.end:
                image, fmt = _picture(frame, self.timeline.at(at), self.plan, at)
                self.enc.add(image, fmt, at, self.rate)

    def segment(self, seg: SegmentRow, path: Path) -> bool:
        """Decode what *seg* holds of the span; True once the span's end is reached."""
        container = open_segment(path, seg.key)
        try:
            stream = container.streams.video[0]
            tb = Fraction(stream.time_base or Fraction(1, 90000))
            if stream.average_rate:
                self.rate = Fraction(stream.average_rate)
            first: int | None = None
            gop: list[Any] = []
            done = False
            try:
                for packet in container.demux(stream):
                    if packet.dts is None or not packet.size:
                        continue
                    if first is None:
                        first = packet.dts
                    at = seg.start_at + timedelta(seconds=float((packet.dts - first) * tb))
                    if at >= self.end:
                        done = True
                        break
                    self.step(at)
                    if at < self.start:
                        if packet.is_keyframe:
                            gop = []
                        gop.append(packet)
                        continue
                    for pkt in (*gop, packet):
                        self.emit(pkt.decode(), seg, first, tb)
                    gop = []
            except av.error.InvalidDataError:
                pass  # a damaged tail: what was read counts
            if first is not None:
                for pkt in gop:
                    self.emit(pkt.decode(), seg, first, tb)
                self.emit(stream.codec_context.decode(None), seg, first, tb)
            return done
        finally:
            container.close()


def cut_reencode(
    segments: Sequence[SegmentRow], path_of: Callable[[SegmentRow], Path], start: datetime,
    end: datetime, out: Path, step: Step, timeline: Timeline, plan: RedactionPlan,
    encoder: tuple[str, dict[str, str]],
) -> ClipInfo:  # fmt: skip
    """Decode ``[start, end)``, apply masks and redactions at each frame's wall time, encode.

    Only the packets from the last keyframe before *start* are decoded (a segment may start a
    minute earlier); frames are timed by their own pts, so a stream with B-frames (decoded
    out of order) is timed right too, and each segment's decoder is flushed at its end.
    """
    enc = _Encoder(out, encoder)
    run = _Reencode(start, end, step, timeline, plan, enc)
    try:
        for seg in segments:
            if seg.start_at >= end or run.segment(seg, path_of(seg)):
                break
    except BaseException:
        enc.close(flush=False)
        raise
    enc.close(flush=True)
    if enc.first_at is None or enc.last_at is None:
        raise LookupError("no recorded frame in the span")
    frame_s = timedelta(seconds=float(1 / run.rate))
    return ClipInfo(enc.first_at, min(end, enc.last_at + frame_s), enc.frames,
                    enc.stream.width, enc.stream.height, enc.stream.codec_context.name)
