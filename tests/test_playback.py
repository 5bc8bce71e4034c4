"""Playback of real recorded footage: seeking, stepping, speed, masks and the register gate.

The footage is recorded once per module from the GStreamer peer (1280x720, 10 fps, a
keyframe every 2 s) by the real recorder, with 2 s segments: three segments, a gap of a few
seconds (the recorder stopped), two more. Each test works on its own copy of the data
directory (files and database), with real people signed in through the accounts service and
real register entries signed with their passwords.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from console_support import FAST_POLICY, add_people, password_of
from peers import GstRtspPeer, wait_until

from cameras.config import CameraConfig, CameraKind, StreamSettings
from cameras.masks import BlankReason, MaskSet, blank_reason, mask_pixels
from cameras.stream import StreamSource
from footage.index import FootageIndex
from footage.mp4 import open_segment
from footage.playback import (
    PLAYBACK,
    PLAYBACK_END,
    PLAYBACK_REFUSED,
    Playback,
    PlaybackReader,
    PlaybackRefused,
)
from footage.recorder import CameraRecorder, RecorderSettings
from registry.accounts import Accounts
from registry.audit import AuditTrail
from registry.clock import utc_now
from registry.register import AccessKind, AccessRegister, AccessRequest, RegisterEntry
from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED, Session
from registry.store import Store
from registry.store_footage import FootageStore, SegmentRow
from registry.store_ptz import PtzStore

CAM = "cam1"
FAST = StreamSettings(open_timeout_s=2, read_timeout_s=2, reconnect_min_s=0.2,
                      reconnect_max_s=1.0)
FRAME = 0.1  # the peer's frame interval
MASK = MaskSet.from_json([[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]])
SIZE = (320, 180)


def record(data_dir: Path, url: str, runs: tuple[int, ...] = (3, 2), pause_s: float = 3.0,
           camera: str = CAM) -> list[SegmentRow]:  # fmt: skip
    """Record *runs* segments at a time with the real recorder, pausing between runs."""
    store = Store.open(data_dir)
    try:
        index = FootageIndex(data_dir, FootageStore(store))
        for i, count in enumerate(runs):
            if i:
                time.sleep(pause_s)
            before = len(index.store.segments())
            rec = CameraRecorder(StreamSource(camera, url), index, stream_settings=FAST,
                                 settings=RecorderSettings(segment_s=2.0))
            rec.start()
            assert wait_until(lambda n=before + count: len(index.store.segments()) >= n, 30)
            rec.stop()
        return index.store.segments()
    finally:
        store.close()


@pytest.fixture(scope="module")
def recorded(gst_rtsp: GstRtspPeer, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, list[SegmentRow]]:  # fmt: skip
    src = tmp_path_factory.mktemp("footage") / "data"
    src.mkdir()
    return src, record(src, gst_rtsp.main_url)


def camera(kind: CameraKind = CameraKind.FIXED, cam_id: str = CAM) -> CameraConfig:
    return CameraConfig(id=cam_id, name="Piazza Duomo", place="Piazza Duomo", kind=kind,
                        main_url="rtsp://127.0.0.1:9/none", onvif=None)


@dataclass
class World:
    data_dir: Path
    store: Store
    audit: AuditTrail
    accounts: Accounts
    register: AccessRegister
    footage: FootageStore
    ptz: PtzStore
    playback: Playback
    segs: list[SegmentRow]
    sessions: dict[str, Session]

    def sign(self, who: str, cameras: tuple[str, ...] = (CAM,),
             kind: AccessKind = AccessKind.PLAYBACK) -> RegisterEntry:  # fmt: skip
        start = self.segs[0].start_at - timedelta(minutes=1)
        request = AccessRequest(kind=kind, purpose="road_accident", cameras=list(cameras),
                                span_from=start, span_to=utc_now())
        return self.register.open_entry(self.sessions[who], request, password_of(who))

    def open(self, who: str, entry: RegisterEntry, at: datetime,
             camera_id: str = CAM) -> PlaybackReader:  # fmt: skip
        reader = self.playback.open(self.sessions[who], entry.id, camera_id, at)
        reader.set_target_size(*SIZE)
        assert reader.wait_idle(), reader.state()
        return reader

    def actions(self, action: str) -> list[dict[str, str]]:
        return [dict(e.details) for e in self.audit.entries() if e.action == action]

    @property
    def t0(self) -> datetime:
        return self.segs[0].start_at


def make_world(recorded: tuple[Path, list[SegmentRow]], tmp_path: Path,
               kind: CameraKind = CameraKind.FIXED) -> World:  # fmt: skip
    src, segs = recorded
    data_dir = tmp_path / "data"
    shutil.copytree(src, data_dir)
    store = Store.open(data_dir)
    audit = AuditTrail(store, b"k" * 32, utc_now)
    accounts = Accounts(store, audit, FAST_POLICY, clock=utc_now)
    add_people(accounts)
    sessions: dict[str, Session] = {}
    for who in ("lverdi", "gneri", "mrossi"):
        result = accounts.sign_in(who, password_of(who))
        assert result.session is not None, result.message
        sessions[who] = result.session
    register = AccessRegister(store, audit, accounts.verify_signature, utc_now)
    footage, ptz = FootageStore(store), PtzStore(store)
    playback = Playback(data_dir, footage, ptz, register, audit, [camera(kind)])
    return World(data_dir, store, audit, accounts, register, footage, ptz, playback, segs,
                 sessions)


@pytest.fixture
def world(recorded: tuple[Path, list[SegmentRow]], tmp_path: Path) -> Iterator[World]:
    w = make_world(recorded, tmp_path)
    yield w
    w.store.close()


def at(w: World, seconds: float) -> datetime:
    return w.t0 + timedelta(seconds=seconds)


def offset(w: World, reader: PlaybackReader) -> float:
    pos = reader.state().position
    assert pos is not None
    return (pos - w.t0).total_seconds()


def reference(w: World, seconds: float) -> np.ndarray:
    """The frame at *seconds*, decoded straight from its segment with PyAV, unmasked."""
    when = at(w, seconds)
    seg = next(s for s in w.segs if s.start_at <= when < s.end_at)  # type: ignore[operator]
    container = open_segment(w.data_dir / seg.path, seg.key)
    try:
        floor = (when - seg.start_at).total_seconds() - FRAME / 2
        frame = next(f for f in container.decode(video=0) if f.time >= floor)
        rgb: np.ndarray = frame.to_ndarray(width=SIZE[0], height=SIZE[1], format="rgb24",
                                           interpolation="AREA")
        return rgb
    finally:
        container.close()


def gap(w: World) -> tuple[datetime, datetime]:
    """The stretch between the two recording runs."""
    for a, b in zip(w.segs, w.segs[1:], strict=False):
        assert a.end_at is not None
        if (b.start_at - a.end_at).total_seconds() > 1:
            return a.end_at, b.start_at
    raise AssertionError("no gap recorded")


# -- reading -------------------------------------------------------------------------------


@pytest.mark.peers
def test_frames_come_in_order_across_segments_and_the_gap_is_skipped(world: World) -> None:
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 0))
    seen: list[float] = [offset(world, reader)]
    for _i in range(70):
        reader.step()
        assert reader.wait_idle()
        seen.append(offset(world, reader))
    reader.close()
    gap_start, gap_end = gap(world)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # in order, no repeats
    steps = np.diff(seen)
    jump = (gap_end - gap_start).total_seconds()
    assert max(steps) == pytest.approx(jump + FRAME, abs=0.05)  # the gap, skipped at once
    assert all(s == pytest.approx(FRAME, abs=0.02) for s in steps if s < 1)  # elsewhere
    first_seg_end = (world.segs[0].end_at - world.t0).total_seconds()  # type: ignore[operator]
    assert any(abs(s - first_seg_end) < 1e-6 for s in seen)  # crossed a segment boundary


@pytest.mark.peers
def test_seek_lands_within_one_frame_of_the_target(world: World) -> None:
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 0.55))
    assert abs(offset(world, reader) - 0.55) <= FRAME
    last = (world.segs[-1].end_at - world.t0).total_seconds()  # type: ignore[operator]
    gap_start, _gap_end = gap(world)
    first_run = (gap_start - world.t0).total_seconds()
    for target in (5.93, 1.0, 3.99, 2.0, first_run - 0.3, last - 0.25, 0.0):
        reader.seek(at(world, target))
        assert reader.wait_idle()
        assert abs(offset(world, reader) - target) <= FRAME, target
        assert reader.state().notice == ""
    # relative seeks, like the ← → keys
    reader.seek(at(world, 1.0))
    reader.seek_by(+2.0)
    assert reader.wait_idle()
    assert abs(offset(world, reader) - 3.0) <= FRAME
    reader.seek_by(-2.5)
    assert reader.wait_idle()
    assert abs(offset(world, reader) - 0.5) <= FRAME
    reader.close()


@pytest.mark.peers
def test_seeking_into_the_gap_goes_to_the_next_recorded_instant_and_says_so(
    world: World,
) -> None:
    gap_start, gap_end = gap(world)
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 1))
    reader.seek(gap_start + (gap_end - gap_start) / 2)
    assert reader.wait_idle()
    state = reader.state()
    assert state.position is not None
    assert abs((state.position - gap_end).total_seconds()) <= FRAME
    assert "No recording at" in state.notice and "next recorded moment" in state.notice
    # before the first recording: to the first frame; after the last: stays, says so
    reader.seek(world.t0 - timedelta(minutes=5))
    assert reader.wait_idle()
    assert abs(offset(world, reader)) <= FRAME
    reader.seek(world.segs[-1].end_at + timedelta(minutes=1))  # type: ignore[operator]
    assert reader.wait_idle()
    assert abs(offset(world, reader)) <= FRAME
    assert "No recording at or after" in reader.state().notice
    reader.close()


@pytest.mark.peers
def test_step_back_and_forth(world: World) -> None:
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 3.0))
    start = offset(world, reader)
    reader.step()
    reader.step()
    assert reader.wait_idle()
    assert offset(world, reader) == pytest.approx(start + 2 * FRAME, abs=0.01)
    reader.step(-1)
    assert reader.wait_idle()
    assert offset(world, reader) == pytest.approx(start + FRAME, abs=0.01)
    assert not reader.state().playing
    reader.close()


@pytest.mark.peers
def test_speed_changes_how_fast_wall_time_goes_by(world: World) -> None:
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 0))
    rates = {}
    for speed in (4.0, 1.0):
        reader.seek(at(world, 0.5))
        reader.set_speed(speed)
        assert reader.wait_idle()
        before, t = offset(world, reader), time.monotonic()
        reader.play()
        time.sleep(1.0)
        reader.pause()
        assert reader.wait_idle()
        rates[speed] = (offset(world, reader) - before) / (time.monotonic() - t)
    assert rates[1.0] == pytest.approx(1.0, abs=0.25)
    assert rates[4.0] == pytest.approx(4.0, abs=0.8)
    with pytest.raises(Exception, match="speed"):
        reader.set_speed(3.0)
    reader.faster()
    assert reader.state().speed == 2.0
    for _i in range(8):
        reader.slower()
    assert reader.state().speed == 0.25
    reader.close()


@pytest.mark.peers
def test_playing_to_the_end_stops_and_says_so(world: World) -> None:
    entry = world.sign("lverdi")
    last = world.segs[-1]
    reader = world.open("lverdi", entry, last.start_at)
    reader.set_speed(8.0)
    reader.play()
    assert reader.wait_idle(15)
    state = reader.state()
    assert not state.playing and state.notice == "End of the recording."
    assert state.position is not None and state.position >= last.end_at - timedelta(  # type: ignore[operator]
        seconds=2 * FRAME)
    reader.close()


# -- masks ---------------------------------------------------------------------------------


@pytest.mark.peers
def test_a_fixed_camera_is_played_with_its_stored_masks(world: World) -> None:
    world.ptz.set_fixed_masks(CAM, MASK.dumps(), "gneri", utc_now())
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 1.0))
    frame = reader.latest()
    assert frame is not None and frame.rgb.shape == (SIZE[1], SIZE[0], 3)
    hidden = mask_pixels(MASK, *SIZE)
    clear = reference(world, 1.0)
    assert clear[hidden].any()  # the peer's clock is up there: something to hide
    assert not frame.rgb[hidden].any()  # every masked pixel is black
    assert np.array_equal(frame.rgb[~hidden], clear[~hidden])  # the rest is the picture
    state = reader.state()
    assert state.blank is None and state.masks == 1
    reader.close()


@pytest.mark.peers
def test_a_ptz_camera_is_blank_wherever_its_mask_state_was_not_at_preset(
    recorded: tuple[Path, list[SegmentRow]], tmp_path: Path
) -> None:
    from footage.playback_timeline import MaskTimeline

    w = make_world(recorded, tmp_path, kind=CameraKind.PTZ)
    try:
        # nothing recorded before 1 s; at preset (with a mask) 1-3 s; moving from 3 s
        w.ptz.add_mask_state(CAM, at(w, 1.0), "at_preset", None, True, MASK.dumps())
        w.ptz.add_mask_state(CAM, at(w, 3.0), "moving", None, False, "[]")
        entry = w.sign("lverdi")
        reader = w.open("lverdi", entry, at(w, 0.5))
        hidden = mask_pixels(MASK, *SIZE)

        def frame_at(seconds: float) -> np.ndarray:
            reader.seek(at(w, seconds))
            assert reader.wait_idle()
            frame = reader.latest()
            assert frame is not None
            return frame.rgb

        assert not frame_at(0.5).any() and reader.state().blank is BlankReason.UNKNOWN
        shown = frame_at(2.0)
        assert reader.state().blank is None and reader.state().masks == 1
        clear = reference(w, 2.0)
        assert clear.any() and clear[hidden].any()
        assert not shown[hidden].any()
        assert np.array_equal(shown[~hidden], clear[~hidden])
        assert not frame_at(3.5).any() and reader.state().blank is BlankReason.MOVING
        assert not frame_at(8.0).any()  # still moving: no later state
        reader.close()
        # an unconfigured camera is blank too
        lone = MaskTimeline(None, "gone", w.ptz)
        assert blank_reason(lone.decision_at(at(w, 2.0))) is BlankReason.NOT_CONFIGURED
    finally:
        w.store.close()


# -- the register gate ---------------------------------------------------------------------


@pytest.mark.peers
def test_refused_without_a_register_entry(world: World) -> None:
    with pytest.raises(PlaybackRefused, match="no register entry 999"):
        world.playback.open(world.sessions["lverdi"], 999, CAM, at(world, 1))
    refused = world.actions(PLAYBACK_REFUSED)
    assert refused and refused[-1]["reason"] == "no_entry"
    assert world.actions(PLAYBACK) == []


@pytest.mark.peers
def test_refused_with_another_persons_entry_or_another_session(world: World) -> None:
    entry = world.sign("lverdi")
    # the supervisor may read every entry, but may not play under someone else's
    with pytest.raises(PlaybackRefused, match="not signed in this session"):
        world.playback.open(world.sessions["gneri"], entry.id, CAM, at(world, 1))
    # the same person signed in again (another session) signs a new entry
    again = world.accounts.sign_in("lverdi", password_of("lverdi")).session
    assert again is not None and again.id != world.sessions["lverdi"].id
    with pytest.raises(PlaybackRefused, match="not signed in this session"):
        world.playback.open(again, entry.id, CAM, at(world, 1))
    assert [r["reason"] for r in world.actions(PLAYBACK_REFUSED)] == ["not_this_session"] * 2


@pytest.mark.peers
def test_refused_for_a_camera_the_entry_does_not_name(world: World) -> None:
    entry = world.sign("lverdi", cameras=("via-roma",))
    with pytest.raises(PlaybackRefused, match="does not name camera cam1"):
        world.playback.open(world.sessions["lverdi"], entry.id, CAM, at(world, 1))
    assert world.actions(PLAYBACK_REFUSED)[-1]["reason"] == "camera_not_covered"


@pytest.mark.peers
def test_refused_without_the_playback_permission(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.playback.open(world.sessions["mrossi"], 1, CAM, at(world, 1))
    assert world.actions(PERMISSION_REFUSED)[-1]["permission"] == "playback"


@pytest.mark.peers
def test_the_span_viewed_is_recorded_and_widened_and_playback_audited(world: World) -> None:
    entry = world.sign("lverdi")
    reader = world.open("lverdi", entry, at(world, 2.0))
    reader.seek(at(world, 4.0))
    assert reader.wait_idle()
    span = reader.close()
    assert span is not None
    got = world.register.entry(world.sessions["lverdi"], entry.id)
    assert (got.viewed_from, got.viewed_to) == span
    assert got.all_cameras == (CAM,)
    assert abs((span[0] - at(world, 2.0)).total_seconds()) <= FRAME
    assert abs((span[1] - at(world, 4.0)).total_seconds()) <= FRAME
    # a second look, earlier, under the same entry widens the span
    reader = world.open("lverdi", entry, at(world, 0.5))
    reader.close()
    got = world.register.entry(world.sessions["lverdi"], entry.id)
    assert got.viewed_from is not None and got.viewed_from < span[0]
    assert got.viewed_to == span[1]
    opened = world.actions(PLAYBACK)
    ended = world.actions(PLAYBACK_END)
    assert [o["register_entry"] for o in opened] == [str(entry.id)] * 2
    assert len(ended) == 2 and ended[0]["viewed_to"] == span[1].isoformat()


@pytest.mark.peers
def test_a_visit_entry_also_opens_playback(world: World) -> None:
    from registry.register import ThirdParty

    request = AccessRequest(
        kind=AccessKind.VISIT, purpose="road_accident", cameras=[CAM],
        span_from=world.t0 - timedelta(minutes=1), span_to=utc_now(),
        third_party=ThirdParty("Giovanni Esposito", "C.I. CA12345AB", "prot. 1/2026",
                               "Responsabile"),
        confidentiality_declared=True)  # fmt: skip
    entry = world.register.open_entry(world.sessions["lverdi"], request,
                                      password_of("lverdi"))
    reader = world.open("lverdi", entry, at(world, 1))
    assert reader.latest() is not None
    reader.close()


@pytest.mark.peers
def test_timeline_of_a_day_has_the_recorded_spans_the_gap_and_holds(world: World) -> None:
    from footage.holds import Holds

    gap_start, gap_end = gap(world)
    holds = Holds(world.footage, world.audit)
    holds.create(world.sessions["gneri"], ground="investigation", authority="Procura",
                 reference="RG 1/2026", cameras=[CAM], span_start=at(world, 1),
                 span_end=at(world, 2), expires_at=utc_now() + timedelta(days=30))
    day_start = world.t0.replace(hour=0, minute=0, second=0, microsecond=0)
    tl = world.playback.timeline(CAM, day_start, day_start + timedelta(days=1))
    assert [(s.start, s.end) for s in tl.recorded] == [
        (world.t0, gap_start), (gap_end, world.segs[-1].end_at)]
    assert any(g.start == gap_start and g.end == gap_end for g in tl.gaps)
    assert tl.gaps[0].start == day_start  # before the first recording
    assert [(h.start, h.end, h.active) for h in tl.holds] == [(at(world, 1), at(world, 2),
                                                                True)]
    assert tl.held_at(at(world, 1.5)) and not tl.held_at(at(world, 2.5))
