"""Export benchmark (issue 6): a 10-minute 720p 10 fps clip, copy and masked re-encode,
each against ``ffmpeg`` doing the equivalent work in the same run.

    uv run python bench/export_bench.py [--minutes 10] [--keep DIR]

1. Source: ``car-detection.mp4`` (shared/data/video, a real car park) scaled to 1280x720,
   looped to the length asked, encoded once with libx264 (GOP 2 s, like a camera), then
   **recorded through the recorder's own path** (``footage.recorder.record_file``: the same
   encrypted 60 s segments, index rows and keys as a live camera).
2. Centrale: ``Exporter.export_clip`` of the whole span, (a) with no masks -> stream copy,
   (b) with two privacy masks on the camera -> decode, ``apply_masks`` per frame, libx264,
   each including the AES-256 package, hashes, register and audit.
3. Baseline, same run: Debian's ffmpeg 5.1 cannot read our encrypted segments (see
   docs/design/recording.md), so it gets a **decrypted copy** (the segments remuxed into one
   plain MP4 by PyAV, not timed): ``ffmpeg -c copy`` of the span, and ``ffmpeg`` with the
   same two masks drawn as filled ``drawbox`` rectangles and libx264 with the exporter's preset
   and CRF; then each output zipped by ``7z -tzip -mem=AES256`` for the packaging part.
Prints a JSON summary (wall seconds, CPU seconds, times real time).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from cameras.masks import MaskSet  # noqa: E402
from footage.export import ExportCamera, Exporter, ExportRequest, ExportSettings  # noqa: E402
from footage.export_cut import ENCODERS  # noqa: E402
from footage.index import FootageIndex  # noqa: E402
from footage.mp4 import open_segment  # noqa: E402
from footage.recorder import record_file  # noqa: E402
from footage.redaction import RecipientKind  # noqa: E402
from registry.audit import AuditTrail  # noqa: E402
from registry.people import Person  # noqa: E402
from registry.register import AccessKind, AccessRegister, AccessRequest  # noqa: E402
from registry.roles import Level, role_named  # noqa: E402
from registry.session import Session  # noqa: E402
from registry.store import Store  # noqa: E402
from registry.store_footage import FootageStore  # noqa: E402
from registry.store_people import PeopleStore  # noqa: E402
from registry.store_ptz import PtzStore  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "video" / "car-detection.mp4"
PASSWORD = "Bench-Export-2026!"
#: the two masks, as polygons (Centrale) and as the same rectangles (ffmpeg drawbox)
MASKS = [(0.05, 0.10, 0.45, 0.60), (0.60, 0.50, 0.90, 0.95)]
#: the exporter's own x264 settings, given to ffmpeg too
X264 = dict(ENCODERS)["libx264"]


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def make_source(path: Path, minutes: float) -> None:
    """car-detection.mp4 scaled to 1280x720 at 10 fps, looped, libx264 with a 2 s GOP."""
    frames = []
    with av.open(str(VIDEO)) as src:
        for f in src.decode(video=0):
            frames.append(f.reformat(width=1280, height=720, format="yuv420p"))
    total = int(minutes * 60 * 10)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "20", "bf": "0"}
        for i in range(total):
            frame = frames[i % len(frames)]
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


def decrypted_copy(index: FootageIndex, segs: list[Any], path: Path) -> None:
    """The recorded segments remuxed into one plain MP4, for Debian's ffmpeg."""
    out = av.open(str(path), "w", format="mp4")
    stream = None
    offset = 0
    for seg in segs:
        with open_segment(index.path_of(seg), seg.key) as src:
            s = src.streams.video[0]
            if stream is None:
                stream = out.add_stream_from_template(s)
            first = None
            last = 0
            for p in src.demux(s):
                if p.dts is None:
                    continue
                first = p.dts if first is None else first
                p.dts = p.dts - first + offset
                p.pts = p.dts
                last = p.dts + (p.duration or 0)
                p.stream = stream
                out.mux(p)
            offset = last
    out.close()


def timed(fn: Any) -> tuple[float, float, Any]:
    c0, t0 = cpu(), time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, cpu() - c0, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="export-bench-", dir=args.keep))
    seconds = args.minutes * 60
    try:
        src = work / "source.mp4"
        t_src = timed(lambda: make_source(src, args.minutes))[0]
        data = work / "data"
        data.mkdir()
        store = Store.open(data)
        index = FootageIndex(data, FootageStore(store))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        t_rec = timed(lambda: record_file(index, "bench", src, start, segment_s=60))[0]
        segs = index.store.segments(camera="bench")
        end = start + timedelta(seconds=seconds)
        audit = AuditTrail(store, b"k" * 32)
        register = AccessRegister(store, audit, lambda s, p: True)
        now = datetime.now(UTC)
        person = Person(username="capo", full_name="Capo", role="supervisore",
                        level=Level.FIRST, password_hash="x", password_changed_at=now)
        PeopleStore(store).add(person, now, "bench")
        boss = Session(id=1, person=person, role=role_named("supervisore"), started_at=now)
        exporter = Exporter(index, store, audit, register,
                            {"bench": ExportCamera("bench", "Bench", "Piazza Università")},
                            ExportSettings())  # fmt: skip

        def export(out: Path) -> Any:
            out.mkdir()
            entry = register.open_entry(boss, AccessRequest(
                kind=AccessKind.EXPORT, purpose="police_investigation", cameras=["bench"],
                span_from=start, span_to=end, recipient="bench"), "x")  # fmt: skip
            return exporter.export_clip(boss, ExportRequest(
                "bench", start, end, RecipientKind.JUDICIAL_AUTHORITY),
                register_entry_id=entry.id, password=PASSWORD, out_dir=out)  # fmt: skip

        results: dict[str, Any] = {
            "source": {"minutes": args.minutes, "size": "1280x720", "fps": 10,
                       "bytes": src.stat().st_size, "segments": len(segs),
                       "make_s": round(t_src, 1), "record_file_s": round(t_rec, 1)},
            "cpus": os.cpu_count(),
        }  # fmt: skip
        wall, cpu_s, res = timed(lambda: export(work / "copy"))
        assert res.manifest["method"] == "copy"
        results["centrale_copy"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu_s, 2),
                                    "x_realtime": round(seconds / wall, 1),
                                    "package_bytes": res.path.stat().st_size}
        polys = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for x0, y0, x1, y1 in MASKS]
        PtzStore(store).set_fixed_masks("bench", MaskSet.from_json(polys).dumps(), "bench", now)
        wall, cpu_s, res = timed(lambda: export(work / "masked"))
        assert res.manifest["method"] == "reencode"
        results["centrale_masked"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu_s, 2),
                                      "x_realtime": round(seconds / wall, 1),
                                      "encoder": res.manifest["encoder"],
                                      "package_bytes": res.path.stat().st_size}
        plain = work / "plain.mp4"
        decrypted_copy(index, segs, plain)
        ff = shutil.which("ffmpeg") or "ffmpeg"
        sz = shutil.which("7z") or "7z"

        def run(argv: list[str]) -> None:
            subprocess.run(argv, check=True, capture_output=True)

        def ff_copy() -> None:
            run([ff, "-v", "error", "-y", "-i", str(plain), "-t", str(seconds), "-c", "copy",
                 str(work / "ff_copy.mp4")])

        boxes = ",".join(f"drawbox=x=iw*{x0}:y=ih*{y0}:w=iw*{x1 - x0}:h=ih*{y1 - y0}"
                         f":color=black:t=fill" for x0, y0, x1, y1 in MASKS)

        def ff_masked() -> None:
            run([ff, "-v", "error", "-y", "-i", str(plain), "-t", str(seconds), "-vf", boxes,
                 "-c:v", "libx264", "-preset", X264["preset"], "-crf", X264["crf"],
                 str(work / "ff_masked.mp4")])

        def zip7(name: str) -> None:
            run([sz, "a", "-tzip", "-mem=AES256", f"-p{PASSWORD}", "-mx=0",
                 str(work / f"{name}.zip"), str(work / f"{name}.mp4")])

        for name, fn in (("ffmpeg_copy", ff_copy), ("ffmpeg_masked", ff_masked)):
            wall, cpu_s, _ = timed(fn)
            zwall, _zcpu, _ = timed(lambda n=name: zip7(n.replace("ffmpeg", "ff")))
            results[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu_s, 2),
                             "x_realtime": round(seconds / wall, 1),
                             "with_7z_aes_wall_s": round(wall + zwall, 2),
                             "with_7z_x_realtime": round(seconds / (wall + zwall), 1)}
        for kind in ("copy", "masked"):
            ours, theirs = results[f"centrale_{kind}"], results[f"ffmpeg_{kind}"]
            results[f"ratio_{kind}"] = {
                "centrale_vs_ffmpeg_wall": round(ours["wall_s"] / theirs["wall_s"], 2),
                "centrale_vs_ffmpeg_plus_7z_wall": round(
                    ours["wall_s"] / theirs["with_7z_aes_wall_s"], 2)}
        store.close()
        print(json.dumps(results, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
