"""Cost of masking a frame against the cost of getting it (decode + reformat to tile size).

    uv run python bench/masks_bench.py [--seconds 10] [--json results/masks.json]

1. Encodes a busy 640x360 H.264 clip at 10 fps with PyAV (the grid's sub-stream kind), then
   decodes it the way ``cameras.stream.StreamReader`` does (``thread_type="AUTO"``,
   ``to_ndarray(w, h, "rgb24", interpolation="AREA")``) and times decode + reformat per
   frame, for each tile size.
2. Times :func:`cameras.masks.apply_masks` on frames of the same sizes for typical decisions:
   no masks, one window (3 % of the picture), four polygons (~25 %), and blank. The raster
   cache is warm, as it is for every frame but the first after a change.
3. Prints, per tile size, masking as a share of decode + reformat: the grid's budget is
   that masking adds at most 5 % (issue 5). The share does not depend on the tile count:
   16 tiles cost 16 times both sides.

Process CPU time (``time.process_time``) is used, so the figures do not depend on how busy
the machine is with other work; decoding uses FFmpeg threads, whose CPU is counted too.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cameras.masks import (
    NO_MASKS,
    Blank,
    BlankReason,
    MaskDecision,
    MaskPolygon,
    MaskSet,
    Show,
    apply_masks,
)

TILES = ((48, 27), (96, 54), (160, 90), (320, 180), (640, 360))
SOURCE = (640, 360)
FPS = 10

DECISIONS: dict[str, MaskDecision] = {
    "none": Show(NO_MASKS),
    "window": Show(MaskSet((MaskPolygon.rectangle(0.62, 0.18, 0.80, 0.34),))),
    "four": Show(MaskSet((
        MaskPolygon.rectangle(0.0, 0.0, 0.25, 0.4),
        MaskPolygon.rectangle(0.62, 0.18, 0.80, 0.34),
        MaskPolygon.of([(0.3, 0.6), (0.55, 0.55), (0.6, 0.9), (0.35, 0.95)]),
        MaskPolygon.of([(0.8, 0.5), (1.0, 0.5), (1.0, 1.0), (0.7, 1.0), (0.75, 0.8)]),
    ))),
    "blank": Blank(BlankReason.MOVING),
}  # fmt: skip


def make_clip(seconds: float) -> bytes:
    """A busy clip: noise texture panning, moving shapes (so frames are not trivial)."""
    w, h = SOURCE
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (h, w * 2, 3), dtype=np.uint8)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "tune": "zerolatency"}
        stream.bit_rate = 800_000
        for i in range(int(seconds * FPS)):
            img = np.ascontiguousarray(texture[:, i * 4 % w: i * 4 % w + w])
            img[50:150, (i * 9) % (w - 100):(i * 9) % (w - 100) + 100] = (230, 30, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def decode_cost(clip: bytes, size: tuple[int, int]) -> tuple[float, int]:
    """CPU seconds per frame to decode and reformat to ``size``; and the frame count."""
    frames = 0
    t0 = time.process_time()
    with av.open(io.BytesIO(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(width=size[0], height=size[1], format="rgb24",
                             interpolation="AREA")  # fmt: skip
            frames += 1
    return (time.process_time() - t0) / max(1, frames), frames


def mask_cost(size: tuple[int, int], decision: MaskDecision, repeat: int) -> float:
    w, h = size
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(8)]
    apply_masks(frames[0].copy(), decision)  # warm the raster cache
    work = [f.copy() for f in frames]
    t0 = time.process_time()
    for i in range(repeat):
        apply_masks(work[i % 8], decision)
    return (time.process_time() - t0) / repeat


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--repeat", type=int, default=3000, help="masking calls per case")
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args()
    clip = make_clip(args.seconds)
    rows = []
    print(f"clip {SOURCE[0]}x{SOURCE[1]} H.264 {FPS} fps, {len(clip) // 1024} KiB")
    print(f"{'tile':>9} {'decode+ref µs':>14} " + " ".join(f"{k:>14}" for k in DECISIONS))
    for size in TILES:
        decode_s, frames = decode_cost(clip, size)
        costs = {k: mask_cost(size, d, args.repeat) for k, d in DECISIONS.items()}
        cells = " ".join(
            f"{c * 1e6:7.1f} {100 * c / decode_s:4.1f}%" for c in costs.values()
        )
        print(f"{size[0]:>4}x{size[1]:<4} {decode_s * 1e6:14.0f} {cells}")
        rows.append({"tile": f"{size[0]}x{size[1]}", "decode_reformat_us": decode_s * 1e6,
                     "frames": frames,
                     "mask_us": {k: c * 1e6 for k, c in costs.items()},
                     "share_pct": {k: 100 * c / decode_s for k, c in costs.items()}})
    worst = max(r["share_pct"][k] for r in rows for k in DECISIONS)  # type: ignore[index]
    print(f"largest share: {worst:.1f}% (budget 5%)")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "worst_share_pct": worst}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
