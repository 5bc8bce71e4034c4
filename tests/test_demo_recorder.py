"""The demo recorder: demo clips recorded in real time through the recorder's own path.

A short demo clip (4 s, keyframe every 2 s) is drawn by console.demo into tmp_path and
recorded with 2 s segments for about 7 s: long enough to cross the loop point twice. The
segments must be in the index, contiguous, in real time (not the whole clip in a blink),
decodable from their encrypted files, and a stop must close the last one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import wait_until

from cameras.config import CameraConfig
from console import demo
from console.config import CentraleConfig, SiteConfig
from console.demo import CAMERAS, render_clip, start_demo_recorder
from console.demo_record import DemoRecorder
from footage.index import FootageIndex, RecorderLock
from footage.mp4 import open_segment
from footage.recorder import Health
from registry.audit import AuditTrail
from registry.store import Store
from registry.store_footage import COMPLETE, WRITING, FootageStore, SegmentRow

FPS = 25


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as s:
        yield s


def _clip_camera(tmp_path: Path, *, seconds: int = 4) -> CameraConfig:
    cam = CAMERAS[1]  # via-roma: cars moving
    path = tmp_path / "clips" / f"{cam.id}-main.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    render_clip(cam, path, (320, 180), FPS, seconds=seconds)
    return CameraConfig(id=cam.id, name=cam.name, place=cam.place, main_url=str(path),
                        loop=True, record=True)


def _config(cameras: list[CameraConfig]) -> CentraleConfig:
    return CentraleConfig(site=SiteConfig(comune="Valdemo", control_room="Centrale"),
                          cameras=cameras)


def _decoded(data_dir: Path, seg: SegmentRow) -> list[float]:
    """Presentation times (s) of every frame decoded from the encrypted segment file."""
    container = open_segment(data_dir / seg.path, seg.key)
    try:
        return [float(f.time) for f in container.decode(video=0) if f.time is not None]
    finally:
        container.close()


def test_demo_clips_are_recorded_in_real_time_into_contiguous_decodable_segments(
    tmp_path: Path, store: Store
) -> None:
    data_dir = tmp_path / "data"
    audit = AuditTrail(store, b"k" * 32)
    footage = FootageStore(store)
    cam = _clip_camera(tmp_path)
    started = time.monotonic()
    recorder = start_demo_recorder(data_dir, _config([cam]), store, audit, segment_s=2.0)
    try:
        assert list(recorder.recorders) == [cam.id]
        assert wait_until(lambda: len(footage.segments(camera=cam.id)) >= 3, timeout=30)
        elapsed = time.monotonic() - started
        health = footage.health(cam.id)
        assert health is not None and health.state == str(Health.RECORDING)
    finally:
        recorder.stop()
    segments = footage.segments(camera=cam.id)
    assert len(segments) >= 3
    assert footage.segments(states=(WRITING,)) == []  # the stop closed the last one
    recorded = sum(s.duration_s for s in segments[:3])
    # real time: three 2 s segments take about 6 s to record, not a few milliseconds
    assert 5.5 <= recorded <= 6.5, recorded
    assert elapsed >= recorded - 0.5, (elapsed, recorded)
    for before, after in itertools.pairwise(segments):
        gap = abs((after.start_at - before.end_at).total_seconds())  # type: ignore[operator]
        assert gap < 0.05, (before, after)  # the loop point is not a gap
    for seg in segments[:3]:
        times = _decoded(data_dir, seg)
        assert len(times) == seg.frames and seg.frames >= 2 * FPS - 1
        assert times == sorted(times)  # timestamps keep rising across the loop point
        assert times[-1] - times[0] == pytest.approx(seg.duration_s - 1 / FPS, abs=0.05)
    index = FootageIndex(data_dir, footage)
    assert index.check() == []  # a file for every row, hashes match
    lock = RecorderLock(data_dir)  # released by the stop: `centrale recorder` may start
    assert lock.acquire()
    lock.release()


def test_the_demo_records_nothing_while_another_recorder_holds_the_data_directory(
    tmp_path: Path, store: Store
) -> None:
    data_dir = tmp_path / "data"
    audit = AuditTrail(store, b"k" * 32)
    cam = _clip_camera(tmp_path, seconds=2)
    with RecorderLock(data_dir):  # `centrale recorder` already runs here
        recorder = DemoRecorder(data_dir, [cam], audit, segment_s=1.0)
        assert recorder.start() is False
        assert recorder.recorders == {}
        recorder.stop()
    assert FootageStore(store).segments(states=(WRITING, COMPLETE)) == []


def test_demo_cameras_are_configured_for_recording_and_only_clips_are_taken(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _clip_camera(tmp_path, seconds=2)
    rtsp = CameraConfig(id="strada", name="Strada", place="Via", main_url="rtsp://127.0.0.1:1/x",
                        record=True)
    off = clip.model_copy(update={"id": "spenta", "record": False})
    recorder = DemoRecorder(tmp_path / "data", [clip, rtsp, off], AuditTrail(store, b"k" * 32))
    assert [c.id for c in recorder.cameras] == [clip.id]
    # the demo's own cameras (their clips not drawn here: that is test_console_ui's job)
    paths = {c.id: (tmp_path / f"{c.id}-main.mp4", tmp_path / f"{c.id}-sub.mp4") for c in CAMERAS}
    monkeypatch.setattr(demo, "ensure_clips", lambda directory, progress=None: paths)
    cameras = demo.demo_cameras(tmp_path)
    assert [c.id for c in DemoRecorder(tmp_path / "data", cameras, recorder.audit).cameras] == [
        c.id for c in CAMERAS]
