"""cameras.stream.StreamReader against the real peers (ipycam and GStreamer's RTSP server).

Every wait is bounded and every test checks what came back: frame sizes, pixel content,
statuses and the time they took. Measured times are printed (``pytest -s``) and recorded in
``_TIMINGS`` for the summary in the report.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from peers import GstRtspPeer, IpycamPeer, free_port, wait_until

from cameras.config import StreamSettings
from cameras.masks import MaskGate
from cameras.stream import StreamReader, StreamSource, StreamStatus

pytestmark = pytest.mark.peers

OPEN_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 2.0
SETTINGS = StreamSettings(
    open_timeout_s=OPEN_TIMEOUT_S,
    read_timeout_s=READ_TIMEOUT_S,
    reconnect_min_s=0.2,
    reconnect_max_s=1.0,
)
#: first frame budget (brief: 2 s), and how long a stop() may take
FIRST_FRAME_S = 2.0
STOP_S = 2.0


@dataclass
class Probe:
    """A reader plus everything it reported through its callbacks."""

    reader: StreamReader
    statuses: list[tuple[float, StreamStatus, str]] = field(default_factory=list)
    frames: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self) -> set[StreamStatus]:
        with self.lock:
            return {s for _, s, _ in self.statuses}

    def status_is(self, *wanted: StreamStatus) -> Callable[[], bool]:
        return lambda: self.reader.status in wanted

    def frame_after(self, seq: int) -> Callable[[], bool]:
        def check() -> bool:
            frame = self.reader.latest()
            return frame is not None and frame.seq > seq

        return check


@pytest.fixture
def probe() -> Iterator[Callable[..., Probe]]:
    """Make readers that record their callbacks; all are stopped after the test."""
    made: list[Probe] = []

    def make(source: StreamSource, settings: StreamSettings = SETTINGS) -> Probe:
        holder: list[Probe] = []

        def on_status(status: StreamStatus, detail: str) -> None:
            p = holder[0]
            with p.lock:
                p.statuses.append((time.monotonic(), status, detail))

        def on_frame() -> None:
            holder[0].frames += 1

        reader = StreamReader(source, settings=settings, on_frame=on_frame, on_status=on_status,
                              gate=MaskGate.fixed(source.camera_id))
        p = Probe(reader)
        holder.append(p)
        made.append(p)
        return p

    yield make
    for p in made:
        p.reader.stop(timeout=STOP_S)


def _timed_stop(reader: StreamReader) -> float:
    t0 = time.monotonic()
    reader.stop()
    return time.monotonic() - t0


def _assert_real_picture(rgb: np.ndarray, width: int, height: int) -> None:
    assert rgb.shape == (height, width, 3)
    assert rgb.dtype == np.uint8
    # not a blank, grey or single-colour frame: real content varies across the picture
    assert float(rgb.std()) > 10.0, f"uniform picture (std {rgb.std():.1f})"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) >= 8


_TIMINGS: dict[str, float] = {}


def _note(name: str, seconds: float) -> None:
    _TIMINGS[name] = seconds
    print(f"\n[timing] {name}: {seconds:.3f} s")


# --------------------------------------------------------------------------------------
# First frame
# --------------------------------------------------------------------------------------


def _first_frame(probe: Callable[..., Probe], url: str, name: str) -> Probe:
    p = probe(StreamSource(camera_id=name, url=url))
    p.reader.set_target_size(320, 180)
    t0 = time.monotonic()
    p.reader.start()
    took = wait_until(lambda: p.reader.latest() is not None, FIRST_FRAME_S + 3)
    assert took is not None, f"no frame in {FIRST_FRAME_S + 3} s: {p.reader.status_detail}"
    _note(f"first frame {name}", took)
    assert took < FIRST_FRAME_S, f"first frame after {took:.2f} s"
    frame = p.reader.latest()
    assert frame is not None
    _assert_real_picture(frame.rgb, 320, 180)
    assert p.reader.status is StreamStatus.LIVE
    assert [s for _, s, _ in p.statuses][:2] == [StreamStatus.CONNECTING, StreamStatus.LIVE]
    assert frame.wallclock >= time.time() - (time.monotonic() - t0) - 0.1
    # frames keep coming, at about the camera's 10 fps (after the start-up burst)
    seq = frame.seq
    assert wait_until(p.frame_after(seq + 25), 5.0) is not None
    stats = p.reader.stats()
    assert (stats.width, stats.height) == (320, 180)
    assert stats.frames >= seq + 25
    assert 6 < stats.fps < 14, stats
    assert stats.kbps > 0
    return p


def test_first_frame_ipycam_sub(probe: Callable[..., Probe], ipycam: IpycamPeer) -> None:
    _first_frame(probe, ipycam.sub_url, "ipycam-sub")


def test_first_frame_gst_sub(probe: Callable[..., Probe], gst_rtsp: GstRtspPeer) -> None:
    _first_frame(probe, gst_rtsp.sub_url, "gst-sub")


def test_target_size_change_applies_to_next_frames(
    probe: Callable[..., Probe], gst_rtsp: GstRtspPeer
) -> None:
    p = _first_frame(probe, gst_rtsp.sub_url, "gst-sub-resize")
    p.reader.set_target_size(200, 100)
    took = wait_until(
        lambda: (f := p.reader.latest()) is not None and f.rgb.shape[:2] == (100, 200), 2.0
    )
    assert took is not None
    frame = p.reader.latest()
    assert frame is not None
    _assert_real_picture(frame.rgb, 200, 100)


def test_main_stream_native_size(probe: Callable[..., Probe], ipycam: IpycamPeer) -> None:
    p = probe(StreamSource(camera_id="ipycam-main", url=ipycam.main_url))
    p.reader.start()  # no target size: the stream's own size
    assert wait_until(lambda: p.reader.latest() is not None, 5.0) is not None
    frame = p.reader.latest()
    assert frame is not None
    _assert_real_picture(frame.rgb, *ipycam.main_size)


# --------------------------------------------------------------------------------------
# Camera lost and back
# --------------------------------------------------------------------------------------


def _kill_and_restart(p: Probe, peer: IpycamPeer | GstRtspPeer, name: str) -> None:
    p.reader.set_target_size(160, 90)
    p.reader.start()
    assert wait_until(p.status_is(StreamStatus.LIVE), 5.0) is not None
    assert wait_until(p.frame_after(3), 3.0) is not None

    t_kill = time.monotonic()
    peer.kill()
    took = wait_until(
        p.status_is(StreamStatus.RECONNECTING, StreamStatus.OFFLINE), READ_TIMEOUT_S + 1
    )
    assert took is not None, f"still {p.reader.status} after the camera died"
    _note(f"{name} killed -> {p.reader.status}", time.monotonic() - t_kill)
    assert StreamStatus.RECONNECTING in p.seen()
    assert StreamStatus.AUTH_FAILED not in p.seen()

    time.sleep(1.0)  # a few failed attempts while the camera is away
    seq = p.reader.latest().seq  # type: ignore[union-attr]
    t_restart = time.monotonic()
    peer.restart()
    peer_up = time.monotonic() - t_restart
    took = wait_until(lambda: p.reader.status is StreamStatus.LIVE and p.frame_after(seq)(), 10.0)
    assert took is not None, f"not live again: {p.reader.status} {p.reader.status_detail}"
    _note(f"{name} restarted (peer up in {peer_up:.2f} s) -> LIVE + new frame", took + peer_up)
    frame = p.reader.latest()
    assert frame is not None and frame.seq > seq
    _assert_real_picture(frame.rgb, 160, 90)
    assert p.reader.stats().reconnects >= 1
    assert _timed_stop(p.reader) < STOP_S
    assert p.reader.status is StreamStatus.STOPPED


def test_ipycam_killed_then_back(probe: Callable[..., Probe], ipycam: IpycamPeer) -> None:
    _kill_and_restart(probe(StreamSource(camera_id="ipy", url=ipycam.sub_url)), ipycam, "ipycam")


def test_gst_killed_then_back(probe: Callable[..., Probe], gst_rtsp: GstRtspPeer) -> None:
    _kill_and_restart(probe(StreamSource(camera_id="gst", url=gst_rtsp.sub_url)), gst_rtsp, "gst")


# --------------------------------------------------------------------------------------
# Authentication (GStreamer with --user/--password; ipycam's RTSP has no auth)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["wrong", None])
def test_rtsp_wrong_password_is_auth_failed(
    probe: Callable[..., Probe], gst_rtsp_auth: GstRtspPeer, password: str | None
) -> None:
    user = gst_rtsp_auth.username if password else None
    src = StreamSource(
        camera_id="gst-auth", url=gst_rtsp_auth.sub_url, username=user, password=password
    )
    p = probe(src)
    p.reader.start()
    took = wait_until(p.status_is(StreamStatus.AUTH_FAILED), OPEN_TIMEOUT_S + 1)
    assert took is not None, f"{p.reader.status}: {p.reader.status_detail}"
    _note(f"auth failed (password={password!r})", took)
    time.sleep(0.5)
    assert p.reader.status is StreamStatus.AUTH_FAILED
    assert StreamStatus.OFFLINE not in p.seen()
    assert StreamStatus.RECONNECTING not in p.seen()
    assert p.reader.latest() is None
    assert "wrong" not in p.reader.status_detail
    assert _timed_stop(p.reader) < STOP_S


def test_rtsp_right_password_is_live(
    probe: Callable[..., Probe], gst_rtsp_auth: GstRtspPeer
) -> None:
    src = StreamSource(
        camera_id="gst-auth",
        url=gst_rtsp_auth.sub_url,
        username=gst_rtsp_auth.username,
        password=gst_rtsp_auth.password,
    )
    p = probe(src)
    p.reader.set_target_size(320, 180)
    p.reader.start()
    took = wait_until(lambda: p.reader.latest() is not None, FIRST_FRAME_S + 3)
    assert took is not None, f"{p.reader.status}: {p.reader.status_detail}"
    _note("first frame gst with auth", took)
    assert p.reader.status is StreamStatus.LIVE
    frame = p.reader.latest()
    assert frame is not None
    _assert_real_picture(frame.rgb, 320, 180)
    assert StreamStatus.AUTH_FAILED not in p.seen()


def test_password_never_in_status_or_repr(
    probe: Callable[..., Probe], gst_rtsp_auth: GstRtspPeer
) -> None:
    src = StreamSource(
        camera_id="gst-auth", url=gst_rtsp_auth.sub_url, username="viewer", password="Zq9-secret"
    )
    p = probe(src)
    p.reader.start()
    assert wait_until(p.status_is(StreamStatus.AUTH_FAILED), OPEN_TIMEOUT_S + 1) is not None
    assert "Zq9-secret" not in repr(src)
    assert all("Zq9-secret" not in d for _, _, d in p.statuses)


# --------------------------------------------------------------------------------------
# Nothing hangs: frozen camera, unreachable and silent ports
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["ipycam", "gst"])
def test_frozen_camera_leaves_live_and_stop_is_prompt(
    probe: Callable[..., Probe], request: pytest.FixtureRequest, which: str
) -> None:
    peer: IpycamPeer | GstRtspPeer = request.getfixturevalue(
        "ipycam" if which == "ipycam" else "gst_rtsp"
    )
    p = probe(StreamSource(camera_id=which, url=peer.sub_url))
    p.reader.set_target_size(160, 90)
    p.reader.start()
    assert wait_until(p.status_is(StreamStatus.LIVE), 5.0) is not None
    assert wait_until(p.frame_after(3), 3.0) is not None

    peer.freeze()
    # wait longer than required, to report how long it really took
    took = wait_until(lambda: p.reader.status is not StreamStatus.LIVE, 3 * READ_TIMEOUT_S + 1)
    assert took is not None, f"still LIVE {3 * READ_TIMEOUT_S + 1} s after the camera froze"
    _note(f"{which} frozen -> {p.reader.status}", took)
    assert p.reader.status in (StreamStatus.RECONNECTING, StreamStatus.OFFLINE)
    # the reader is now retrying against a camera that accepts TCP but never answers
    time.sleep(0.5)
    stop_took = _timed_stop(p.reader)
    _note(f"{which} frozen: stop() while reconnecting", stop_took)
    assert p.reader.status is StreamStatus.STOPPED
    problems = []
    if took > READ_TIMEOUT_S + 1:
        problems.append(f"left LIVE {took:.2f} s after the freeze (read timeout {READ_TIMEOUT_S})")
    if stop_took >= STOP_S:
        problems.append(f"stop() took {stop_took:.2f} s")
    assert not problems, "; ".join(problems)


def _silent_listener() -> socket.socket:
    """A port that accepts connections and never says a word (a hung RTSP server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def test_refused_port_leaves_connecting_and_stop_is_prompt(
    probe: Callable[..., Probe],
) -> None:
    p = probe(StreamSource(camera_id="nobody", url=f"rtsp://127.0.0.1:{free_port()}/sub"))
    p.reader.start()
    took = wait_until(p.status_is(StreamStatus.RECONNECTING, StreamStatus.OFFLINE), OPEN_TIMEOUT_S)
    assert took is not None, f"still {p.reader.status}"
    _note("refused port -> leaves CONNECTING", took)
    assert p.reader.status_detail
    # keeps retrying and, after a few failures, calls the camera offline
    assert wait_until(p.status_is(StreamStatus.OFFLINE), 5.0) is not None
    assert StreamStatus.AUTH_FAILED not in p.seen() and StreamStatus.LIVE not in p.seen()
    assert _timed_stop(p.reader) < STOP_S


def test_silent_port_leaves_connecting_and_stop_is_prompt(
    probe: Callable[..., Probe],
) -> None:
    with _silent_listener() as server:
        port = server.getsockname()[1]
        p = probe(StreamSource(camera_id="silent", url=f"rtsp://127.0.0.1:{port}/sub"))
        p.reader.start()
        took = wait_until(
            p.status_is(StreamStatus.RECONNECTING, StreamStatus.OFFLINE), OPEN_TIMEOUT_S + 1
        )
        assert took is not None, f"still {p.reader.status} after the open timeout"
        _note("silent port -> leaves CONNECTING", took)
        assert took > OPEN_TIMEOUT_S - 0.5  # it did wait for the open timeout
        time.sleep(0.3)  # now blocked in the next av.open
        stop_took = _timed_stop(p.reader)
        _note("silent port: stop() during open", stop_took)
        assert stop_took < STOP_S


# --------------------------------------------------------------------------------------
# ONVIF-resolved sources (the hub's path): device errors reach the reader's status
# --------------------------------------------------------------------------------------


def _onvif_source(peer: IpycamPeer, password: str) -> StreamSource:
    from cameras.device import resolve_stream_uris

    def resolve() -> str:
        uris = resolve_stream_uris("ipy-onvif", peer.onvif_url, peer.username, password, 3.0)
        return uris.sub or uris.main

    return StreamSource(camera_id="ipy-onvif", resolver=resolve)


def test_onvif_resolved_stream_is_live(probe: Callable[..., Probe], ipycam: IpycamPeer) -> None:
    p = probe(_onvif_source(ipycam, ipycam.password))
    p.reader.set_target_size(320, 180)
    p.reader.start()
    took = wait_until(lambda: p.reader.latest() is not None, FIRST_FRAME_S + 3)
    assert took is not None, f"{p.reader.status}: {p.reader.status_detail}"
    _note("first frame ipycam via ONVIF GetStreamUri", took)
    frame = p.reader.latest()
    assert frame is not None
    _assert_real_picture(frame.rgb, 320, 180)


def test_onvif_wrong_password_is_auth_failed(
    probe: Callable[..., Probe], ipycam: IpycamPeer
) -> None:
    p = probe(_onvif_source(ipycam, "wrong"))
    p.reader.start()
    assert wait_until(p.status_is(StreamStatus.AUTH_FAILED), 3.0) is not None, p.statuses
    assert StreamStatus.OFFLINE not in p.seen() and StreamStatus.RECONNECTING not in p.seen()
    assert _timed_stop(p.reader) < STOP_S
