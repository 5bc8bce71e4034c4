"""The stream hub opens a stream only while it is held, and shares it between holders."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from peers import IpycamPeer

from cameras.config import CameraConfig, StreamSettings
from cameras.credentials import CredentialStoreUnavailable
from cameras.hub import StreamHub, camera_source
from cameras.masks import MaskGate
from cameras.stream import StreamReader, StreamSource, StreamStatus
from console.demo import CAMERAS, render_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "piazza-2s.mp4"
    render_clip(CAMERAS[0], path, (320, 180), 10, seconds=2)
    return path


def wait(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_file_source_plays_in_real_time_and_loops(clip: Path) -> None:
    reader = StreamReader(StreamSource("piazza", str(clip), loop=True, realtime=True),
                          gate=MaskGate.fixed("piazza"))
    reader.set_target_size(64, 36)
    started = time.monotonic()
    reader.start()
    try:
        wait(lambda: reader.latest() is not None, timeout=2.0)
        first_frame_s = time.monotonic() - started
        assert first_frame_s < 1.0
        time.sleep(3.0)  # longer than the 2 s clip: it must have looped
        stats = reader.stats()
        frame = reader.latest()
        assert frame is not None and frame.rgb.shape == (36, 64, 3)
        assert frame.source_size == (320, 180)
        assert 8.0 <= stats.fps <= 12.0  # paced at the clip's 10 fps, not as fast as possible
        assert 27 <= stats.frames <= 36  # 3+ s at 10 fps, across the loop
        assert frame.pts_s is not None and frame.pts_s > 2.0  # timestamps go on after the loop
        assert reader.status is StreamStatus.LIVE
    finally:
        reader.stop()
    assert reader.status is StreamStatus.STOPPED


def test_hub_shares_streams_and_closes_the_last(clip: Path) -> None:
    cam = CameraConfig(id="piazza", name="Cam 01", place="Piazza", main_url=str(clip),
                       sub_url=str(clip), loop=True)
    hub = StreamHub([cam], StreamSettings())
    a = hub.acquire("piazza", "sub")
    b = hub.acquire("piazza", "sub")
    assert a.reader is b.reader
    assert set(hub.open_streams()) == {("piazza", "sub")}
    m = hub.acquire("piazza", "main")
    assert m.reader is not a.reader
    hub.release(a)
    assert set(hub.open_streams()) == {("piazza", "sub"), ("piazza", "main")}
    hub.release(b)
    hub.release(b)  # releasing twice is harmless
    assert set(hub.open_streams()) == {("piazza", "main")}
    wait(lambda: not a.reader.running)
    hub.close()
    assert hub.open_streams() == {}
    wait(lambda: m.reader.status is StreamStatus.STOPPED)


def test_missing_credential_store_shows_as_auth_failure(clip: Path) -> None:
    cam = CameraConfig(id="ingresso", name="Cam 09", place="Ingresso", main_url=str(clip),
                       username="operatore")

    def no_keyring(_camera_id: str) -> str | None:
        raise CredentialStoreUnavailable("no keyring backend")

    hub = StreamHub([cam], StreamSettings(), password_for=no_keyring)
    handle = hub.acquire("ingresso", "main")
    try:
        wait(lambda: handle.reader.status is StreamStatus.AUTH_FAILED)
        assert "no keyring backend" in handle.reader.status_detail
    finally:
        hub.close()


def test_a_camera_nobody_registered_a_gate_for_is_blank(clip: Path) -> None:
    """Fail closed: a reader whose camera has no mask gate delivers only black frames."""
    from cameras.masks import GATES, BlankReason

    GATES.unregister("orphan")
    reader = StreamReader(StreamSource("orphan", str(clip), loop=True, realtime=True))
    reader.set_target_size(64, 36)
    reader.start()
    try:
        wait(lambda: reader.latest() is not None, timeout=2.0)
        frame = reader.latest()
        assert frame is not None
        assert frame.blank is BlankReason.NOT_CONFIGURED
        assert not frame.rgb.any()
    finally:
        reader.stop()


def test_the_hub_registers_every_camera_before_any_reader(clip: Path) -> None:
    from cameras.masks import GATES, Blank, MaskPolygon, MaskSet, Show

    fixed = CameraConfig(id="fixed-1", name="Cam 02", place="Via Roma", main_url=str(clip),
                         sub_url=str(clip), loop=True)
    window = MaskSet((MaskPolygon.rectangle(0.0, 0.0, 0.5, 0.5),))
    StreamHub([fixed], StreamSettings(), fixed_masks={"fixed-1": window})
    assert GATES.decision("fixed-1") == Show(window)
    # A hub that does not know the stored masks never takes them away.
    StreamHub([fixed], StreamSettings())
    assert GATES.decision("fixed-1") == Show(window)
    # The stored masks say "none" now (the supervisor removed them): shown whole.
    StreamHub([fixed], StreamSettings(), fixed_masks={})
    assert GATES.decision("fixed-1") == Show()
    assert not isinstance(GATES.decision("fixed-1"), Blank)
    GATES.unregister("fixed-1")


@pytest.mark.peers
def test_live_view_and_recorder_ask_an_onvif_camera_for_the_same_stream(
    ipycam: IpycamPeer,
) -> None:
    """One ``camera_source`` serves both: the recorder's main stream is the live view's."""
    from footage.service import main_source

    cam = CameraConfig(id="dome", name="Dome", place="Piazza", onvif=ipycam.address,
                       username=ipycam.username)

    def lookup(_camera_id: str) -> str | None:
        return ipycam.password

    live = camera_source(cam, "main", StreamSettings(), lookup)
    recorded = main_source(cam, StreamSettings(), lookup)
    assert live.resolver is not None and recorded.resolver is not None
    url = live.resolver()  # asked of the device through the real ONVIF client
    assert url.startswith("rtsp://") and recorded.resolver() == url
    assert (recorded.username, recorded.password) == (ipycam.username, ipycam.password)
    assert recorded.url == "" and not recorded.loop
