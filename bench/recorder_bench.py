"""Recorder benchmark: 16 streams recorded at once vs ``ffmpeg -c copy``; purge of 7 days.

    uv run python bench/recorder_bench.py [--seconds 30] [--streams 16] [--skip-purge]

1. One GStreamer RTSP peer (tests/peers.py), /main 1280x720 10 fps. In the same run, one
   ``centrale``-style recorder process (16 CameraRecorder threads, 60 s segments) and 16
   ``ffmpeg -rtsp_transport tcp -i URL -c copy`` fragmented-MP4 processes record the mount
   for ``--seconds``; CPU (utime+stime from /proc) and RSS of both sides are sampled.
2. Purge: an index of 7 days x 16 cameras of 60 s segments (161,280 rows and small files),
   then a routine pass (5 minutes expire) and a pass that expires everything.
Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from peers import start_gst_rtsp  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

RECORDER = textwrap.dedent("""
    import sys, time, signal, threading
    from pathlib import Path
    from cameras.config import StreamSettings
    from cameras.stream import StreamSource
    from footage.index import FootageIndex
    from footage.recorder import CameraRecorder, RecorderSettings
    from registry.store import Store
    from registry.store_footage import FootageStore
    data, url, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    index = FootageIndex(data, FootageStore(Store.open(data)))
    recs = [CameraRecorder(StreamSource(f"cam{i:02d}", url), index,
                           settings=RecorderSettings(segment_s=60)) for i in range(n)]
    for r in recs:
        r.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    print("STARTED", flush=True)
    done.wait()
    for r in recs:
        r.request_stop()
    for r in recs:
        r.stop()
""")


def cpu_rss(pid: int) -> tuple[float, int]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0.0, 0
    return (int(fields[11]) + int(fields[12])) / TICK, rss


def record_bench(seconds: float, streams: int) -> dict[str, object]:
    peer = start_gst_rtsp(name="bench-gst")
    work = Path(tempfile.mkdtemp(prefix="rec-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = peer.main_url
        rec = subprocess.Popen([sys.executable, "-c", RECORDER, str(work / "data"), url,
                                str(streams)], cwd=ROOT, stdout=subprocess.PIPE)
        assert rec.stdout is not None and rec.stdout.readline().strip() == b"STARTED"
        for i in range(streams):
            out = work / f"ff{i:02d}.mp4"
            procs.append(subprocess.Popen(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                 "-i", url, "-map", "0:v", "-c", "copy", "-f", "mp4",
                 "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(3)  # both sides connected and past their start-up
        rec0 = cpu_rss(rec.pid)[0]
        ff0 = sum(cpu_rss(p.pid)[0] for p in procs)
        rss_rec: list[int] = []
        rss_ff: list[int] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(1)
            rss_rec.append(cpu_rss(rec.pid)[1])
            rss_ff.append(sum(cpu_rss(p.pid)[1] for p in procs))
        wall = time.monotonic() - t0
        rec_cpu = cpu_rss(rec.pid)[0] - rec0
        ff_cpu = sum(cpu_rss(p.pid)[0] for p in procs) - ff0
        rec.send_signal(signal.SIGTERM)
        rec.wait(30)
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(10)
        mb = sum(f.stat().st_size for f in (work / "data" / "footage").rglob("*.mp4")) / 1e6
        return {
            "streams": streams, "seconds": round(wall, 1),
            "recorder_cpu_pct": round(100 * rec_cpu / wall, 1),
            "ffmpeg_cpu_pct": round(100 * ff_cpu / wall, 1),
            "cpu_ratio": round(rec_cpu / ff_cpu, 2) if ff_cpu else None,
            "recorder_rss_mb": round(max(rss_rec) / 1e6, 1),
            "ffmpeg_rss_mb_total": round(max(rss_ff) / 1e6, 1),
            "rss_ratio": round(max(rss_rec) / max(rss_ff), 2),
            "recorded_mb": round(mb, 1),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        peer.stop()
        shutil.rmtree(work, ignore_errors=True)


def purge_bench(cameras: int = 16, days: int = 7) -> dict[str, object]:
    from footage.index import FootageIndex
    from footage.retention import Retention
    from registry.audit import AuditTrail
    from registry.store import Store
    from registry.store_footage import FootageStore

    work = Path(tempfile.mkdtemp(prefix="purge-bench-"))
    try:
        store = Store.open(work)
        fs = FootageStore(store)
        index = FootageIndex(work, fs)
        start = datetime(2025, 1, 1, tzinfo=UTC)
        per_cam = days * 24 * 60
        t0 = time.perf_counter()
        with store.transaction():
            for c in range(cameras):
                cam = f"cam{c:02d}"
                for m in range(per_cam):
                    at = start + timedelta(minutes=m)
                    row = fs.reserve_segment(cam, at, os.urandom(16), at,
                                             lambda i, cam=cam, at=at:
                                             FootageIndex.relative_path(cam, at, i))
                    path = work / row.path
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"x" * 512)
                    fs.complete_segment(row.id, start_at=at, end_at=at + timedelta(minutes=1),
                                        size=512, sha256="0" * 64, frames=600)
        build = time.perf_counter() - t0
        trail = AuditTrail(store, b"k" * 32)
        end = start + timedelta(days=days)
        routine_at = end + timedelta(minutes=5)  # 5 minutes of each camera expire

        def run(at: datetime) -> tuple[float, int]:
            retention = Retention(index, trail, clock=lambda: at)
            t = time.perf_counter()
            report = retention.run()
            return time.perf_counter() - t, report.segments

        idle_s, idle_n = run(start + timedelta(days=days))  # nothing to purge yet
        routine_s, routine_n = run(routine_at)
        full_s, full_n = run(end + timedelta(days=days))
        store.close()
        return {
            "segments": cameras * per_cam, "build_s": round(build, 1),
            "pass_nothing_due_s": round(idle_s, 3), "pass_nothing_due_n": idle_n,
            "routine_pass_s": round(routine_s, 3), "routine_pass_segments": routine_n,
            "full_purge_s": round(full_s, 2), "full_purge_segments": full_n,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--skip-purge", action="store_true")
    ap.add_argument("--skip-record", action="store_true")
    a = ap.parse_args()
    result: dict[str, object] = {
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip(),
        "cpus": os.cpu_count(),
    }
    if not a.skip_record:
        result["record"] = record_bench(a.seconds, a.streams)
    if not a.skip_purge:
        result["purge"] = purge_bench()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
