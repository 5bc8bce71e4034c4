"""Live-view benchmark, the processes: GStreamer RTSP servers, the keep-alive client,
CPU/RSS sampling from /proc, leftover detection and the machine description.

Used by ``bench/run_grid.py`` (run as a script, so ``bench/`` is on sys.path).
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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
# leftovers of an earlier run, the machine


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
