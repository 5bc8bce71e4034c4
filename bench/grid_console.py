"""Live-view benchmark, the measured runs: the console in tmux and the bare-PyAV baseline.

Used by ``bench/run_grid.py`` (run as a script, so ``bench/`` is on sys.path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from grid_processes import (
    ANALYZEDURATION_US,
    CLK_TCK,
    COLS,
    PROBESIZE,
    REPO,
    ROWS,
    VENV_BIN,
    Case,
    CpuWindow,
    Peers,
    status_kb,
    thread_ticks,
    wchar,
    write_config,
)
from grid_report import pct

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
