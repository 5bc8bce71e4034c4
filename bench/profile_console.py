"""Profile the console in the benchmark set-up with py-spy (not a project dependency).

    uv run python bench/profile_console.py --case grid16 --seconds 10 [--keys]

Starts the same peers and tmux console as ``bench/run_grid.py``, waits until every tile
paints, then runs ``uvx py-spy record`` (py-spy from PyPI in uv's tool cache) on the console
for ``--seconds``, optionally while arrow keys are pressed every 100 ms, and writes a
speedscope/flamegraph file plus a "top functions" text summary to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grid_console as gc  # bench/ is on sys.path when run as a script
import grid_processes as gp


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--case", default="grid16")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--keys", action="store_true", help="press arrows every 100 ms meanwhile")
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--out", default=str(gp.REPO / "bench" / "results"))
    a = p.parse_args()
    cases = {
        "grid1": gp.Case("grid1", 1, "sub", 10, "", 1, 0),
        "grid4": gp.Case("grid4", 4, "sub", 10, "", 1, 0),
        "grid9": gp.Case("grid9", 9, "sub", 10, "", 1, 0),
        "grid16": gp.Case("grid16", 16, "sub", 10, "", 1, 0),
        "single": gp.Case("single", 1, "main", 25, "", 1, 0),
    }
    case = cases[a.case]
    work = Path(tempfile.mkdtemp(prefix="centrale-prof-"))
    peers = gp.Peers([gp.GstServer(10, pat) for pat in gp.PATTERNS_10],
                     [gp.GstServer(25, pat) for pat in gp.PATTERNS_25], log_dir=work)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"profile-{a.case}{'-keys' if a.keys else ''}"
    try:
        peers.start()
        peers.ensure_alive(case)
        con = gc.Console(case, peers, work, "prof")
        con.start()
        if con.wait_for(gc.all_painted(case.tiles, "sub"), 30) is None:
            raise SystemExit("tiles never painted")
        if case.stream == "main":
            con.send("Enter")
            con.wait_for(gc.all_painted(1, "main"), 20)
        time.sleep(2)
        stop = threading.Event()

        def press() -> None:
            i = 0
            while not stop.is_set():
                con.send("Right" if i % 2 == 0 else "Left")
                i += 1
                stop.wait(0.1)

        presser = threading.Thread(target=press, daemon=True)
        if a.keys:
            presser.start()
        raw = out / f"{tag}.txt"
        subprocess.run(
            ["uvx", "py-spy", "record", "--pid", str(con.pid), "--duration", str(a.seconds),
             "--rate", str(a.rate), "--format", "raw", "--output", str(raw), "--threads",
             "--nonblocking"],
            check=False, capture_output=True,
        )
        stop.set()
        con.quit()
        summarise(raw, out / f"{tag}-top.txt")
        print(f"wrote {raw} and {out / f'{tag}-top.txt'}")
    finally:
        peers.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def summarise(raw: Path, dest: Path, top: int = 40) -> None:
    """Self and inclusive sample counts per function, for the main thread and the others."""
    incl: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    self_: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        thread = "main" if "MainThread" in frames[0] else frames[0].split(" (")[0]
        group = "main" if thread == "main" else "other threads"
        totals[group] += n
        for fr in set(frames[1:]):
            incl[group][fr] += n
        self_[group][frames[-1]] += n
    lines = []
    for group in totals:
        lines.append(f"== {group}: {totals[group]} samples")
        lines.append("-- inclusive")
        for fr, n in incl[group].most_common(top):
            lines.append(f"{100 * n / totals[group]:5.1f}%  {fr}")
        lines.append("-- self")
        for fr, n in self_[group].most_common(top // 2):
            lines.append(f"{100 * n / totals[group]:5.1f}%  {fr}")
    dest.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
