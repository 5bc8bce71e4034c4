"""Retention as a legal ceiling: the purge pass, holds respected, receipts, the config limit.

Real encrypted segments (recorded from ``car-detection.mp4`` with the recorder's own writer,
placed days in the past), a real SQLite index, a real audit trail; the clock is controlled.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peers import VIDEO_DIR

from cameras.config import CameraConfig
from console import cli
from console.config import ConfigInvalid, load_config
from footage.index import FootageIndex
from footage.recorder import record_file
from footage.retention import Retention, RetentionError
from registry.audit import AuditTrail
from registry.store import Store
from registry.store_footage import FootageStore, SegmentRow

CLIP = VIDEO_DIR / "car-detection.mp4"  # 30 s, a keyframe every 4.8 s
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "config"
DAY = timedelta(days=1)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def index(tmp_path: Path, store: Store) -> FootageIndex:
    return FootageIndex(tmp_path, FootageStore(store))


@pytest.fixture
def trail(store: Store) -> AuditTrail:
    return AuditTrail(store, b"k" * 32, lambda: NOW)


def record(index: FootageIndex, camera: str, start: datetime) -> list[SegmentRow]:
    return record_file(index, camera, CLIP, start, segment_s=2)


def hold(fs: FootageStore, cameras: list[str], start: datetime, end: datetime,
         expires: datetime, released: bool = False) -> int:  # fmt: skip
    hold_id = fs.add_hold(ground="crime", authority="Procura di Brescia", reference="RG 1/25",
                          cameras=cameras, span_start=start, span_end=end, expires_at=expires,
                          note="", placed_by="capo", placed_at=NOW - 10 * DAY)
    if released:
        fs.release_hold(hold_id, by="capo", at=NOW - DAY, reason="closed")
    return hold_id


def test_nothing_older_than_the_ceiling_survives_unless_held(
    index: FootageIndex, trail: AuditTrail, tmp_path: Path
) -> None:
    fs = index.store
    old1 = record(index, "cam1", NOW - 8 * DAY)  # cam1: 7 days -> purged but for the hold
    new1 = record(index, "cam1", NOW - 6 * DAY)  # in term
    old2 = record(index, "cam2", NOW - 3 * DAY)  # cam2: 2 days -> purged
    new2 = record(index, "cam2", NOW - DAY)
    gone3 = record(index, "gone", NOW - 7 * DAY - timedelta(hours=1))  # not configured: 7
    held_span = (old1[1].start_at, old1[2].end_at)  # two segments of old1
    hold(fs, ["cam1"], *held_span, expires=NOW + DAY)
    hold(fs, ["cam2"], old2[0].start_at, old2[-1].end_at, expires=NOW - timedelta(hours=1))
    hold(fs, ["cam2"], old2[0].start_at, old2[-1].end_at, expires=NOW + DAY, released=True)
    hold(fs, ["cam9"], old1[0].start_at, old1[-1].end_at, expires=NOW + DAY)  # other camera
    retention = Retention(index, trail, {"cam1": 7, "cam2": 2}, clock=lambda: NOW)
    doomed = [s for s in old1 + old2 + gone3 if s not in old1[1:3]]
    doomed_keys = [s.key for s in doomed]

    report = retention.run()

    left = fs.segments()
    assert {s.id for s in left} == {s.id for s in old1[1:3] + new1 + new2}
    for seg in left:  # the invariant, stated directly
        ceiling = NOW - timedelta(days=retention.days_for(seg.camera))
        assert seg.start_at >= ceiling or seg in old1[1:3]
    assert all(not index.path_of(s).exists() for s in doomed)
    assert not (index.root / "gone").exists()  # empty folders go too
    assert index.check() == []
    by_camera = {c.camera: c for c in report.cameras}
    assert (by_camera["cam1"].segments, by_camera["cam1"].held) == (len(old1) - 2, 2)
    assert (by_camera["cam2"].segments, by_camera["cam2"].held) == (len(old2), 0)
    assert by_camera["gone"].retention_days == 7
    assert report.bytes == sum(s.size for s in doomed)
    assert report.wal_truncated is True
    # the receipt: what, from when to when, how much
    (receipt,) = trail.entries(action="retention.purge")
    assert receipt.actor == "system" and receipt.id == report.receipt_id
    d = receipt.details
    assert d["segments"] == len(doomed) and d["bytes"] == report.bytes and d["held"] == 2
    assert d["cameras"]["cam2"]["from"] == old2[0].start_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert d["cameras"]["cam2"]["to"] == old2[-1].end_at.strftime(  # type: ignore[union-attr]
        "%Y-%m-%dT%H:%M:%S.%fZ")
    assert "crypto-shred" in d["method"]
    assert trail.verify().ok
    # unrecoverable: the destroyed keys are nowhere in the database files any more
    disk = b"".join(p.read_bytes() for p in tmp_path.glob("centrale.db*"))
    assert not any(key in disk for key in doomed_keys)
    assert all(s.key in disk for s in new1[:2])  # (keys of kept footage are, of course)


def test_expired_and_released_holds_stop_protecting(
    index: FootageIndex, trail: AuditTrail
) -> None:
    segs = record(index, "cam1", NOW - 8 * DAY)
    hold(index.store, ["cam1"], segs[0].start_at, segs[-1].end_at, expires=NOW + DAY)
    assert Retention(index, trail, clock=lambda: NOW).run().held == len(segs)
    assert len(index.store.segments()) == len(segs)
    later = NOW + 2 * DAY  # the hold has expired: normal retention resumes
    report = Retention(index, trail, clock=lambda: later).run()
    assert (report.segments, report.held) == (len(segs), 0)
    assert index.store.segments() == []


def test_dry_run_deletes_nothing_and_writes_no_receipt(
    index: FootageIndex, trail: AuditTrail
) -> None:
    segs = record(index, "cam1", NOW - 8 * DAY)
    report = Retention(index, trail, clock=lambda: NOW).run(dry_run=True)
    assert report.segments == len(segs) and report.receipt_id is None
    assert index.store.segments() == segs and trail.entries() == []


def test_as_of_in_the_past_purges_less_and_in_the_future_only_as_dry_run(
    index: FootageIndex, trail: AuditTrail
) -> None:
    segs = record(index, "cam1", NOW - 8 * DAY)
    retention = Retention(index, trail, clock=lambda: NOW)
    assert retention.run(as_of=NOW - 2 * DAY).segments == 0  # not yet past the ceiling then
    assert len(index.store.segments()) == len(segs)
    with pytest.raises(RetentionError, match="in the future"):
        retention.run(as_of=NOW + DAY)
    assert len(index.store.segments()) == len(segs)
    assert retention.run(as_of=NOW + DAY, dry_run=True).segments == len(segs)
    # a segment straddling the ceiling goes as a whole: nothing older survives
    cut = segs[2].start_at + timedelta(seconds=1) + 7 * DAY
    retention.run(as_of=cut)
    assert [s.id for s in index.store.segments()] == [s.id for s in segs[3:]]


def test_nothing_is_kept_longer_than_seven_days_whatever_the_mapping_says(
    index: FootageIndex, trail: AuditTrail
) -> None:
    assert Retention(index, trail, {"cam1": 30}).days_for("cam1") == 7


# ------------------------------------------------------------------ configuration


def test_retention_above_seven_days_is_refused_with_its_key_and_line() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / "retention_above_ceiling.toml")
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == ("cameras[1].retention_days", 16)
    assert "legal ceiling of 7 days" in issue.message and "hold" in issue.message


def test_retention_must_be_at_least_one_day() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / "retention_not_positive.toml")
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == ("cameras[0].retention_days", 9)


def test_cameras_record_for_seven_days_by_default() -> None:
    cam = CameraConfig(id="a", name="A", place="P", main_url="rtsp://h/m")
    assert (cam.record, cam.retention_days) == (True, 7)


# ------------------------------------------------------------------ the command


CONFIG = """
[site]
comune = "Valdemo"

[[cameras]]
id = "cam1"
name = "Piazza"
place = "Piazza Grande"
main_url = "rtsp://127.0.0.1:9/main"
retention_days = 3
"""


def test_retention_run_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("CENTRALE_AUDIT_KEY", "ab" * 32)
    monkeypatch.setenv("CENTRALE_KEY_DIR", str(tmp_path / "keys"))
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    now = datetime.now(UTC)
    with Store.open(data) as s:
        index = FootageIndex(data, FootageStore(s))
        old = record(index, "cam1", now - 4 * DAY)
        new = record(index, "cam1", now - 2 * DAY)
    base = ["--data-dir", str(data), "--config", str(config), "--lang", "en"]
    future = (now + 2 * DAY).isoformat()
    assert cli.main([*base, "retention", "run", "--as-of", future]) == 2
    assert "in the future" in capsys.readouterr().err
    assert cli.main([*base, "retention", "run", "--dry-run", "--as-of", future]) == 0
    assert "Dry run" in capsys.readouterr().out
    assert cli.main([*base, "retention", "run"]) == 0
    out = capsys.readouterr().out
    assert f"cam1: {len(old)} segments" in out and "(3 days)" in out and "receipt" in out
    with Store.open(data) as s:
        assert [r.id for r in FootageStore(s).segments()] == [r.id for r in new]
        row = s.audit_query(action="retention.purge")[-1]
        assert json.loads(row.details)["segments"] == len(old)
        assert row.actor.startswith("system:")
