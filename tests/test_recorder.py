"""The recorder against real RTSP peers: valid encrypted segments, durations, reconnection.

Segments are 2 s in these tests (the GStreamer peer sends a keyframe every 2 s), so that a
few seconds of recording give several segments.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import av
import av.error
import pytest
from peers import GstRtspPeer, IpycamPeer, wait_until

from cameras.config import StreamSettings
from cameras.stream import StreamSource
from footage.index import FootageIndex
from footage.mp4 import file_sha256, open_segment
from footage.recorder import CameraRecorder, Health, RecorderSettings
from registry.store import Store
from registry.store_footage import FootageStore, SegmentRow

FAST = StreamSettings(open_timeout_s=2, read_timeout_s=2, reconnect_min_s=0.2,
                      reconnect_max_s=1.0)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[FootageIndex]:
    store = Store.open(tmp_path)
    yield FootageIndex(tmp_path, FootageStore(store))
    store.close()


def recorder(index: FootageIndex, url: str, camera: str = "cam1",
             segment_s: float = 2.0) -> CameraRecorder:  # fmt: skip
    return CameraRecorder(StreamSource(camera, url), index, stream_settings=FAST,
                          settings=RecorderSettings(segment_s=segment_s))


def decoded_frames(index: FootageIndex, seg: SegmentRow) -> int:
    container = open_segment(index.path_of(seg), seg.key)
    try:
        return sum(1 for _ in container.decode(video=0))
    finally:
        container.close()


def complete(index: FootageIndex) -> list[SegmentRow]:
    return index.store.segments()


@pytest.mark.peers
def test_gstreamer_main_stream_is_recorded_in_valid_encrypted_segments(
    gst_rtsp: GstRtspPeer, index: FootageIndex
) -> None:
    rec = recorder(index, gst_rtsp.main_url)
    t0 = time.monotonic()
    rec.start()
    assert wait_until(lambda: len(complete(index)) >= 3, 15), rec.detail
    rec.stop()
    wall = time.monotonic() - t0
    segs = complete(index)
    assert index.check() == []
    assert all(s.camera == "cam1" for s in segs)
    for seg in segs:
        path = index.path_of(seg)
        # <data>/footage/<camera>/<UTC day>/<HHMMSS>-<id>.mp4
        assert path.parent.name == f"{seg.start_at:%Y-%m-%d}"
        assert path.parent.parent.name == "cam1"
        assert (path.stat().st_size, file_sha256(path)[1]) == (seg.size, seg.sha256)
        # every recorded packet decodes with the key (10 fps peer, 2 s GOP)
        assert decoded_frames(index, seg) == seg.frames > 0
    for seg in segs[:-1]:  # cut at the first keyframe after 2 s: one GOP each
        assert seg.duration_s == pytest.approx(2.0, abs=0.15)
    # contiguous: each segment starts where the previous one ended, so durations add up
    for a, b in itertools.pairwise(segs):
        assert b.start_at == a.end_at
    total = sum(s.duration_s for s in segs)
    assert total == pytest.approx((segs[-1].end_at - segs[0].start_at).total_seconds())
    assert 0.8 * (wall - 2) < total <= wall + 0.5
    health = index.store.health("cam1")
    assert health is not None and health.state == "stopped"
    assert health.last_segment_end == segs[-1].end_at


@pytest.mark.peers
def test_without_the_key_the_footage_does_not_decode(
    gst_rtsp: GstRtspPeer, index: FootageIndex
) -> None:
    rec = recorder(index, gst_rtsp.main_url)
    rec.start()
    assert wait_until(lambda: len(complete(index)) >= 1, 10)
    rec.stop()
    seg = complete(index)[0]
    with_key = open_segment(index.path_of(seg), seg.key)
    clear = [bytes(p) for p in with_key.demux(video=0) if p.size]
    with_key.close()
    without = av.open(str(index.path_of(seg)))
    scrambled = [bytes(p) for p in without.demux(video=0) if p.size]
    without.close()
    assert len(clear) == len(scrambled) == seg.frames
    same = sum(x == y for a, b in zip(clear, scrambled, strict=True) for x, y in zip(a, b,
                                                                               strict=True))
    assert same / sum(len(a) for a in clear) < 0.03  # only NAL lengths and types stay clear
    data = index.path_of(seg).read_bytes()
    assert not any(p[8:40] in data for p in clear if len(p) > 40)


@pytest.mark.peers
def test_ipycam_main_stream_is_recorded(ipycam: IpycamPeer, index: FootageIndex) -> None:
    rec = recorder(index, ipycam.main_url, camera="ipy")
    rec.start()
    assert wait_until(lambda: len(complete(index)) >= 1, 20), rec.detail
    rec.stop()
    segs = complete(index)
    assert index.check() == []
    assert all(decoded_frames(index, s) == s.frames > 0 for s in segs)
    container = open_segment(index.path_of(segs[0]), segs[0].key)
    assert container.streams.video[0].codec_context.width == ipycam.main_size[0]
    container.close()


@pytest.mark.peers
def test_camera_killed_and_restarted_leaves_a_gap_and_recording_resumes(
    gst_rtsp: GstRtspPeer, index: FootageIndex
) -> None:
    rec = recorder(index, gst_rtsp.main_url)
    states: list[str] = []
    rec.start()
    try:
        assert wait_until(lambda: len(complete(index)) >= 1, 10)
        gst_rtsp.kill()  # SIGKILL to the peer's process group (by its PID)
        killed_at = index.clock()
        assert wait_until(lambda: rec.health is not Health.RECORDING, 10)
        states.append(str(rec.health))
        time.sleep(1.5)
        before = len(complete(index))
        gst_rtsp.restart()
        restarted_at = index.clock()
        assert wait_until(lambda: len(complete(index)) >= before + 2, 20), rec.detail
        assert rec.health is Health.RECORDING
    finally:
        rec.stop()
    assert states[0] in ("reconnecting", "failing")
    segs = complete(index)
    assert index.check() == []
    after = [s for s in segs if s.start_at >= restarted_at]
    earlier = [s for s in segs if s.end_at is not None and s.end_at <= killed_at
               + timedelta(seconds=0.5)]
    assert after and earlier
    gap = (after[0].start_at - earlier[-1].end_at).total_seconds()  # type: ignore[operator]
    assert gap >= 1.5  # the time the camera was away is not covered by any segment
    assert all(decoded_frames(index, s) == s.frames for s in after)
