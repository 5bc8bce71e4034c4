"""Live-view benchmark: the real console in tmux against real RTSP streams, next to bare PyAV.

    uv run python bench/run_grid.py                 # full run (~10 min), writes docs/benchmarks.md
    uv run python bench/run_grid.py --quick         # 1 round, short windows, for a smoke test

What runs (everything on 127.0.0.1, each in its own process group, all stopped at the end):

* GStreamer RTSP servers (``../shared/peers/gst_rtsp_server.py`` with Debian's python3): four
  at 10 fps with different test patterns for the grid's sub-streams, and one at 25 fps for
  the single view's main stream (and the extra 16-tile case at 25 fps). A server encodes each
  mount once, whatever the number of clients.
* The console, ``centrale --config <generated> --data-dir <tmp>``, inside
  ``tmux -f /dev/null new-session -d -x 200 -y 60`` (a private tmux socket), with
  ``CENTRALE_BENCH_STATS`` set so that :mod:`console.instrument` records painted frames, key
  latency, event-loop lag and first-frame times.
* The baseline, ``bench/baseline_decode.py``: the same streams, the same open options,
  decoded and scaled to the same pixel size as the console's tiles, and nothing else.

Each case runs ``--rounds`` times as console, baseline, console, baseline, ... and CPU
(utime+stime from /proc/PID/stat) is taken over the same steady window after a warm-up.
Medians of the rounds are reported, and the console/baseline ratio of each round pair.
Key latency is measured after the CPU window (arrow keys sent with ``tmux send-keys``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/ is on sys.path when run as a script
from grid_console import run_baseline, run_console
from grid_processes import (
    ANALYZEDURATION_US,
    GST_SERVER,
    PATTERNS_10,
    PATTERNS_25,
    PROBESIZE,
    REPO,
    SYSTEM_PYTHON,
    Case,
    GstServer,
    Peers,
    leftovers,
    log,
    machine,
)
from grid_report import demote, med, notes, pct, render_markdown, summarise
from mdsection import write_section

# --------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--window", type=float, default=10.0)
    p.add_argument("--key-gap", type=float, default=0.1)
    p.add_argument("--keys", type=int, default=50, help="presses per round (16 tiles: 2x)")
    p.add_argument("--cases", default="grid1,grid4,grid9,grid16,single,grid16-256,grid16x25")
    p.add_argument("--quick", action="store_true", help="1 round, short windows")
    p.add_argument("--patch", help="what-if: a Python file run in the console before it "
                   "starts (bench/experiments/); the report says so")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "last-run.json"))
    p.add_argument("--analysis", default=str(REPO / "bench" / "analysis.md"),
                   help="hand-written diagnosis appended to the report, if the file exists")
    p.add_argument("--render-only", action="store_true",
                   help="re-write the report from --json (and --analysis) without measuring")
    a = p.parse_args()
    if a.render_only:
        results = json.loads(Path(a.json).read_text())
        analysis = Path(a.analysis)
        results["analysis"] = analysis.read_text() if analysis.exists() else None
        write_section("live-view", demote(render_markdown(results)), Path(a.out))
        log(f"wrote {a.out} from {a.json}")
        return 0
    if a.quick:
        a.rounds, a.warmup, a.window, a.keys = 1, 2.0, 4.0, 20
    for tool in ("tmux",):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install -y {tool})")
    if not Path(SYSTEM_PYTHON).exists() or not GST_SERVER.exists():
        raise SystemExit("GStreamer peer missing: run `bash scripts/setup-peers.sh`")

    all_cases = {
        "grid1": Case("grid1", 1, "sub", 10, "1 tile (sub 10 fps)", a.rounds, a.keys),
        "grid4": Case("grid4", 4, "sub", 10, "4 tiles (sub 10 fps)", a.rounds, a.keys),
        "grid9": Case("grid9", 9, "sub", 10, "9 tiles (sub 10 fps)", a.rounds, a.keys),
        "grid16": Case("grid16", 16, "sub", 10, "16 tiles (sub 10 fps)", a.rounds,
                       2 * a.keys),
        "single": Case("single", 1, "main", 25, "single view (main 720p 25 fps)", a.rounds,
                       a.keys),
        "grid16-256": Case("grid16-256", 16, "sub", 10, "16 tiles, 256 colours "
                           "(TERM=screen-256color, no COLORTERM), 1 round", 1, a.keys,
                           baseline=False,
                           env={"TERM": "screen-256color", "COLORTERM": None}),
        # not in the default list: TERM=screen without COLORTERM, Rich's 16-colour "standard"
        "grid16-16": Case("grid16-16", 16, "sub", 10, "16 tiles, TERM=screen, no COLORTERM, "
                          "1 round", 1, a.keys, baseline=False,
                          env={"TERM": "screen", "COLORTERM": None}),
        "grid16x25": Case("grid16x25", 16, "sub", 25, "16 tiles (sub at 25 fps), 1 round", 1,
                          a.keys),
    }
    cases = [all_cases[c] for c in a.cases.split(",")]
    if stale := [x for x in leftovers() if "baseline_decode" in x]:
        raise SystemExit("baseline processes of an earlier run still running (stop them by "
                         "PID first):\n" + "\n".join(stale))

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # run the finally blocks: stop every peer we started

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="centrale-bench-"))
    peers = Peers([GstServer(10, pat) for pat in PATTERNS_10],
                  [GstServer(25, pat) for pat in PATTERNS_25], log_dir=work)
    results: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "uv run python bench/run_grid.py" + (" " + " ".join(sys.argv[1:])
                                                         if sys.argv[1:] else ""),
        "args": {**vars(a), "analyzeduration_us": ANALYZEDURATION_US, "probesize": PROBESIZE},
        "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "machine": machine(),
        "runs": {},
        "summaries": [],
    }
    try:
        peers.start()
        log(f"servers: {[s.port for s in peers.all()]}; work dir {work}")
        sizes: dict[str, tuple[int, int]] = {}
        for case in cases:
            runs: list[dict[str, Any]] = []
            for rnd in range(case.rounds):
                tag = f"{case.name}-r{rnd}"
                peers.ensure_alive(case)
                r = run_console(case, peers, work, tag, a)
                runs.append(r)
                px = next((t["target_px"] for t in r["tiles"] if t.get("target_px")), None)
                if px:
                    sizes.setdefault(case.name, tuple(px))  # type: ignore[arg-type]
                log(f"{tag} console: cpu {r['cpu']['console']:.0f}% painted "
                    f"{med([t['painted_fps'] for t in r['tiles']])} key p99 "
                    f"{pct(r['keys']['lat_ms'], 99)} px {px}")
                if case.baseline:
                    peers.ensure_alive(case)
                    b = run_baseline(case, peers, sizes[case.name], a)
                    runs.append(b)
                    log(f"{tag} baseline: cpu {b['cpu']['baseline']:.0f}% "
                        f"fps {b['decoded_fps']:.1f} errors {b['errors']}")
            results["runs"][case.name] = runs
            results["summaries"].append(summarise(case, runs))
    finally:
        peers.stop()
        for err in work.glob("gst-*.err"):
            text = err.read_text().strip()
            if text:
                results.setdefault("gst_stderr", {})[err.name] = text[-3000:]
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = time.monotonic() - started
    results["notes"] = notes(results) + peers.events
    analysis = Path(a.analysis)
    if analysis.exists():
        results["analysis"] = analysis.read_text()
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(results, indent=1))
    write_section("live-view", demote(render_markdown(results)), Path(a.out))
    log(f"wrote {a.out} and {a.json} in {results['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
