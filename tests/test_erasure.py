"""The supervisor's erasure for a data subject (R18): lifecycle, refusals, receipt, CLI.

Real encrypted segments (``car-detection.mp4`` through the recorder's own writer, a keyframe
every 4.8 s, so segments of about 4.8 s), a real SQLite index, the real audit trail, people
signed in through the accounts service and register entries signed with their passwords.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import cli_with_supervisor
from console_support import FAST_POLICY, add_people, password_of
from peers import VIDEO_DIR

from console import services
from footage.erasure import ERASE_REFUSED, ERASED, Erasure, ErasureError
from footage.holds import Holds
from footage.index import FootageIndex
from footage.mp4 import open_segment
from footage.recorder import record_file
from registry.accounts import Accounts
from registry.audit import AuditTrail
from registry.people import create_person
from registry.register import (
    DATA_SUBJECT_REQUEST,
    AccessKind,
    AccessRegister,
    AccessRequest,
    RegisterEntry,
    ThirdParty,
)
from registry.roles import Level, PermissionDenied
from registry.session import PERMISSION_REFUSED, Session
from registry.store import Store
from registry.store_footage import FootageStore, SegmentRow
from registry.store_people import PeopleStore

CLIP = VIDEO_DIR / "car-detection.mp4"
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)
SUBJECT = ThirdParty("Anna Bianchi", "C.I. AB1234567", "prot. 77/2025",
                     "Responsabile del trattamento")


pytestmark = pytest.mark.usefixtures("english")


@dataclass
class World:
    data_dir: Path
    store: Store
    audit: AuditTrail
    index: FootageIndex
    register: AccessRegister
    erasure: Erasure
    sessions: dict[str, Session]
    cam1: list[SegmentRow]
    cam2: list[SegmentRow]

    def sign(self, who: str, *, kind: AccessKind = AccessKind.ERASURE,
             cameras: tuple[str, ...] = ("cam1",), span: tuple[datetime, datetime] | None = None
             ) -> RegisterEntry:  # fmt: skip
        start, end = span or (START - timedelta(minutes=5), NOW - timedelta(minutes=30))
        request = AccessRequest(kind=kind, purpose=DATA_SUBJECT_REQUEST, cameras=list(cameras),
                                span_from=start, span_to=end, third_party=SUBJECT,
                                confidentiality_declared=True)  # fmt: skip
        return self.register.open_entry(self.sessions[who], request,
                                        PEOPLE_PASSWORDS.get(who) or password_of(who))

    def actions(self, action: str) -> list[dict[str, str]]:
        return [dict(e.details) for e in self.audit.entries() if e.action == action]


PEOPLE_PASSWORDS = {"abruni": "Sala-Consiglio-58"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = Store.open(tmp_path)
    audit = AuditTrail(store, b"k" * 32, lambda: NOW)
    accounts = Accounts(store, audit, FAST_POLICY, clock=lambda: NOW)
    add_people(accounts)
    # a second supervisor, to show that one's erasure entry is not another's
    person = create_person("abruni", "Alberto Bruni", "supervisore", Level.FIRST,
                           PEOPLE_PASSWORDS["abruni"], FAST_POLICY, NOW)
    PeopleStore(store).add(replace(person, must_change_password=False), NOW, "test")
    sessions = {}
    for who in ("gneri", "lverdi", "abruni"):
        result = accounts.sign_in(who, PEOPLE_PASSWORDS.get(who) or password_of(who))
        assert result.session is not None, result.message
        sessions[who] = result.session
    index = FootageIndex(tmp_path, FootageStore(store), lambda: NOW)
    cam1 = record_file(index, "cam1", CLIP, START, segment_s=2)
    cam2 = record_file(index, "cam2", CLIP, START, segment_s=2)
    register = AccessRegister(store, audit, accounts.verify_signature, lambda: NOW)
    yield World(tmp_path, store, audit, index, register,
                Erasure(index, register, audit, lambda: NOW), sessions, cam1, cam2)
    store.close()


def middle(w: World) -> tuple[datetime, datetime]:
    """A span that starts inside the second segment and ends inside the fourth."""
    a, b = w.cam1[1], w.cam1[3]
    return a.start_at + timedelta(seconds=1), b.start_at + timedelta(seconds=1)


def test_erasure_crypto_shreds_whole_segments_with_a_receipt(world: World) -> None:
    entry = world.sign("gneri")
    start, end = middle(world)
    doomed = world.cam1[1:4]
    receipt = world.erasure.erase(world.sessions["gneri"], "cam1", start, end, entry.id)
    assert receipt.segments == 3 and receipt.bytes == sum(s.size for s in doomed)
    # whole segments: what went reaches before and after the span asked, and says so
    assert receipt.erased_from == doomed[0].start_at < start
    assert receipt.erased_to == doomed[-1].end_at and receipt.erased_to > end
    left = world.index.store.segments(camera="cam1")
    assert [s.id for s in left] == [s.id for s in world.cam1 if s not in doomed]
    assert not any((world.data_dir / s.path).exists() for s in doomed)
    assert world.index.check() == []
    # unrecoverable: the keys are nowhere in the database files
    disk = b"".join(p.read_bytes() for p in world.data_dir.glob("centrale.db*"))
    assert not any(s.key in disk for s in doomed)
    # the rest still plays; the other camera is untouched
    kept = left[0]
    container = open_segment(world.index.path_of(kept), kept.key)
    assert sum(1 for _ in container.decode(video=0)) == kept.frames
    container.close()
    assert len(world.index.store.segments(camera="cam2")) == len(world.cam2)
    # the receipt, audited
    (details,) = world.actions(ERASED)
    assert details["register_entry"] == str(entry.id) and details["segments"] == "3"
    assert "crypto-shred" in details["method"] and "whole segments" in details["method"]
    assert receipt.audit_id is not None and world.audit.verify().ok


def test_a_span_without_footage_erases_nothing_but_is_still_receipted(world: World) -> None:
    entry = world.sign("gneri")
    receipt = world.erasure.erase(world.sessions["gneri"], "cam1",
                                  START - timedelta(minutes=4), START - timedelta(minutes=1),
                                  entry.id)  # fmt: skip
    assert receipt.segments == 0 and receipt.erased_from is None
    assert len(world.index.store.segments(camera="cam1")) == len(world.cam1)
    assert world.actions(ERASED)[0]["segments"] == "0"


def test_only_a_supervisor_may_erase(world: World) -> None:
    start, end = middle(world)
    with pytest.raises(PermissionDenied):
        world.erasure.erase(world.sessions["lverdi"], "cam1", start, end, 1)
    assert world.actions(PERMISSION_REFUSED)[-1]["permission"] == "review_register"
    assert len(world.index.store.segments(camera="cam1")) == len(world.cam1)


@pytest.mark.parametrize(("case", "reason", "message"), [
    ("no_entry", "no_entry", "no register entry"),
    ("playback_entry", "wrong_kind", "not an erasure"),
    ("other_camera", "camera_not_covered", "does not name camera cam1"),
    ("short_span", "span_not_covered", "within the span"),
    ("other_supervisor", "not_own_entry", "signed by abruni"),
])  # fmt: skip
def test_erasure_needs_the_right_register_entry(world: World, case: str, reason: str,
                                                message: str) -> None:  # fmt: skip
    start, end = middle(world)
    entry_id = {
        "no_entry": lambda: 999,
        "playback_entry": lambda: world.sign("gneri", kind=AccessKind.PLAYBACK).id,
        "other_camera": lambda: world.sign("gneri", cameras=("cam2",)).id,
        "short_span": lambda: world.sign("gneri", span=(start, start + timedelta(seconds=3))).id,
        "other_supervisor": lambda: world.sign("abruni").id,
    }[case]()
    with pytest.raises(ErasureError, match=message):
        world.erasure.erase(world.sessions["gneri"], "cam1", start, end, entry_id)
    assert world.actions(ERASE_REFUSED)[-1]["reason"] == reason
    assert len(world.index.store.segments(camera="cam1")) == len(world.cam1)
    assert world.actions(ERASED) == []


def test_held_footage_is_never_erased_until_the_hold_is_released(world: World) -> None:
    entry = world.sign("gneri")
    start, end = middle(world)
    holds = Holds(world.index.store, world.audit, lambda: NOW)
    hold = holds.create(world.sessions["gneri"], ground="seizure", authority="Procura",
                        reference="RG 9/25", cameras=["cam1"],
                        span_start=world.cam1[3].start_at,
                        span_end=world.cam1[3].start_at + timedelta(seconds=1),
                        expires_at=NOW + timedelta(days=30))  # fmt: skip
    with pytest.raises(ErasureError, match=f"hold {hold.id}"):
        world.erasure.erase(world.sessions["gneri"], "cam1", start, end, entry.id)
    assert world.actions(ERASE_REFUSED)[-1]["reason"] == "held"
    assert len(world.index.store.segments(camera="cam1")) == len(world.cam1)
    holds.release(world.sessions["gneri"], hold.id, "request of the data subject prevails")
    receipt = world.erasure.erase(world.sessions["gneri"], "cam1", start, end, entry.id)
    assert receipt.segments == 3


def test_a_segment_being_recorded_is_not_erased(world: World) -> None:
    entry = world.sign("gneri")
    row, file = world.index.begin("cam1", NOW - timedelta(hours=1, minutes=30))
    file.close(sync=True)
    with pytest.raises(ErasureError, match="still recording"):
        world.erasure.erase(world.sessions["gneri"], "cam1", START,
                            NOW - timedelta(hours=1), entry.id)
    assert world.index.store.segment(row.id) is not None


# -- the command ---------------------------------------------------------------------------

CONFIG = """
[site]
comune = "Valdemo"

[[cameras]]
id = "cam1"
name = "Piazza"
place = "Piazza Grande"
main_url = "rtsp://127.0.0.1:9/main"
"""


def test_footage_erase_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    pw = "Torre-Civica-93"
    run = cli_with_supervisor(tmp_path, monkeypatch, capsys, CONFIG, pw)
    now = datetime.now(UTC)
    with services.open_services(data, None) as svc:
        index = FootageIndex(data, FootageStore(svc.store))
        segs = record_file(index, "cam1", CLIP, now - timedelta(hours=2), segment_s=2)
        signed = svc.accounts.sign_in("capo", pw)
        assert signed.session is not None
        register = AccessRegister(svc.store, svc.audit, svc.accounts.verify_signature)
        entry = register.open_entry(signed.session, AccessRequest(
            kind=AccessKind.ERASURE, purpose=DATA_SUBJECT_REQUEST, cameras=["cam1"],
            span_from=now - timedelta(hours=3), span_to=now - timedelta(hours=1),
            third_party=SUBJECT, confidentiality_declared=True), pw)
        svc.accounts.sign_out(signed.session)
    start = (segs[1].start_at + timedelta(seconds=1)).isoformat()
    end = (segs[2].start_at + timedelta(seconds=1)).isoformat()
    erase = ("footage", "erase", "cam1", "--from", start, "--to", end, "--register-entry",
             str(entry.id), "--as", "capo", "--password-stdin")
    code, out, _err = run(*erase, "--dry-run")
    assert code == 0 and "2 segments of cam1" in out and "Dry run" in out
    code, _out, err = run(*erase)  # not at a terminal, no --yes: refused
    assert code == 1 and "--yes" in err
    with Store.open(data) as s:
        assert len(FootageStore(s).segments()) == len(segs)
    code, out, _err = run(*erase, "--yes")
    assert code == 0 and "Erased 2 segments" in out and "receipt: audit entry" in out
    with Store.open(data) as s:
        assert [r.id for r in FootageStore(s).segments()] == [
            r.id for r in segs if r not in segs[1:3]]
        row = s.audit_query(action=ERASED)[-1]
        assert json.loads(row.details)["register_entry"] == str(entry.id)
        assert row.actor == "capo"
    code, _out, err = run("footage", "erase", "cam1", "--from", end, "--to", start,
                          "--register-entry", str(entry.id), "--as", "capo", "--password-stdin",
                          "--yes")  # fmt: skip
    assert code == 1 and "--to" in err and "Traceback" not in err
