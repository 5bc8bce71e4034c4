"""Crash safety of the index (docs/design/recording.md, "Invariants"), and a full disk.

- A real recorder process is killed with SIGKILL at several moments; the next start
  reconciles and the invariants hold, losing at most the fragment being written.
- Failures injected between the steps of creating and deleting a segment (fakes only for the
  failure; real files, real SQLite, real encrypted segments).
- A footage folder on a tmpfs of a few hundred KB fills up: the recorder stops, deletes
  nothing, and resumes by itself when the filesystem is enlarged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from peers import REPO, VIDEO_DIR, GstRtspPeer, wait_until

from cameras.config import StreamSettings
from cameras.stream import StreamSource
from footage.index import FootageIndex
from footage.mp4 import complete_prefix, open_segment, probe
from footage.recorder import CameraRecorder, Health, RecorderSettings, _Segment, record_file
from registry.audit import AuditTrail
from registry.store import Store
from registry.store_footage import ZERO_KEY, FootageStore

CLIP = VIDEO_DIR / "car-detection.mp4"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def reopen(tmp_path: Path) -> tuple[Store, FootageIndex, AuditTrail]:
    """What the next start sees: a fresh connection to the same files."""
    s = Store.open(tmp_path)
    return s, FootageIndex(tmp_path, FootageStore(s)), AuditTrail(s, b"k" * 32)


# ------------------------------------------------------------------ kill -9 of a real recorder

RECORDER_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cameras.config import StreamSettings
    from cameras.stream import StreamSource
    from footage.index import FootageIndex
    from footage.recorder import CameraRecorder, Health, RecorderSettings
    from registry.store import Store
    from registry.store_footage import FootageStore
    data, url = Path(sys.argv[1]), sys.argv[2]
    index = FootageIndex(data, FootageStore(Store.open(data)))
    rec = CameraRecorder(StreamSource("cam1", url), index,
                         settings=RecorderSettings(segment_s=6.0),
                         stream_settings=StreamSettings(open_timeout_s=2, read_timeout_s=2))
    rec.start()
    while rec.health is not Health.RECORDING:
        time.sleep(0.01)
    print("RECORDING", flush=True)
    time.sleep(60)
""")


@pytest.mark.peers
@pytest.mark.parametrize("after_s", [0.3, 3.1, 5.3])
def test_kill_9_at_any_moment_loses_at_most_the_fragment_being_written(
    gst_rtsp: GstRtspPeer, tmp_path: Path, after_s: float
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORDER_SCRIPT, str(tmp_path), gst_rtsp.main_url],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "RECORDING"
        time.sleep(after_s)
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = datetime.now(UTC)
        proc.wait(5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    store, index, audit = reopen(tmp_path)
    try:
        left = index.store.unfinished()
        assert [s.state for s in left] == ["writing"]  # the segment being written
        report = index.reconcile(audit)
        assert index.check() == []
        assert index.store.unfinished() == []
        segs = index.store.segments()
        for seg in segs:
            container = open_segment(index.path_of(seg), seg.key)
            assert sum(1 for _ in container.decode(video=0)) == seg.frames
            container.close()
        # 6 s segments of 2 s fragments (the peer's GOP): killed in the first fragment,
        # nothing is kept; later, the fragments closed before the kill survive.
        if after_s < 2.0:
            assert segs == [] and report.unsalvageable == 1
        else:
            assert report.salvaged and segs[-1].end_at is not None
            assert segs[-1].duration_s == pytest.approx(2.0 * int(after_s / 2), abs=0.2)
            lost = (killed_at - segs[-1].end_at).total_seconds()
            assert lost <= 2.0 + 0.8  # one GOP (2 s at the peer) and the network's latency
        assert [e.action for e in audit.entries()] == ["footage.reconciled"]
    finally:
        store.close()


# ------------------------------------------------------------------ injected failures


def test_crash_after_the_reservation_before_the_file(tmp_path: Path, store: Store) -> None:
    fs = FootageStore(store)
    row = fs.reserve_segment("cam1", T0, os.urandom(16), T0,
                             lambda i: FootageIndex.relative_path("cam1", T0, i))
    assert not (tmp_path / row.path).exists()
    _, index, audit = reopen(tmp_path)
    report = index.reconcile(audit)
    assert report.reservations_dropped == 1
    assert index.store.segments(states=("writing", "complete", "garbage")) == []
    assert index.check() == []


def test_crash_with_a_partial_fragment_keeps_the_complete_ones(
    tmp_path: Path, store: Store
) -> None:
    index = FootageIndex(tmp_path, FootageStore(store))
    container = av.open(str(CLIP))
    stream = container.streams.video[0]
    packets = [p for p in container.demux(stream) if p.size]
    row, file = index.begin("cam1", T0)
    seg = _Segment(row, file, stream, packets[0].dts, T0)
    for p in packets[:150]:  # 2 complete GOPs of 4.8 s, then part of the third in memory
        seg.mux(p)
    container.close()
    written = index.path_of(row).stat().st_size
    end, fragments = complete_prefix(index.path_of(row))
    assert fragments == 2 and end == written  # each fragment reached the disk whole
    with index.path_of(row).open("ab") as f:  # a crash in the middle of a write
        f.write(b"\0\0\x10\0moof" + os.urandom(1000))
    # (the process dies here: no finish, no close of the muxer)
    _, index2, audit = reopen(tmp_path)
    report = index2.reconcile(audit)
    assert report.salvaged == [row.id]
    kept = index2.store.segment(row.id)
    assert kept is not None and kept.state == "complete"
    assert kept.size == written and kept.frames == 120
    assert kept.duration_s == pytest.approx(9.6, abs=0.05)
    assert probe(index2.path_of(kept), kept.key).frames == 120
    assert index2.check() == []


def test_crash_between_marking_garbage_and_unlink(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = FootageIndex(tmp_path, FootageStore(store))
    segs = record_file(index, "cam1", CLIP, T0, segment_s=2)
    victim = segs[0]

    def crash(*_a: object, **_k: object) -> None:
        raise SystemExit("killed between the key's destruction and the unlink")

    monkeypatch.setattr(FootageIndex, "_remove_files", crash)
    with pytest.raises(SystemExit):
        index.delete([victim])
    monkeypatch.undo()
    _, index2, audit = reopen(tmp_path)
    row = index2.store.segment(victim.id)
    assert row is not None and row.state == "garbage" and row.key == ZERO_KEY
    assert index2.path_of(row).exists()  # the file is still there, but its key is gone:
    with pytest.raises(av.error.FFmpegError):  # unreadable with the zeroed key
        container = open_segment(index2.path_of(row), row.key)
        try:
            for _ in container.decode(video=0):
                pass
        finally:
            container.close()
    report = index2.reconcile(audit)
    assert report.garbage_removed == 1
    assert not index2.path_of(row).exists() and index2.store.segment(victim.id) is None
    assert index2.check() == []
    assert len(index2.store.segments()) == len(segs) - 1


def test_crash_between_unlink_and_forgetting_the_row(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = FootageStore(store)
    index = FootageIndex(tmp_path, fs)
    segs = record_file(index, "cam1", CLIP, T0, segment_s=2)

    def crash(*_a: object, **_k: object) -> int:
        raise SystemExit("killed before the rows were forgotten")

    monkeypatch.setattr(fs, "forget", crash)
    with pytest.raises(SystemExit):
        index.delete(segs[:2])
    _, index2, audit = reopen(tmp_path)
    assert [r.state for r in index2.store.unfinished()] == ["garbage", "garbage"]
    assert index2.reconcile(audit).garbage_removed == 2
    assert index2.check() == []


def test_files_removed_or_altered_outside_centrale_are_reported(
    tmp_path: Path, store: Store
) -> None:
    index = FootageIndex(tmp_path, FootageStore(store))
    segs = record_file(index, "cam1", CLIP, T0, segment_s=2)
    index.path_of(segs[0]).unlink()
    with index.path_of(segs[1]).open("ab") as f:
        f.write(b"tampered")
    orphan = index.path_of(segs[2]).with_name("235959-999.mp4")
    orphan.write_bytes(b"ciphertext of a forgotten row")
    stray = index.root / "cam1" / "notes.txt"
    stray.write_text("not ours")
    _, index2, audit = reopen(tmp_path)
    report = index2.reconcile(audit)
    assert report.missing == [segs[0].path]
    assert report.damaged == [segs[1].path]
    assert report.orphans_removed == [orphan.relative_to(tmp_path).as_posix()]
    assert report.unknown_files == ["footage/cam1/notes.txt"] and stray.exists()
    assert not orphan.exists()
    actions = [e.action for e in audit.entries()]
    assert actions == ["footage.missing", "footage.damaged", "footage.reconciled"]
    assert index2.check(hashes=False) == [f"{segs[1].path}: {segs[1].size + 8} bytes on disk, "
                                          f"{segs[1].size} in the row"]


# ------------------------------------------------------------------ a full disk


@pytest.fixture
def small_footage_fs(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs mounted on <data>/footage (needs root)."""
    root = tmp_path / "footage"
    root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", str(root)],
                   check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


@pytest.mark.peers
def test_full_disk_stops_recording_deletes_nothing_and_resumes(
    gst_rtsp: GstRtspPeer, tmp_path: Path, small_footage_fs: Path, store: Store
) -> None:
    index = FootageIndex(tmp_path, FootageStore(store))
    rec = CameraRecorder(
        StreamSource("cam1", gst_rtsp.main_url), index,
        settings=RecorderSettings(segment_s=2.0, min_free_bytes=16 * 1024, disk_check_s=0.3),
        stream_settings=StreamSettings(open_timeout_s=2, read_timeout_s=2),
    )  # fmt: skip
    rec.start()
    try:
        assert wait_until(lambda: rec.health is Health.DISK_FULL, 20), rec.health
        full = index.store.segments()
        assert full, "some footage was recorded before the disk filled up"
        health = index.store.health("cam1")
        assert health is not None and health.state == "disk_full"
        time.sleep(1.0)  # still full: nothing recorded, nothing deleted to make room
        assert index.store.segments() == full
        assert index.store.unfinished() == []
        subprocess.run(["mount", "-o", "remount,size=4m", str(small_footage_fs)], check=True)
        assert wait_until(lambda: len(index.store.segments()) >= len(full) + 1, 15)
        assert rec.health is Health.RECORDING
    finally:
        rec.stop()
    segs = index.store.segments()
    assert segs[: len(full)] == full  # the footage of before the alarm is all still there
    assert index.check() == []
    assert any(s.start_at > full[-1].end_at + timedelta(seconds=1) for s in segs)  # a gap
