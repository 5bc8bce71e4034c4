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
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdsection import write_section  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CENTRALE_SHARED", REPO.parent / "shared")).resolve()
GST_SERVER = SHARED / "peers" / "gst_rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
VENV_BIN = REPO / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PATTERNS_10 = ("ball", "smpte", "pinwheel", "circular")
PATTERNS_25 = ("ball", "smpte")
COLS, ROWS = 200, 60
# FFmpeg probing: the project's defaults (cameras/config.py StreamSettings), so the bench
# measures what an operator gets; both the console (via the config) and the baseline use them
try:
    sys.path.insert(0, str(REPO))
    from cameras.config import StreamSettings as _StreamSettings

    ANALYZEDURATION_US = int(_StreamSettings().analyzeduration_us)
    PROBESIZE = int(_StreamSettings().probesize)
except Exception:  # noqa: BLE001 - fall back to the values the design measured
    ANALYZEDURATION_US, PROBESIZE = 500000, 500000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# /proc helpers


def cpu_ticks(pid: int, tid: int | None = None) -> int | None:
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def thread_ticks(pid: int) -> dict[int, int]:
    out: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            t = cpu_ticks(pid, int(tid))
            if t is not None:
                out[int(tid)] = t
    return out


def machine_busy_ticks() -> int:
    """Busy ticks of all CPUs (user+nice+system+irq+softirq+steal) from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def status_kb(pid: int, key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def wchar(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return None


class CpuWindow:
    """CPU seconds used by some processes between start() and stop()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.t0 = self.t1 = 0.0
        self.a: dict[str, int] = {}
        self.b: dict[str, int] = {}

    def _read(self) -> dict[str, int]:
        out = {
            name: sum(cpu_ticks(p) or 0 for p in pids) for name, pids in self.pids.items()
        }
        out["machine"] = machine_busy_ticks()
        return out

    def start(self) -> None:
        self.a = self._read()
        self.t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        self.b = self._read()
        self.t1 = time.monotonic()
        span = self.t1 - self.t0
        out = {
            name: 100.0 * (self.b[name] - self.a[name]) / CLK_TCK / span for name in self.a
        }
        # everything else the machine did meanwhile (other users, other tests): noise
        out["other"] = out["machine"] - sum(v for k, v in out.items() if k != "machine")
        return out


# --------------------------------------------------------------------------------------
# peers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GstServer:
    fps: int
    pattern: str
    port: int = 0
    proc: subprocess.Popen[str] | None = None

    restarts: int = 0
    log_dir: Path | None = None

    def start(self) -> None:
        self.port = free_port()
        err = (open(self.log_dir / f"gst-{self.port}.err", "w")  # noqa: SIM115
               if self.log_dir else subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(GST_SERVER), "--port", str(self.port), "--fps", str(self.fps),
             "--pattern", self.pattern],
            stdout=subprocess.PIPE, stderr=err, text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < 2:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"gst server on {self.port} did not start")
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                seen += 1

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# --------------------------------------------------------------------------------------
# cases


@dataclass
class Case:
    name: str
    tiles: int  # cameras == grid layout
    stream: str  # "sub" (grid) or "main" (single view)
    fps: int
    label: str
    rounds: int
    keys: int
    baseline: bool = True
    env: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Peers:
    sub10: list[GstServer]
    fast25: list[GstServer]
    keeper: subprocess.Popen[str] | None = None
    keeper_urls: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    events: list[str] = field(default_factory=list)

    def all(self) -> list[GstServer]:
        return [*self.sub10, *self.fast25]

    def case_urls(self, case: Case) -> list[str]:
        """Every mount ``case`` opens, once each."""
        urls = [u for pair in self.camera_urls(case) for u in pair]
        if case.stream != "main":
            urls = [s for _m, s in self.camera_urls(case)]
        return sorted(set(urls))

    def start(self) -> None:
        for s in self.all():
            s.log_dir = self.log_dir
            s.start()
        for s in self.all():
            s.wait_ready()

    def start_keeper(self, urls: list[str]) -> None:
        """One client that only reads packets holds the case's mounts open.

        The servers' shared pipelines then run all the time, the same for the baseline and
        the console runs of a case, and N clients never connect to a mount that is still
        being prepared (a burst of clients on a cold mount once killed a server here).
        """
        self.keeper_urls = urls
        self.keeper = subprocess.Popen(
            [str(VENV_BIN / "python"), str(REPO / "bench" / "baseline_decode.py"),
             "--no-decode", "--size", "2x2", *urls],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )
        assert self.keeper.stdout is not None
        self.keeper.stdout.readline()
        time.sleep(1.0)

    def stop_keeper(self) -> None:
        if self.keeper is not None and self.keeper.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.keeper.pid, signal.SIGKILL)
            self.keeper.wait()

    def ensure_alive(self, case: Case) -> None:
        dead = [s for s in self.all() if s.proc is None or s.proc.poll() is not None]
        for s in dead:
            self.events.append(f"gst server {s.pattern}@{s.fps} on {s.port} had exited "
                               f"(code {s.proc.returncode if s.proc else None}); restarted")
            log(self.events[-1])
            s.restarts += 1
            s.start()
            s.wait_ready()
        urls = self.case_urls(case)
        if dead or self.keeper is None or self.keeper.poll() is not None \
                or urls != self.keeper_urls:
            self.stop_keeper()
            self.start_keeper(urls)

    def stop(self) -> None:
        self.stop_keeper()
        for s in self.all():
            s.stop()

    def camera_urls(self, case: Case) -> list[tuple[str, str]]:
        """(main_url, sub_url) for each camera of ``case``."""
        urls = []
        for i in range(case.tiles):
            if case.stream == "main":
                srv = self.fast25[i % len(self.fast25)]
                sub = self.sub10[i % len(self.sub10)]
                urls.append((srv.url("main"), sub.url("sub")))
            else:
                pool = self.sub10 if case.fps == 10 else self.fast25
                srv = pool[i % len(pool)]
                urls.append((srv.url("main"), srv.url("sub")))
        return urls

    def measured_urls(self, case: Case) -> list[str]:
        return [m if case.stream == "main" else s for m, s in self.camera_urls(case)]

    def keeper_pids(self) -> list[int]:
        return [self.keeper.pid] if self.keeper is not None else []

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.all() if s.proc is not None]


def write_config(path: Path, case: Case, peers: Peers) -> None:
    lines = [
        "[site]",
        'comune = "Benchmark"',
        'control_room = "Bench"',
        'timezone = "Europe/Rome"',
        'language = "en"',
        "",
        "[ui]",
        f"grid_layout = {case.tiles}",
        "",
        "[streams]",
        f"analyzeduration_us = {ANALYZEDURATION_US}",
        f"probesize = {PROBESIZE}",
        "",
    ]
    for i, (main, sub) in enumerate(peers.camera_urls(case)):
        lines += [
            "[[cameras]]",
            f'id = "cam-{i:02d}"',
            f'name = "Camera {i + 1}"',
            f'place = "Via Bench {i + 1}"',
            f'main_url = "{main}"',
            f'sub_url = "{sub}"',
            "",
        ]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------
# the console in tmux


class Console:
    def __init__(self, case: Case, peers: Peers, work: Path, tag: str,
                 patch: str | None = None) -> None:
        self.patch = str(Path(patch).resolve()) if patch else None
        self.case = case
        self.work = work
        self.socket = f"centrale-bench-{os.getpid()}-{tag}"
        self.config = work / f"{tag}.toml"
        self.stats = work / f"{tag}.json"
        self.data = work / f"{tag}-data"
        self.data.mkdir()
        write_config(self.config, case, peers)
        self.pid = 0
        self.tmux_pid = 0

    def tmux(self, *args: str, check: bool = True) -> str:
        res = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                             text=True, check=False)
        if check and res.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: {res.stderr.strip()}")
        return res.stdout.strip()

    def start(self) -> None:
        env = {"CENTRALE_BENCH_STATS": str(self.stats), "COLORTERM": "truecolor"}
        env.update({k: v for k, v in self.case.env.items() if v is not None})
        unset = [k for k, v in self.case.env.items() if v is None]
        for k in unset:
            env.pop(k, None)
        program = str(VENV_BIN / "centrale")
        if self.patch:  # a what-if experiment: run a patch file, then the normal CLI
            program = (f"{VENV_BIN / 'python'} -c 'import runpy, sys; "
                       f"runpy.run_path(\"{self.patch}\"); from console.cli import main; "
                       f"sys.exit(main())'")
        cmd = "exec env " + " ".join(f"-u {k}" for k in unset) + " " + " ".join(
            f"{k}={v}" for k, v in env.items()
        ) + f" {program} --config {self.config} --data-dir {self.data}"
        # -f /dev/null: no user tmux.conf; a private socket: nothing shared with other tmux
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "bench",
             "-x", str(COLS), "-y", str(ROWS), cmd],
            check=True,
        )
        self.pid = int(self.tmux("list-panes", "-t", "bench", "-F", "#{pane_pid}"))
        self.tmux_pid = int(self.tmux("display-message", "-p", "#{pid}"))

    def read_stats(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.stats.read_text())
        except (OSError, ValueError):
            return None

    def wait_for(self, pred: Any, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.read_stats()
            if st is not None and pred(st):
                return st
            if not Path(f"/proc/{self.pid}").exists():
                raise RuntimeError("console exited: " + self.capture()[-2000:])
            time.sleep(0.1)
        return None

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "bench", check=False)

    def send(self, key: str) -> float:
        t = time.monotonic()
        self.tmux("send-keys", "-t", "bench", key)
        return t

    def quit(self) -> dict[str, Any] | None:
        with contextlib.suppress(RuntimeError):
            self.tmux("send-keys", "-t", "bench", "C-q", check=False)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
            time.sleep(0.1)
        final = self.read_stats()
        self.tmux("kill-server", check=False)
        return final


def views_on(st: dict[str, Any], stream: str) -> list[dict[str, Any]]:
    """The views of the last sample that show ``stream``."""
    if not st.get("samples"):
        return []
    last = st["samples"][-1]
    recs = {v["key"]: v for v in st["views"]}
    return [recs[k] for k in last["views"] if recs.get(k, {}).get("which") == stream]


def all_painted(n: int, stream: str) -> Any:
    def pred(st: dict[str, Any]) -> bool:
        vs = views_on(st, stream)
        return len(vs) >= n and all(v.get("painted", 0) > 0 for v in vs)

    return pred


def sample_at(st: dict[str, Any], t: float, after: bool) -> dict[str, Any]:
    samples = st["samples"]
    if after:
        return next((s for s in samples if s["t"] >= t), samples[-1])
    return next((s for s in reversed(samples) if s["t"] <= t), samples[0])


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))
    return v[k]


def run_console(case: Case, peers: Peers, work: Path, tag: str, a: argparse.Namespace
                ) -> dict[str, Any]:
    con = Console(case, peers, work, tag, a.patch)
    t_start = time.monotonic()
    con.start()
    res: dict[str, Any] = {"kind": "console", "tag": tag}
    try:
        st = con.wait_for(all_painted(case.tiles, "sub"), 30)
        if st is None:
            raise RuntimeError("tiles never painted:\n" + con.capture())
        res["startup_to_all_painted_s"] = time.monotonic() - t_start
        t_enter = None
        if case.stream == "main":
            time.sleep(0.5)
            t_enter = con.send("Enter")
            st = con.wait_for(all_painted(1, "main"), 20)
            if st is None:
                raise RuntimeError("single view never painted:\n" + con.capture())
        time.sleep(a.warmup)
        names = {"console": [con.pid], "tmux": [con.tmux_pid], "gst": peers.pids(),
                 "keeper": peers.keeper_pids()}
        win = CpuWindow(names)
        th0 = thread_ticks(con.pid)
        w0 = wchar(con.pid)
        win.start()
        time.sleep(a.window)
        cpu = win.stop()
        th1 = thread_ticks(con.pid)
        w1 = wchar(con.pid)
        span = win.t1 - win.t0
        res["cpu"] = cpu
        ui_ticks = th1.get(con.pid, 0) - th0.get(con.pid, 0)
        res["main_thread_cpu"] = 100.0 * ui_ticks / CLK_TCK / span
        res["threads"] = len(th1)
        res["write_mb_s"] = (w1 - w0) / span / 1e6 if w0 is not None and w1 is not None else None
        res["rss_mb"] = (status_kb(con.pid, "VmRSS") or 0) / 1024
        # keys: alternate Right/Left, spaced a.key_gap
        sent: list[tuple[str, float]] = []
        for i in range(case.keys):
            key = "Right" if i % 2 == 0 else "Left"
            sent.append((key, con.send(key)))
            time.sleep(max(0.0, a.key_gap - (time.monotonic() - sent[-1][1])))
        time.sleep(1.0)
        res["hwm_mb"] = (status_kb(con.pid, "VmHWM") or 0) / 1024
        st = con.wait_for(lambda s: s["t"] > time.monotonic() - 0.5, 5) or con.read_stats()
        assert st is not None
        res["color_system"] = st.get("color_system")
        res["term"] = st.get("term")
        res["colorterm"] = st.get("colorterm")
        res["size"] = st.get("size")
        # painted/decoded per view over the window
        s0, s1 = sample_at(st, win.t0, True), sample_at(st, win.t1, False)
        dt_s = s1["t"] - s0["t"]
        recs = {v["key"]: v for v in st["views"]}
        tiles = []
        for key, v1 in s1["views"].items():
            v0 = s0["views"].get(key)
            rec = recs.get(key, {})
            if v0 is None or rec.get("which") != case.stream:
                continue
            tiles.append({
                "key": key,
                "painted_fps": (v1["painted"] - v0["painted"]) / dt_s,
                "decoded_fps": (v1["decoded"] - v0["decoded"]) / dt_s,
                "target_px": rec.get("target_px"),
                "cells": rec.get("cells"),
                "first_frame_s": (rec["first_paint_at"] - rec["mounted_at"])
                if rec.get("first_paint_at") and rec.get("mounted_at") else None,
            })
        res["tiles"] = tiles
        if t_enter is not None and tiles:
            fp = [recs[t["key"]].get("first_paint_at") for t in tiles]
            res["enter_to_first_frame_s"] = min(x for x in fp if x) - t_enter
        # lag in the CPU window
        lags = [x for b in st["lag"] if win.t0 <= b["t"] < win.t1 for x in b["lag_ms"]]
        res["lag_ms"] = {"p50": pct(lags, 50), "p99": pct(lags, 99),
                         "max": max(lags) if lags else None, "n": len(lags)}
        # key latencies for the keys we sent
        t_first = sent[0][1] if sent else 0
        keys = [k for k in st["keys"] if k["t_event"] >= t_first - 0.05
                and k["key"] in ("right", "left")]
        lat = [k["latency_ms"] for k in keys if k.get("latency_ms") is not None]
        e2e = []
        for (_name, ts), k in zip(sent, keys, strict=False):
            if k.get("t_done"):
                e2e.append((k["t_done"] - ts) * 1000)
        res["keys"] = {"sent": len(sent), "seen": len(keys), "lat_ms": lat, "e2e_ms": e2e,
                       "records": keys}
    finally:
        final = con.quit()
        if final and final.get("final"):
            res["final_written"] = True
        with contextlib.suppress(OSError):
            Path(f"/tmp/tmux-{os.getuid()}/{con.socket}").unlink()
    return res


def run_baseline(case: Case, peers: Peers, size: tuple[int, int], a: argparse.Namespace
                 ) -> dict[str, Any]:
    urls = peers.measured_urls(case)
    proc = subprocess.Popen(
        [str(VENV_BIN / "python"), str(REPO / "bench" / "baseline_decode.py"),
         "--size", f"{size[0]}x{size[1]}", "--analyzeduration-us", str(ANALYZEDURATION_US),
         "--probesize", str(PROBESIZE), *urls],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    res: dict[str, Any] = {"kind": "baseline", "size": list(size)}
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"baseline did not start: {line!r}")
        res["first_frames_s"] = float(line.split()[1])
        time.sleep(a.warmup)
        win = CpuWindow({"baseline": [proc.pid], "gst": peers.pids(),
                         "keeper": peers.keeper_pids()})
        win.start()
        time.sleep(a.window)
        cpu = win.stop()
        res["cpu"] = cpu
        res["rss_mb"] = (status_kb(proc.pid, "VmRSS") or 0) / 1024
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        info = json.loads(out.strip().splitlines()[-1])
        res["frames"] = info["frames"]
        res["errors"] = info["errors"]
        res["decoded_fps"] = sum(info["frames"]) / len(urls) / info["elapsed"]
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return res


def leftovers() -> list[str]:
    """Benchmark processes from an earlier, interrupted run: they would skew every figure."""
    me = str(REPO / "bench" / "baseline_decode.py")
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (me in cmd or str(GST_SERVER) in cmd) and int(d.name) != os.getpid():
            found.append(f"{d.name}: {cmd.strip()[:120]}")
    return found


# --------------------------------------------------------------------------------------
# summary


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarise(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    cons = [r for r in runs if r["kind"] == "console"]
    bases = [r for r in runs if r["kind"] == "baseline"]
    s: dict[str, Any] = {"case": case.name, "label": case.label, "rounds": len(cons)}
    s["console_cpu"] = med([r["cpu"]["console"] for r in cons])
    s["console_main_thread_cpu"] = med([r["main_thread_cpu"] for r in cons])
    s["tmux_cpu"] = med([r["cpu"]["tmux"] for r in cons])
    s["gst_cpu"] = med([r["cpu"]["gst"] for r in cons])
    s["other_cpu"] = med([r["cpu"].get("other") for r in runs])
    s["write_mb_s"] = med([r.get("write_mb_s") for r in cons])
    s["baseline_cpu"] = med([r["cpu"]["baseline"] for r in bases]) if bases else None
    if bases:
        pairs = [c["cpu"]["console"] / b["cpu"]["baseline"] for c, b in zip(cons, bases,
                                                                            strict=False)]
        s["ratio_pairs"] = pairs
        s["ratio"] = med(pairs)
        s["baseline_rss_mb"] = med([r["rss_mb"] for r in bases])
        s["baseline_decoded_fps"] = med([r["decoded_fps"] for r in bases])
    tile_fps = [t["painted_fps"] for r in cons for t in r["tiles"]]
    s["painted_fps_median"] = med([med([t["painted_fps"] for t in r["tiles"]]) for r in cons])
    s["painted_fps_min"] = min(tile_fps) if tile_fps else None
    s["decoded_fps_median"] = med([med([t["decoded_fps"] for t in r["tiles"]]) for r in cons])
    lat = [x for r in cons for x in r["keys"]["lat_ms"]]
    e2e = [x for r in cons for x in r["keys"]["e2e_ms"]]
    s["keys_n"] = len(lat)
    s["key_p50"] = pct(lat, 50)
    s["key_p99"] = pct(lat, 99)
    s["key_max"] = max(lat) if lat else None
    s["key_e2e_p99"] = pct(e2e, 99)
    s["key_p99_rounds"] = [pct(r["keys"]["lat_ms"], 99) for r in cons]
    s["lag_p99"] = med([r["lag_ms"]["p99"] for r in cons])
    s["lag_max"] = max((r["lag_ms"]["max"] or 0) for r in cons) if cons else None
    s["rss_mb"] = med([r["rss_mb"] for r in cons])
    s["hwm_mb"] = max(r["hwm_mb"] for r in cons) if cons else None
    ff = [t["first_frame_s"] for r in cons for t in r["tiles"] if t["first_frame_s"]]
    s["first_frame_max_s"] = med([max((t["first_frame_s"] or 0) for t in r["tiles"])
                                  for r in cons])
    s["first_frame_median_s"] = med(ff)
    s["first_frame_worst_s"] = max(ff) if ff else None
    s["enter_to_first_frame_s"] = med([r.get("enter_to_first_frame_s") for r in cons])
    first = cons[0] if cons else {}
    s["color_system"] = first.get("color_system")
    s["term"] = first.get("term")
    s["colorterm"] = first.get("colorterm")
    s["baseline_first_frames_s"] = med([r.get("first_frames_s") for r in bases])
    s["size"] = first.get("size")
    s["tile_px"] = first.get("tiles", [{}])[0].get("target_px") if first.get("tiles") else None
    s["tile_cells"] = first.get("tiles", [{}])[0].get("cells") if first.get("tiles") else None
    return s


def machine() -> dict[str, str]:
    import av
    import textual

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gst = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gst','1.0');"
                          "from gi.repository import Gst; Gst.init(None);"
                          "print(Gst.version_string())"], capture_output=True, text=True)
    tmux = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "textual": textual.__version__,
        "pyav": av.__version__,
        "ffmpeg": ".".join(str(x) for x in av.library_versions.get("libavcodec", ())),
        "gstreamer": gst.stdout.strip(),
        "tmux": tmux,
        "kernel": platform.release(),
    }


def f(v: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if v is None else fmt.format(v)


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**MISSED**")


def demote(markdown: str) -> str:
    """One heading level down: the report is a section of docs/benchmarks.md."""
    return "\n".join("#" + line if line.startswith("#") else line
                     for line in markdown.splitlines()) + "\n"


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    sums = results["summaries"]
    by = {s["case"]: s for s in sums}
    out = [
        "# Live view (issue 2)",
        "",
        "Generated by `bench/run_grid.py`; do not edit by hand (re-run it instead).",
        "",
    ]
    if results["args"].get("patch"):
        out += [f"**What-if run: the console was patched with `{results['args']['patch']}`; "
                "these are not the figures of the console as it is.**", ""]
    out += [
        f"- Date: {results['date']}",
        f"- Command: `{results['command']}` (total {results['elapsed_s'] / 60:.1f} min), "
        f"at commit {results.get('commit', '?')}",
        f"- Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}",
        f"- Software: Python {m['python']}, Textual {m['textual']}, PyAV {m['pyav']} "
        f"(libavcodec {m['ffmpeg']}), {m['gstreamer']}, {m['tmux']}",
        f"- Terminal: tmux {COLS}x{ROWS}, detached (`tmux -f /dev/null new-session -d`), "
        f"TERM={sums[0].get('term')} inside tmux; COLORTERM=truecolor unless noted",
        f"- Per round: warm-up {results['args']['warmup']} s after every tile has painted, "
        f"then a {results['args']['window']} s CPU window, then arrow keys every "
        f"{results['args']['key_gap'] * 1000:.0f} ms. Rounds alternate console and baseline;"
        " figures are medians over rounds.",
        "- Streams: GStreamer RTSP server (x264 ultrafast, baseline profile, test patterns "
        f"{', '.join(PATTERNS_10)} + clock overlay); sub 640x360 at 10 fps (512 kbit/s), "
        "main 1280x720 at 25 fps (2 Mbit/s). Probing: analyzeduration "
        f"{results['args'].get('analyzeduration_us', '?')} µs, probesize "
        f"{results['args'].get('probesize', '?')} (the project's defaults), fpsprobesize 0.",
        "",
        "CPU is % of one core (utime+stime from /proc over the window). *Console* is the whole "
        "console process (UI thread + reader/decoder threads); *baseline* is "
        "`bench/baseline_decode.py` decoding the same streams and scaling to the same tile "
        "size with `to_ndarray(..., interpolation='AREA')`. The GStreamer servers and tmux are "
        "not counted in either; their CPU is shown apart. *other* is the rest of the machine's "
        "busy time during the windows (everything not listed: other users' jobs, the driver, "
        "the keep-alive client), a noise indicator.",
        "",
        "## Results",
        "",
        "| case | tile px | painted fps/tile (median, min) | decoded fps | console CPU | "
        "UI thread | baseline CPU | ratio | key p50 / p99 / max ms | loop lag p99 / max ms | "
        "RSS / peak MB | first frame median / worst s | tmux | gst | other | pty MB/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sums:
        px = "x".join(str(x) for x in s["tile_px"]) if s.get("tile_px") else "—"
        ff = f"{f(s['first_frame_median_s'], '{:.2f}')} / {f(s['first_frame_worst_s'], '{:.2f}')}"
        if s.get("enter_to_first_frame_s") is not None:
            ff += f" (Enter→frame {s['enter_to_first_frame_s']:.2f})"
        out.append(
            f"| {s['label']} | {px} | {f(s['painted_fps_median'])}, {f(s['painted_fps_min'])} "
            f"| {f(s['decoded_fps_median'])} | {f(s['console_cpu'], '{:.0f}%')} "
            f"| {f(s['console_main_thread_cpu'], '{:.0f}%')} "
            f"| {f(s['baseline_cpu'], '{:.0f}%')} | {f(s.get('ratio'), '{:.2f}x')} "
            f"| {f(s['key_p50'])} / {f(s['key_p99'])} / {f(s['key_max'])} "
            f"| {f(s['lag_p99'])} / {f(s['lag_max'])} "
            f"| {f(s['rss_mb'], '{:.0f}')} / {f(s['hwm_mb'], '{:.0f}')} | {ff} "
            f"| {f(s['tmux_cpu'], '{:.0f}%')} | {f(s['gst_cpu'], '{:.0f}%')} "
            f"| {f(s.get('other_cpu'), '{:.0f}%')} "
            f"| {f(s['write_mb_s'])} |"
        )
    out += ["", "Per-round console/baseline CPU ratios (each console run against the baseline "
            "run that followed it):", ""]
    for s in sums:
        if s.get("ratio_pairs"):
            out.append(f"- {s['label']}: " + ", ".join(f"{x:.2f}" for x in s["ratio_pairs"])
                       + "; key p99 per round: "
                       + ", ".join(f(x) for x in s["key_p99_rounds"]) + " ms")
    # targets
    g16 = by.get("grid16")
    single = by.get("single")
    out += ["", "## Targets", ""]
    worst_grid_ff = max((s["first_frame_worst_s"] or 0) for s in sums
                        if s["case"].startswith("grid"))
    worst_all_ff = max((s["first_frame_worst_s"] or 0) for s in sums)
    if g16:
        rows = [
            ("16 tiles painted fps per tile >= 10 (25 is the aim)",
             f"median {f(g16['painted_fps_median'])}, slowest tile "
             f"{f(g16['painted_fps_min'])} (source 10 fps; decoded "
             f"{f(g16['decoded_fps_median'])})",
             None if g16["painted_fps_median"] is None
             else g16["painted_fps_median"] >= 9.8),
            ("console CPU <= 1.5x bare decode (16 tiles)",
             f"{f(g16['console_cpu'], '{:.0f}%')} vs {f(g16['baseline_cpu'], '{:.0f}%')}"
             f" = {f(g16.get('ratio'), '{:.2f}x')}",
             None if g16.get("ratio") is None else g16["ratio"] <= 1.5),
            ("keypress p99 <= 50 ms (16 tiles)", f"{f(g16['key_p99'])} ms "
             f"over {g16['keys_n']} presses",
             None if g16["key_p99"] is None else g16["key_p99"] <= 50),
            ("RSS <= 400 MB", "peak (VmHWM) over all cases "
             f"{max((s['hwm_mb'] or 0) for s in sums):.0f} MB",
             max((s["hwm_mb"] or 0) for s in sums) <= 400),
            ("first frame <= 1 s after a camera is opened",
             "worst tile over all grid cases "
             f"{f(worst_grid_ff, '{:.2f}')} s (bare PyAV, all streams of the 16-tile case: "
             f"{f(g16.get('baseline_first_frames_s'), '{:.2f}')} s)"
             + (f"; single view (main) {f(single['first_frame_median_s'], '{:.2f}')} s "
                f"after mount, {f(single['enter_to_first_frame_s'], '{:.2f}')} s after Enter"
                if single else ""),
             max((s["first_frame_worst_s"] or 0) for s in sums) <= 1.0),
        ]
        out += ["| target | measured | verdict |", "|---|---|---|"]
        rows[-1] = (rows[-1][0], rows[-1][1], worst_all_ff <= 1.0)
        for name, meas, ok in rows:
            out.append(f"| {name} | {meas} | {verdict(ok)} |")
    out += ["", "## Notes", ""] + [f"- {n}" for n in results.get("notes", [])]
    out += ["", "Raw figures of this run: `bench/results/last-run.json`.", ""]
    extra = results.get("analysis")
    if extra:
        out += [extra, ""]
    return "\n".join(out)


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


def notes(results: dict[str, Any]) -> list[str]:
    out = []
    for s in results["summaries"]:
        out.append(f"{s['label']}: Textual colour system `{s['color_system']}` "
                   f"(TERM={s['term']}, COLORTERM={s.get('colorterm')}), screen {s['size']}, "
                   f"tile {s['tile_cells']} cells.")
    out.append("Key latency is measured inside the console: from the Key event's creation "
               "(`event.time`, stamped by Textual's input thread) to the first screen refresh "
               "after the App dispatched it; the `e2e` p99 below adds tmux and the pty "
               "(from just before `tmux send-keys` is spawned, so it includes that process's "
               "start-up of a few ms): "
               + ", ".join(f"{s['label']}: {f(s['key_e2e_p99'])} ms" for s in
                           results["summaries"]))
    out.append("Painted fps counts the frames each VideoView turned into strips for the "
               "compositor (its `painted_frames` counter), which Textual writes to the "
               "terminal in the same refresh; `pty MB/s` is what the console wrote (wchar).")
    return out


if __name__ == "__main__":
    sys.exit(main())
