"""Exports of real recordings (GStreamer peer, car-detection.mp4 as a camera): copy and
re-encode paths, the package opened by Debian's 7-Zip, manifest and register, masks in every
frame, refusals, cancellation and failures leaving nothing behind.

One recording (two cameras, ~15 s of wall time) is shared by the module; every test exports
into its own folder and signs its own register entries.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from peers import GstRtspPeer
from test_export_support import (
    PASSWORD,
    Env,
    clip_frames,
    extract,
    nearest,
    open_env,
    record,
    source_frames,
)

from cameras.masks import MaskSet, mask_pixels
from footage import export as export_mod
from footage.export import (
    ExportCancelled,
    ExportInputError,
    ExportRefused,
    ExportRequest,
    ExportSettings,
)
from footage.export_package import WeakPassword
from footage.naming import NAME_PATTERN
from footage.redaction import RecipientKind
from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED
from registry.store_export import ExportStore
from registry.store_ptz import PtzStore

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("english")]
JUDGE = RecipientKind.JUDICIAL_AUTHORITY
SEVEN_ZIP = shutil.which("7z")


@pytest.fixture(scope="module")
def recorded(gst_rtsp: GstRtspPeer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("export-data")
    record(gst_rtsp, data, ("cam1", "cam2", "ptz1"), 2)
    return data


@pytest.fixture(scope="module")
def env(recorded: Path) -> Iterator[Env]:
    e = open_env(recorded)
    yield e
    e.store.close()


def span(env: Env, camera: str, offset: float, seconds: float) -> tuple:  # type: ignore[type-arg]
    start = env.segments(camera)[0].start_at + timedelta(seconds=offset)
    return start, start + timedelta(seconds=seconds)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ copy path


def test_copy_export_opens_with_7z_only_with_the_password_and_matches_its_manifest(
    env: Env, tmp_path: Path
) -> None:
    boss = env.person("supervisore")
    start, end = span(env, "cam1", 1.3, 5.0)  # starts between keyframes (0 s and 4.8 s)
    entry_id = env.entry(boss, "cam1", start, end)
    seen: list[float] = []
    result = env.exporter.export_clip(
        boss, ExportRequest("cam1", start, end, JUDGE), register_entry_id=entry_id,
        password=PASSWORD, out_dir=tmp_path, progress=seen.append)  # fmt: skip
    m = result.manifest
    assert m["method"] == "copy" and m["encoder"] == "stream copy (h264)"
    # name: date and place in the site's time zone, accents kept readable
    assert NAME_PATTERN.fullmatch(result.path.stem)
    assert result.path.stem.endswith("_Piazza-Universita_cam1")
    local = start.astimezone(ExportSettings().tz)
    assert result.path.name.startswith(f"{local:%Y-%m-%d_%H%M}-")
    assert leftovers(tmp_path) == [result.path.name]  # no temporary files left
    assert seen == sorted(seen) and seen[-1] == 1.0
    # Debian's 7-Zip: wrong password refused, right one extracts
    assert SEVEN_ZIP, "7z missing: scripts/setup.sh installs p7zip-full"
    bad = subprocess.run([SEVEN_ZIP, "t", "-pwrong-password", str(result.path)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "Wrong password" in bad.stdout + bad.stderr
    out = tmp_path / "x"
    ok = subprocess.run([SEVEN_ZIP, "x", f"-p{PASSWORD}", f"-o{out}", str(result.path)],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    clip = out / f"{result.path.stem}.mp4"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [clip.name, "manifest.json", "catena-di-custodia.txt"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == manifest["clip"]["sha256"] \
        == result.clip_sha256  # fmt: skip
    assert manifest["camera"]["place"] == "Piazza Università"
    assert manifest["register_entry"]["id"] == entry_id
    assert manifest["operator"]["username"] == boss.username
    custody = (out / "catena-di-custodia.txt").read_text()
    assert manifest["clip"]["sha256"] in custody and "CATENA DI CUSTODIA" in custody
    # exact span: the clip starts at the keyframe at or before the start, ends at the end
    clip_from = export_mod.datetime.fromisoformat(manifest["span"]["clip_from"])
    clip_to = export_mod.datetime.fromisoformat(manifest["span"]["clip_to"])
    assert clip_from == env.segments("cam1")[0].start_at <= start
    assert abs((clip_to - end).total_seconds()) < 0.1
    # Debian's ffprobe reads the clip: plain H.264, no longer encrypted
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=codec_name,nb_read_frames", "-of", "json", str(clip)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    assert int(stream["nb_read_frames"]) == manifest["clip"]["frames"]
    expected = round((clip_to - clip_from).total_seconds() * 12.5)
    assert abs(manifest["clip"]["frames"] - expected) <= 1
    # frames are the recorded ones, bit for bit (stream copy): same pictures as the source
    src = source_frames(env, "cam1")
    for at, rgb in list(clip_frames(clip, clip_from))[::10]:
        assert np.array_equal(rgb, nearest(src, at))
    # register entry, media list, audit
    entry = env.register.entry(boss, entry_id)
    assert entry.file_name == result.path.name and entry.file_sha256 == result.sha256
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == result.sha256
    row = ExportStore(env.store).get(result.package_id)
    assert row is not None and row.state == "on_disk" and row.clip_sha256 == result.clip_sha256
    event = [e for e in env.audit.entries() if e.action == "export"][-1]
    assert event.actor == boss.username and event.details["sha256"] == result.sha256


def test_a_second_export_of_the_same_span_gets_its_own_name(env: Env, tmp_path: Path) -> None:
    boss = env.person("supervisore")
    start, end = span(env, "cam2", 0.5, 2.0)
    names = []
    for _ in range(2):
        entry_id = env.entry(boss, "cam2", start, end)
        names.append(env.exporter.export_clip(
            boss, ExportRequest("cam2", start, end, JUDGE), register_entry_id=entry_id,
            password=PASSWORD, out_dir=tmp_path).path.name)  # fmt: skip
    assert names[1] == names[0].replace(".zip", "-2.zip")
    assert "_Via-Sant-Antonio_cam2" in names[0]


# ------------------------------------------------------------------------------ masks


def test_fixed_camera_masks_are_blank_in_every_frame_of_the_reencoded_export(
    env: Env, tmp_path: Path
) -> None:
    masks = MaskSet.from_json([[[0.05, 0.1], [0.45, 0.1], [0.45, 0.6], [0.05, 0.6]],
                               [[0.6, 0.5], [0.9, 0.55], [0.75, 0.95]]])  # fmt: skip
    ptz = PtzStore(env.store)
    ptz.set_fixed_masks("cam2", masks.dumps(), "test", export_mod.utc_now())
    try:
        boss = env.person("supervisore")
        start, end = span(env, "cam2", 2.0, 5.0)  # crosses the segment boundary at 4.8 s
        entry_id = env.entry(boss, "cam2", start, end)
        result = env.exporter.export_clip(
            boss, ExportRequest("cam2", start, end, JUDGE), register_entry_id=entry_id,
            password=PASSWORD, out_dir=tmp_path)  # fmt: skip
    finally:
        ptz.set_fixed_masks("cam2", "[]", "test", export_mod.utc_now())
    m = result.manifest
    assert m["method"] == "reencode" and m["encoder"].startswith("libx264")
    assert m["privacy_masks"][0]["masks"] == masks.to_json()
    files = extract(result.path, PASSWORD, tmp_path)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(files[m["clip"]["file"]])
    clip_from = export_mod.datetime.fromisoformat(m["span"]["clip_from"])
    assert clip_from >= start  # re-encoded: from the requested start exactly
    src = source_frames(env, "cam2")
    frames = list(clip_frames(clip, clip_from))
    assert abs(len(frames) - 5.0 * 12.5) <= 1
    import cv2

    for at, rgb in frames:
        hidden = mask_pixels(masks, rgb.shape[1], rgb.shape[0])
        # H.264 rings within a transform block (up to 8 px) of a sharp edge: beyond that the
        # mask is black; nearer the edge, only faint ringing (no picture) on a few pixels
        inner = cv2.erode(hidden.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
        assert rgb[inner].max() <= 12, at
        assert rgb[hidden].mean() < 3 and (rgb[hidden].max(axis=1) > 24).mean() < 1e-4
        original = nearest(src, at)
        assert original[inner].mean() > 40  # there was something to hide
        assert np.abs(rgb[~hidden].astype(int) - original[~hidden]).mean() < 6


def test_ptz_masks_follow_the_timeline_and_a_stretch_without_state_is_blank(
    env: Env, tmp_path: Path
) -> None:
    seg0 = env.segments("ptz1")[0]
    t0 = seg0.start_at
    ptz = PtzStore(env.store)
    window = MaskSet.from_json([[[0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [0.5, 0.5]]])
    # unknown until +1 s (no state at all), at a preset with its mask until +3 s, moving after
    ptz.add_mask_state("ptz1", t0 + timedelta(seconds=1), "at_preset", None, True,
                       window.dumps())  # fmt: skip
    ptz.add_mask_state("ptz1", t0 + timedelta(seconds=3), "moving", None, False, "[]")
    boss = env.person("supervisore")
    start, end = t0 + timedelta(seconds=0.2), t0 + timedelta(seconds=4.5)
    entry_id = env.entry(boss, "ptz1", start, end)
    result = env.exporter.export_clip(
        boss, ExportRequest("ptz1", start, end, JUDGE), register_entry_id=entry_id,
        password=PASSWORD, out_dir=tmp_path)  # fmt: skip
    m = result.manifest
    assert m["method"] == "reencode"
    assert [s["decision"] for s in m["privacy_masks"]] == ["blank", "show", "blank"]
    clip = tmp_path / "c.mp4"
    clip.write_bytes(extract(result.path, PASSWORD, tmp_path)[m["clip"]["file"]])
    hidden = None
    counts = {"blank": 0, "masked": 0}
    for at, rgb in clip_frames(clip, export_mod.datetime.fromisoformat(m["span"]["clip_from"])):
        offset = (at - t0).total_seconds()
        if abs(offset - 1) < 0.1 or abs(offset - 3) < 0.1:
            continue  # a frame on a boundary: either side is right
        if 1 < offset < 3:
            hidden = mask_pixels(window, rgb.shape[1], rgb.shape[0])
            assert rgb[hidden].mean() < 3 and rgb[~hidden].mean() > 40
            counts["masked"] += 1
        else:
            assert rgb.max() <= 12, offset  # blank: nothing of the picture
            counts["blank"] += 1
    assert counts["masked"] >= 20 and counts["blank"] >= 25 and hidden is not None


# ------------------------------------------------------------------------------ refusals


def test_refused_without_a_matching_register_entry(env: Env, tmp_path: Path) -> None:
    op = env.person("operatore_esperto")
    other = env.person("operatore_esperto")
    start, end = span(env, "cam1", 0.5, 2.0)
    request = ExportRequest("cam1", start, end, JUDGE)

    def attempt(entry_id: int, who: object = op) -> str:
        with pytest.raises(ExportRefused) as err:
            env.exporter.export_clip(who, request, register_entry_id=entry_id,  # type: ignore[arg-type]
                                     password=PASSWORD, out_dir=tmp_path)
        return err.value.message

    assert "no register entry 999999" in attempt(999999)
    # someone else's entry: an operator may not even read it; a supervisor may read it, but
    # exports only under an entry he signed himself
    theirs = env.entry(other, "cam1", start, end)
    with pytest.raises(PermissionDenied):
        env.exporter.export_clip(op, request, register_entry_id=theirs, password=PASSWORD,
                                 out_dir=tmp_path)
    boss = env.person("supervisore")
    assert f"signed by {other.username}, not by {boss.username}" in attempt(theirs, boss)
    assert "does not name camera cam1" in attempt(env.entry(op, "cam2", start, end))
    narrow = env.entry(op, "cam1", start, end - timedelta(seconds=1))
    assert "not within the span" in attempt(narrow)
    assert leftovers(tmp_path) == []


def test_refused_without_the_permission_and_the_refusal_is_audited(
    env: Env, tmp_path: Path
) -> None:
    op = env.person("operatore")  # watches live, may not export
    start, end = span(env, "cam1", 0.5, 2.0)
    with pytest.raises(PermissionDenied):
        env.exporter.export_clip(op, ExportRequest("cam1", start, end, JUDGE),
                                 register_entry_id=1, password=PASSWORD, out_dir=tmp_path)
    refusal = [e for e in env.audit.entries() if e.action == PERMISSION_REFUSED][-1]
    assert refusal.actor == op.username and refusal.details["permission"] == "export"
    assert leftovers(tmp_path) == []


def test_span_errors_name_the_problem(env: Env, tmp_path: Path) -> None:
    boss = env.person("supervisore")
    segs = env.segments("cam1")
    before = segs[0].start_at - timedelta(hours=2)
    check = env.exporter.check
    with pytest.raises(ExportInputError, match="outside the recordings of cam1"):
        check(ExportRequest("cam1", before, before + timedelta(minutes=1), JUDGE), boss)
    with pytest.raises(ExportInputError, match="no configured camera nowhere"):
        check(ExportRequest("nowhere", before, before + timedelta(minutes=1), JUDGE), boss)
    with pytest.raises(ExportInputError, match="must come after"):
        check(ExportRequest("cam1", segs[0].start_at, segs[0].start_at, JUDGE), boss)
    strict = open_env(env.data, ExportSettings(max_span=timedelta(seconds=3)))
    try:
        op = strict.person("operatore_esperto")
        start, end = span(strict, "cam1", 0.5, 5.0)
        with pytest.raises(ExportInputError, match="supervisor's approval"):
            strict.exporter.check(ExportRequest("cam1", start, end, JUDGE), op)
        boss2 = strict.person("supervisore")  # a supervisor approves by exporting himself
        assert strict.exporter.check(ExportRequest("cam1", start, end, JUDGE), boss2)
    finally:
        strict.store.close()


def test_a_weak_package_password_is_refused_before_any_work(env: Env, tmp_path: Path) -> None:
    boss = env.person("supervisore")
    start, end = span(env, "cam1", 0.5, 2.0)
    entry_id = env.entry(boss, "cam1", start, end)
    with pytest.raises(WeakPassword, match="at least 12 characters"):
        env.exporter.export_clip(boss, ExportRequest("cam1", start, end, JUDGE),
                                 register_entry_id=entry_id, password="short",
                                 out_dir=tmp_path)  # fmt: skip
    assert leftovers(tmp_path) == []
    assert env.register.entry(boss, entry_id).file_name is None


# ------------------------------------------------------------------------------ nothing left


@pytest.mark.parametrize("at", [0.3, 0.95])  # while cutting; while packaging
def test_cancellation_leaves_nothing_behind(env: Env, tmp_path: Path, at: float) -> None:
    boss = env.person("supervisore")
    start, end = span(env, "cam1", 0.5, 8.0)
    entry_id = env.entry(boss, "cam1", start, end)
    cancel = threading.Event()

    def progress(fraction: float) -> None:
        if fraction >= at:
            cancel.set()

    with pytest.raises(ExportCancelled):
        env.exporter.export_clip(boss, ExportRequest("cam1", start, end, JUDGE),
                                 register_entry_id=entry_id, password=PASSWORD,
                                 out_dir=tmp_path, progress=progress, cancel=cancel)
    assert leftovers(tmp_path) == []
    assert env.register.entry(boss, entry_id).file_name is None
    assert all(p.register_entry_id != entry_id for p in ExportStore(env.store).list())


def test_a_failure_while_packaging_leaves_nothing_behind(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = export_mod.write_package

    def broken(path: Path, *args: object, **kwargs: object) -> None:
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")  # the disk filled up at the end

    monkeypatch.setattr(export_mod, "write_package", broken)
    boss = env.person("supervisore")
    start, end = span(env, "cam1", 0.5, 2.0)
    entry_id = env.entry(boss, "cam1", start, end)
    with pytest.raises(OSError, match="No space"):
        env.exporter.export_clip(boss, ExportRequest("cam1", start, end, JUDGE),
                                 register_entry_id=entry_id, password=PASSWORD,
                                 out_dir=tmp_path)  # fmt: skip
    assert leftovers(tmp_path) == []
    failed = [e for e in env.audit.entries() if e.action == "export_failed"][-1]
    assert failed.details["register_entry"] == str(entry_id)
