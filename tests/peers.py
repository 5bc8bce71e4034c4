"""Real camera peers for end-to-end tests: ipycam (ONVIF + RTSP) and GStreamer's RTSP server.

The peers are the scripts in ``../shared/peers`` (relative to the repository root), run as
they are: ipycam from its own virtual environment ``.peers/venv`` and the GStreamer server
with Debian's ``/usr/bin/python3``. ``scripts/setup-peers.sh`` installs both.

Every peer runs in its own process group on free 127.0.0.1 ports, so that killing it also
kills its children (ipycam starts one ffmpeg encoder per stream) and nothing else.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CENTRALE_SHARED", REPO.parent / "shared")).resolve()
PEERS_DIR = SHARED / "peers"
VIDEO_DIR = SHARED / "data" / "video"
PEERS_VENV = Path(os.environ.get("CENTRALE_PEERS_VENV", REPO / ".peers" / "venv"))
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
SYSTEM_PYTHON = Path("/usr/bin/python3")
SETUP_HINT = "run `bash scripts/setup-peers.sh` (as root) to install the camera peers"

#: how long a peer may take to print READY and open its ports
START_TIMEOUT_S = 20.0


class PeerSetupError(RuntimeError):
    """The peer environment is not installed."""


def _check(argv: list[str]) -> str | None:
    """None if the command succeeds, else its error output."""
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return str(exc)
    except subprocess.TimeoutExpired:
        return f"{argv[0]} did not answer in 30 s"
    return None if res.returncode == 0 else (res.stderr.strip().splitlines() or ["?"])[-1]


_env_problems: list[str] | None = None


def environment_problems(*, refresh: bool = False) -> list[str]:
    """What is missing for the peers, [] if nothing (checked once per process)."""
    global _env_problems
    if _env_problems is not None and not refresh:
        return _env_problems
    problems: list[str] = []
    for script in ("ipycam_peer.py", "gst_rtsp_server.py"):
        if not (PEERS_DIR / script).is_file():
            problems.append(f"{PEERS_DIR / script} not found (set CENTRALE_SHARED?)")
    if not (VIDEO_DIR / "car-detection.mp4").is_file():
        problems.append(f"{VIDEO_DIR / 'car-detection.mp4'} not found")
    if shutil.which("ffmpeg") is None:
        problems.append("ffmpeg is not on PATH")
    if not PEERS_PYTHON.exists():
        problems.append(f"{PEERS_VENV} does not exist")
    elif err := _check([str(PEERS_PYTHON), "-c", "import ipycam, cv2"]):
        problems.append(f"ipycam is not importable in {PEERS_VENV}: {err}")
    if not SYSTEM_PYTHON.exists():
        problems.append(f"{SYSTEM_PYTHON} does not exist")
    elif err := _check(
        [
            str(SYSTEM_PYTHON),
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); "
            "gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
            "assert Gst.ElementFactory.find('x264enc'), 'x264enc missing'",
        ]
    ):
        problems.append(f"GStreamer RTSP server not usable from {SYSTEM_PYTHON}: {err}")
    _env_problems = problems
    return problems


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes in process group ``pgid``."""
    return list(group_states(pgid))


def group_states(pgid: int) -> dict[int, str]:
    """Process state letters (R, S, T, ...) of the live processes in group ``pgid``."""
    states: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            states[int(entry.name)] = fields[0]
    return states


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


_live: list[PeerProcess] = []


@atexit.register
def _kill_all() -> None:  # last resort if a session finaliser did not run
    for peer in list(_live):
        peer.stop(grace_s=0)


@dataclass
class PeerProcess:
    """One peer process (and its process group) that can be killed, restarted and frozen."""

    name: str
    argv: list[str]
    ports: tuple[int, ...]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    frozen: bool = False
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the process and wait for READY and for every port to accept connections."""
        if self.alive():
            return
        deadline = time.monotonic() + timeout
        # A port just freed by kill() may still be held for a moment: retry the start.
        while True:
            self._spawn()
            err = self._wait_ready(deadline)
            if err is None:
                return
            self._kill_group(signal.SIGKILL)
            if time.monotonic() >= deadline or "bind" not in err.lower():
                raise RuntimeError(f"peer {self.name} did not start: {err}\n{self.log_tail()}")
            time.sleep(0.2)

    def _spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"--- start {self.starts} ---\n".encode())
        log.flush()
        self._log_offset = log.tell()
        env = {**os.environ, **self.env}
        # keep the project's virtual environment out of the peer's way
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                start_new_session=True,  # own process group: kill() takes the children too
            )
        finally:
            log.close()
        self.frozen = False
        self.starts += 1
        if self not in _live:
            _live.append(self)

    def _wait_ready(self, deadline: float) -> str | None:
        assert self.proc is not None
        ready = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with code {self.proc.returncode}: {self.log_tail(3)}"
            if not ready:
                with self.log_path.open("rb") as f:
                    f.seek(self._log_offset)
                    ready = b"READY" in f.read()
            if ready and all(port_open(p) for p in self.ports):
                return None
            time.sleep(0.05)
        return f"not ready within the start timeout (ports {self.ports})"

    def _kill_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group, like a camera losing power."""
        self._kill_group(signal.SIGCONT)  # a stopped process dies only once continued
        self._kill_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self.frozen = False
        deadline = time.monotonic() + 5
        while any(port_open(p, 0.05) for p in self.ports) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, timeout: float = START_TIMEOUT_S) -> None:
        """Kill if alive, then start again on the same ports."""
        self.kill()
        self.start(timeout)

    def freeze(self) -> None:
        """SIGSTOP the group: sockets stay open but nothing answers (a hung camera)."""
        self._kill_group(signal.SIGSTOP)
        self.frozen = True
        if self.proc is not None:  # signals are asynchronous: wait until all have stopped
            pgid = self.proc.pid
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and set(group_states(pgid).values()) - {"T", "t"}:
                time.sleep(0.01)

    def thaw(self) -> None:
        self._kill_group(signal.SIGCONT)
        self.frozen = False

    def heal(self) -> None:
        """Back to a running, answering peer after a test that broke it."""
        if self.frozen:
            self.thaw()
        if not self.alive():
            self.start()

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM the group, SIGKILL whatever is left after ``grace_s``."""
        if self.proc is not None:
            self._kill_group(signal.SIGCONT)
            self._kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_s)
            self._kill_group(signal.SIGKILL)  # ffmpeg children, or a stubborn leader
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self in _live:
            _live.remove(self)
        if not os.environ.get("CENTRALE_KEEP_PEER_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class _Peer:
    process: PeerProcess

    def kill(self) -> None:
        self.process.kill()

    def restart(self) -> None:
        self.process.restart()

    def freeze(self) -> None:
        self.process.freeze()

    def thaw(self) -> None:
        self.process.thaw()

    def heal(self) -> None:
        self.process.heal()

    def stop(self) -> None:
        self.process.stop()

    def alive(self) -> bool:
        return self.process.alive()


@dataclass
class IpycamPeer(_Peer):
    """One ipycam camera: ONVIF with WS-Security/HTTP auth, RTSP without auth."""

    onvif_port: int
    rtsp_port: int
    username: str
    password: str
    main_size: tuple[int, int] = (1280, 720)
    sub_size: tuple[int, int] = (640, 360)

    @property
    def address(self) -> str:
        """What a camera's config names: ``host:port`` of the ONVIF service."""
        return f"127.0.0.1:{self.onvif_port}"

    @property
    def onvif_url(self) -> str:
        return f"http://127.0.0.1:{self.onvif_port}/onvif/device_service"

    @property
    def main_url(self) -> str:
        return f"rtsp://127.0.0.1:{self.rtsp_port}/video_main"

    @property
    def sub_url(self) -> str:
        return f"rtsp://127.0.0.1:{self.rtsp_port}/video_sub"


@dataclass
class GstRtspPeer(_Peer):
    """GStreamer's RTSP server: /main 1280x720, /sub 640x360, /file; optional Basic auth."""

    port: int
    username: str | None = None
    password: str | None = None
    main_size: tuple[int, int] = (1280, 720)
    sub_size: tuple[int, int] = (640, 360)

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount.lstrip('/')}"

    @property
    def main_url(self) -> str:
        return self.url("main")

    @property
    def sub_url(self) -> str:
        return self.url("sub")

    @property
    def file_url(self) -> str:
        return self.url("file")


def _workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"centrale-peer-{name}-"))


def start_ipycam(
    *,
    username: str = "op",
    password: str = "secret",
    source: Path | str | None = None,
    fps: int = 10,
    name: str = "ipycam",
) -> IpycamPeer:
    """Start one ipycam camera on free ports; the caller must ``stop()`` it."""
    src = str(source if source is not None else VIDEO_DIR / "car-detection.mp4")
    onvif_port, rtsp_port = free_port(), free_port()
    while rtsp_port == onvif_port:
        rtsp_port = free_port()
    workdir = _workdir(name)
    argv = [
        str(PEERS_PYTHON),
        str(PEERS_DIR / "ipycam_peer.py"),
        "--name", name,
        "--onvif-port", str(onvif_port),
        "--rtsp-port", str(rtsp_port),
        "--workdir", str(workdir / "cam"),
        "--fps", str(fps),
        "--source", src,
    ]  # fmt: skip
    if username:
        argv += ["--user", username, "--password", password]
    proc = PeerProcess(name, argv, (onvif_port, rtsp_port), workdir)
    proc.start()
    return IpycamPeer(proc, onvif_port, rtsp_port, username, password)


def start_gst_rtsp(
    *,
    username: str | None = None,
    password: str | None = None,
    fps: int = 10,
    pattern: str = "ball",
    name: str = "gst",
) -> GstRtspPeer:
    """Start GStreamer's RTSP server on a free port; the caller must ``stop()`` it."""
    port = free_port()
    argv = [
        str(SYSTEM_PYTHON),
        str(PEERS_DIR / "gst_rtsp_server.py"),
        "--port", str(port),
        "--fps", str(fps),
        "--pattern", pattern,
        "--file", str(VIDEO_DIR / "car-detection.mp4"),
    ]  # fmt: skip
    if username:
        argv += ["--user", username, "--password", password or ""]
    proc = PeerProcess(name, argv, (port,), _workdir(name))
    proc.start()
    return GstRtspPeer(proc, port, username, password)


#: The window test pattern (RGB colours and normalised rectangles x0, y0, x1, y1).
WINDOW_RGB = (230, 30, 220)  # magenta: the "inside of a window" that must never be shown
WINDOW_RECT = (0.62, 0.18, 0.80, 0.40)
PUBLIC_RGB = (40, 170, 60)  # green: a public area
PUBLIC_RECT = (0.10, 0.55, 0.30, 0.85)
BACKGROUND_RGB = (110, 110, 110)


def make_window_video(path: Path, size: tuple[int, int] = (1280, 720), fps: int = 10,
                      seconds: float = 3.0) -> Path:
    """An H.264 MP4 of a grey street with a magenta window and a green public square.

    A thin moving bar keeps the encoder busy so every frame is really decoded; it never
    crosses the window.
    """
    import av
    import numpy as np

    w, h = size
    base = np.empty((h, w, 3), np.uint8)
    base[:] = BACKGROUND_RGB

    def fill(rect: tuple[float, float, float, float], rgb: tuple[int, int, int]) -> None:
        x0, y0, x1, y1 = rect
        base[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)] = rgb

    fill(WINDOW_RECT, WINDOW_RGB)
    fill(PUBLIC_RECT, PUBLIC_RGB)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(int(seconds * fps)):
            img = base.copy()
            y = int(h * 0.9) - (i * 4) % int(h * 0.3)
            img[y:y + 6, : w // 2] = (200, 200, 40)  # bottom-left only
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def wait_until(predicate: object, timeout: float, interval: float = 0.02) -> float | None:
    """Poll ``predicate()`` until true; seconds it took, or None on timeout."""
    assert callable(predicate)
    t0 = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 >= timeout:
            return None
        time.sleep(interval)
