"""Redaction (R21, R22): boxes on frames, the recipient rules, OpenCV's detectors on real
pedestrian footage, and redacted exports of a real recording checked frame by frame."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from peers import VIDEO_DIR, GstRtspPeer
from test_export_support import (
    PASSWORD,
    Env,
    clip_frames,
    extract,
    gradient_energy,
    nearest,
    open_env,
    record,
    source_frames,
)

from footage.export import ExportRequest
from footage.redaction import (
    Detector,
    RecipientKind,
    RedactionBox,
    RedactionError,
    RedactionKind,
    RedactionPlan,
    RedactionRequired,
    apply_redactions,
    check_recipient,
)
from registry.roles import PermissionDenied

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


pytestmark = pytest.mark.usefixtures("english")


def box(kind: RedactionKind, rect: tuple[float, float, float, float] = (0.25, 0.25, 0.75, 0.75),
        start: datetime = T0, end: datetime = T0 + 10 * S) -> RedactionBox:  # fmt: skip
    return RedactionBox(*rect, kind, start, end)


def textured(h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(30, 255, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ frames


def test_solid_box_is_black_and_only_within_its_time_range() -> None:
    plan = RedactionPlan((box(RedactionKind.SOLID),))
    frame = textured()
    out = apply_redactions(frame.copy(), plan, T0 + 5 * S)
    assert out[30:90, 40:120].max() == 0
    assert np.array_equal(out[:30], frame[:30]) and np.array_equal(out[:, :40], frame[:, :40])
    assert np.array_equal(apply_redactions(frame.copy(), plan, T0 + 10 * S), frame)  # end
    assert np.array_equal(apply_redactions(frame.copy(), plan, T0 - S), frame)


def test_blur_removes_the_detail_under_the_box() -> None:
    plan = RedactionPlan((box(RedactionKind.BLUR),))
    frame = textured()
    out = apply_redactions(frame.copy(), plan, T0)
    inside = (slice(30, 90), slice(40, 120))
    assert gradient_energy(out[inside]) < 0.15 * gradient_energy(frame[inside])
    assert out[inside].mean() > 60  # blurred, not blacked out
    assert np.array_equal(out[:30], frame[:30])


def test_subject_only_obscures_everything_but_the_subject_and_fails_closed() -> None:
    subject = box(RedactionKind.KEEP, (0.5, 0.0, 1.0, 0.5), T0, T0 + 2 * S)
    plan = RedactionPlan((subject,))
    assert plan.subject_only
    frame = textured()
    out = apply_redactions(frame.copy(), plan, T0 + S)
    assert np.array_equal(out[:60, 80:], frame[:60, 80:])
    assert out[60:].max() == 0 and out[:, :80].max() == 0
    # no subject box in force: nothing is shown
    assert apply_redactions(frame.copy(), plan, T0 + 3 * S).max() == 0


def test_boxes_are_validated_and_round_trip_through_json() -> None:
    plan = RedactionPlan((box(RedactionKind.BLUR), box(RedactionKind.KEEP)))
    assert RedactionPlan.loads(json.dumps(plan.to_json())) == plan
    with pytest.raises(RedactionError, match=r"x1 = 1\.5"):
        RedactionBox(0.1, 0.1, 1.5, 0.5, RedactionKind.BLUR, T0, T0 + S)
    with pytest.raises(RedactionError, match="too small"):
        RedactionBox(0.1, 0.1, 0.101, 0.5, RedactionKind.BLUR, T0, T0 + S)
    with pytest.raises(RedactionError, match="end after it starts"):
        RedactionBox(0.1, 0.1, 0.5, 0.5, RedactionKind.BLUR, T0, T0)
    with pytest.raises(RedactionError, match=r"boxes\[0\]: missing key kind"):
        RedactionPlan.from_json({"boxes": [{"rect": [0, 0, 1, 1], "from": "x", "to": "y"}]})


def test_recipients_that_need_redaction() -> None:
    empty, blur = RedactionPlan(), RedactionPlan((box(RedactionKind.BLUR),))
    check_recipient(RecipientKind.JUDICIAL_AUTHORITY, empty)
    check_recipient(RecipientKind.POLICE_FORCE, empty)
    with pytest.raises(RedactionRequired):
        check_recipient(RecipientKind.THIRD_PARTY, empty)
    check_recipient(RecipientKind.THIRD_PARTY, blur)
    with pytest.raises(RedactionRequired, match="keep boxes"):
        check_recipient(RecipientKind.DATA_SUBJECT, blur)  # blurring others is not enough
    check_recipient(RecipientKind.DATA_SUBJECT, RedactionPlan((box(RedactionKind.KEEP),)))


# ------------------------------------------------------------------------------ detectors


def vtest_frames(seconds: float) -> list[tuple[datetime, np.ndarray]]:
    """OpenCV's own sample of pedestrians on a campus (shared/data/video/SOURCE.md)."""
    container = av.open(str(VIDEO_DIR / "vtest.avi"))
    try:
        out = []
        for i, frame in enumerate(container.decode(video=0)):
            if i >= seconds * 10:
                break
            out.append((T0 + i * S / 10, frame.to_ndarray(format="rgb24")))
        return out
    finally:
        container.close()


def test_people_are_proposed_on_real_pedestrian_footage() -> None:
    frames = vtest_frames(3.0)
    detector = Detector(faces=False)
    found = detector.detect(frames[0][1])
    people = [d for d in found if d.what == "person"]
    assert len(people) >= 2, found
    for d in people:  # upright boxes inside the picture
        assert 0 <= d.x0 < d.x1 <= 1 and 0 <= d.y0 < d.y1 <= 1
        assert (d.y1 - d.y0) * 576 > (d.x1 - d.x0) * 768
    proposals = detector.propose(frames, every=S)
    assert {b.label for b in proposals} == {"person"}
    assert all(b.kind is RedactionKind.BLUR and b.end - b.start == 2 * S for b in proposals)
    # three sampled frames (0, 1, 2 s), each proposing boxes around its own time
    assert {b.start + S for b in proposals} == {T0, T0 + S, T0 + 2 * S}


def test_the_face_cascade_ships_with_opencv_and_runs() -> None:
    # vtest's faces are a few pixels: none is expected; the point is that the cascade loads
    # from the wheel (no download) and runs on a real frame without error
    detections = Detector(people=False).detect(vtest_frames(0.1)[0][1])
    assert all(d.what == "face" for d in detections)


# ------------------------------------------------------------------------------ exports


@pytest.fixture(scope="module")
def env(gst_rtsp: GstRtspPeer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("redaction-data")
    record(gst_rtsp, data, ("cam1",), 2)
    e = open_env(data)
    yield e
    e.store.close()


@pytest.mark.peers
def test_third_party_export_has_its_boxes_in_every_frame_of_their_range(
    env: Env, tmp_path: Path
) -> None:
    t0 = env.segments("cam1")[0].start_at
    start, end = t0 + S, t0 + 6 * S
    solid = RedactionBox(0.05, 0.05, 0.35, 0.40, RedactionKind.SOLID, t0 + 2 * S, t0 + 4 * S)
    blur = RedactionBox(0.50, 0.40, 0.95, 0.95, RedactionKind.BLUR, t0 + 3 * S, t0 + 5 * S)
    boss = env.person("supervisore")
    entry_id = env.entry(boss, "cam1", start, end, recipient="Avv. Rossi, legale di parte")
    result = env.exporter.export_clip(
        boss, ExportRequest("cam1", start, end, RecipientKind.THIRD_PARTY,
                            RedactionPlan((solid, blur))),
        register_entry_id=entry_id, password=PASSWORD, out_dir=tmp_path)  # fmt: skip
    m = result.manifest
    assert m["method"] == "reencode" and len(m["redactions"]["boxes"]) == 2
    clip = tmp_path / "c.mp4"
    clip.write_bytes(extract(result.path, PASSWORD, tmp_path)[m["clip"]["file"]])
    src = source_frames(env, "cam1")
    seen = {"solid": 0, "blur": 0, "plain": 0}
    for at, rgb in clip_frames(clip, datetime.fromisoformat(m["span"]["clip_from"])):
        h, w = rgb.shape[:2]
        sx0, sy0, sx1, sy1 = solid.pixels(w, h)
        bx0, by0, bx1, by1 = blur.pixels(w, h)
        original = nearest(src, at)
        near_edge = any(abs((at - t).total_seconds()) < 0.05 for t in
                        (solid.start, solid.end, blur.start, blur.end))  # fmt: skip
        if near_edge:
            continue
        if solid.active(at):
            assert rgb[sy0 + 8:sy1 - 8, sx0 + 8:sx1 - 8].max() <= 12
            seen["solid"] += 1
        if blur.active(at):
            region, before = rgb[by0:by1, bx0:bx1], original[by0:by1, bx0:bx1]
            assert gradient_energy(region) < 0.5 * gradient_energy(before), at
            assert region.mean() > 0.5 * before.mean()  # blurred, not blacked out
            seen["blur"] += 1
        if not solid.active(at) and not blur.active(at):
            assert np.abs(rgb.astype(int) - original).mean() < 6  # untouched outside
            seen["plain"] += 1
    assert seen["solid"] >= 20 and seen["blur"] >= 20 and seen["plain"] >= 10


@pytest.mark.peers
def test_data_subject_export_is_refused_without_redaction_and_shows_only_the_subject(
    env: Env, tmp_path: Path
) -> None:
    t0 = env.segments("cam1")[0].start_at
    start, end = t0 + S, t0 + 3 * S
    boss = env.person("supervisore")
    entry_id = env.entry(boss, "cam1", start, end, recipient="Mario Bianchi, interessato")
    with pytest.raises(RedactionRequired):
        env.exporter.export_clip(boss, ExportRequest("cam1", start, end,
                                                     RecipientKind.DATA_SUBJECT),
                                 register_entry_id=entry_id, password=PASSWORD,
                                 out_dir=tmp_path)  # fmt: skip
    with pytest.raises(RedactionRequired):
        env.exporter.export_clip(boss, ExportRequest("cam1", start, end,
                                                     RecipientKind.THIRD_PARTY),
                                 register_entry_id=entry_id, password=PASSWORD,
                                 out_dir=tmp_path)  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    subject = RedactionBox(0.4, 0.3, 0.7, 0.8, RedactionKind.KEEP, start, end, "subject")
    result = env.exporter.export_clip(
        boss, ExportRequest("cam1", start, end, RecipientKind.DATA_SUBJECT,
                            RedactionPlan((subject,))),
        register_entry_id=entry_id, password=PASSWORD, out_dir=tmp_path)  # fmt: skip
    assert result.manifest["redactions"]["subject_only"] is True
    clip = tmp_path / "c.mp4"
    clip.write_bytes(extract(result.path, PASSWORD, tmp_path)[result.manifest["clip"]["file"]])
    frames = list(clip_frames(clip, datetime.fromisoformat(
        result.manifest["span"]["clip_from"])))
    assert len(frames) >= 20
    for _at, rgb in frames:
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = subject.pixels(w, h)
        outside = np.ones((h, w), dtype=bool)
        outside[max(0, y0 - 8):y1 + 8, max(0, x0 - 8):x1 + 8] = False
        assert rgb[outside].max() <= 12
        assert rgb[y0 + 8:y1 - 8, x0 + 8:x1 - 8].mean() > 40


@pytest.mark.peers
def test_redacting_needs_the_redact_permission(env: Env, tmp_path: Path) -> None:
    op = env.person("operatore_esperto")  # may export, may not redact
    t0 = env.segments("cam1")[0].start_at
    start, end = t0 + S, t0 + 2 * S
    entry_id = env.entry(op, "cam1", start, end)
    plan = RedactionPlan((RedactionBox(0.1, 0.1, 0.3, 0.3, RedactionKind.BLUR, start, end),))
    with pytest.raises(PermissionDenied, match="redact"):
        env.exporter.export_clip(op, ExportRequest("cam1", start, end,
                                                   RecipientKind.THIRD_PARTY, plan),
                                 register_entry_id=entry_id, password=PASSWORD,
                                 out_dir=tmp_path)  # fmt: skip
    assert list(tmp_path.iterdir()) == []
