"""Playback benchmark: seek latency on footage recorded from the GStreamer peer.

    uv run python bench/playback_bench.py [--record-seconds 190] [--segment-seconds 60]
                                          [--seeks 300] [--size 220x124]

1. The real recorder records the GStreamer peer's /main (1280x720, 10 fps, H.264, a
   keyframe every 2 s) into encrypted fMP4 segments of ``--segment-seconds`` (60 s, as in
   production) for ``--record-seconds``.
2. A :class:`footage.playback.PlaybackReader` (masks on: a fixed camera with one mask)
   decoding to ``--size`` pixels (a full view in a 220x62 terminal) is asked to:
   - seek to random moments anywhere in the recording (``--seeks`` times; segment changes
     included, the file opened, decrypted, demuxed from the keyframe before the target and
     decoded up to it);
   - seek +10 s and -10 s from random places (the arrow keys);
   - step one frame.
   ``--clip FILE`` records a video file instead (``record_file``, the recorder's own writer,
   the clip repeated back to back), to see longer GOPs: ``car-detection.mp4`` has a keyframe
   every 4.8 s, so a seek decodes up to 60 frames instead of 20.
   Latency is from the command to the frame published (``wait_idle``).
Prints a JSON summary (median, p95, max in ms) and writes bench/results/playback-last.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from peers import start_gst_rtsp, wait_until  # noqa: E402

from cameras.config import CameraConfig, StreamSettings  # noqa: E402
from cameras.masks import MaskSet  # noqa: E402
from cameras.stream import StreamSource  # noqa: E402
from footage.index import FootageIndex  # noqa: E402
from footage.playback import PlaybackReader  # noqa: E402
from footage.playback_timeline import MaskTimeline  # noqa: E402
from footage.recorder import CameraRecorder, RecorderSettings, record_file  # noqa: E402
from registry.clock import utc_now  # noqa: E402
from registry.store import Store  # noqa: E402
from registry.store_footage import FootageStore  # noqa: E402
from registry.store_ptz import PtzStore  # noqa: E402

CAM = "cam1"


def figures(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "max_ms": round(ms[-1], 1)}


def timed(reader: PlaybackReader, command: object) -> float:
    t = time.perf_counter()
    command()  # type: ignore[operator]
    assert reader.wait_idle(10)
    return time.perf_counter() - t


def record_peer(index: FootageIndex, url: str, args: argparse.Namespace) -> None:
    rec = CameraRecorder(
        StreamSource(CAM, url), index,
        settings=RecorderSettings(segment_s=args.segment_seconds),
        stream_settings=StreamSettings(open_timeout_s=3, read_timeout_s=3),
    )  # fmt: skip
    rec.start()
    assert wait_until(lambda: rec.health == "recording", 20), rec.detail
    time.sleep(args.record_seconds)
    rec.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--record-seconds", type=float, default=190)
    ap.add_argument("--segment-seconds", type=float, default=60)
    ap.add_argument("--seeks", type=int, default=300)
    ap.add_argument("--size", default="220x124")
    ap.add_argument("--clip", type=Path, help="record this file instead of the peer")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rng = random.Random(4)
    peer = start_gst_rtsp(name="gst-bench") if args.clip is None else None
    with tempfile.TemporaryDirectory(prefix="playback-bench-") as tmp:
        data = Path(tmp)
        store = Store.open(data)
        try:
            index = FootageIndex(data, FootageStore(store))
            if args.clip is not None:
                first = at = utc_now() - timedelta(hours=1)
                while (at - first).total_seconds() < args.record_seconds:
                    done = record_file(index, CAM, args.clip, at, args.segment_seconds)
                    at = done[-1].end_at or at
                source = f"{args.clip.name} via record_file"
            else:
                assert peer is not None
                record_peer(index, peer.main_url, args)
                peer.stop()
                source = "gst /main 1280x720 10 fps H.264, keyframe every 2 s"
            segs = index.store.segments(camera=CAM)
            start, end = segs[0].start_at, segs[-1].end_at
            assert end is not None
            span = (end - start).total_seconds()
            ptz = PtzStore(store)
            ptz.set_fixed_masks(CAM, MaskSet.from_json(
                [[[0, 0], [0.3, 0], [0.3, 0.1], [0, 0.1]]]).dumps(), "bench", utc_now())
            cam = CameraConfig(id=CAM, name="bench", place="bench",
                               main_url="rtsp://127.0.0.1:9/x")
            reader = PlaybackReader(CAM, index, MaskTimeline(cam, CAM, ptz))
            reader.set_target_size(width, height)
            reader.start(start)
            assert reader.wait_idle(10)
            absolute = [timed(reader, lambda: reader.seek(
                start + timedelta(seconds=rng.uniform(0, span - 0.5))))
                for _i in range(args.seeks)]  # fmt: skip
            relative = []
            for _i in range(args.seeks // 2):
                reader.seek(start + timedelta(seconds=rng.uniform(10, span - 10.5)))
                assert reader.wait_idle(10)
                relative.append(timed(reader, lambda: reader.seek_by(rng.choice((10, -10)))))
            steps = [timed(reader, reader.step) for _i in range(100)]
            reader.close()
            result = {
                "footage": {"segments": len(segs), "seconds": round(span, 1),
                            "segment_s": args.segment_seconds,
                            "source": source + ", AES-CTR fMP4",
                            "bytes": sum(s.size for s in segs)},
                "target_size": [width, height],
                "seek_random": figures(absolute),
                "seek_10s": figures(relative),
                "step": figures(steps),
            }
        finally:
            store.close()
            if peer is not None:
                peer.stop()
    name = "playback-last.json" if args.clip is None else "playback-clip-last.json"
    out = ROOT / "bench" / "results" / name
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
