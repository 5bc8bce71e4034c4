"""Holds (R17, R30): lifecycle, validation, the ``hold`` permission, the audit of every change.

Real SQLite, real audit trail, sessions of people stored in the database; the CLI through
``console.cli.main`` with a supervisor created by ``centrale init``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import cli_with_supervisor
from db_support import stored_session

from footage.holds import Ground, HoldError, Holds, covers, is_active
from registry.audit import AuditTrail
from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED, Session
from registry.store import Store
from registry.store_footage import FootageStore

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def trail(store: Store) -> AuditTrail:
    return AuditTrail(store, b"k" * 32, lambda: NOW)


@pytest.fixture
def holds(store: Store, trail: AuditTrail) -> Holds:
    return Holds(FootageStore(store), trail, lambda: NOW, known_cameras={"cam1", "cam2"})


def session(store: Store, username: str, role: str) -> Session:
    return stored_session(store, username, role, NOW)


def place(holds: Holds, who: Session, **changes: object) -> int:
    fields: dict[str, object] = dict(
        ground=Ground.INVESTIGATION, authority="Procura della Repubblica di Brescia",
        reference="RGNR 1234/25", cameras=["cam1"], span_start=NOW - 3 * DAY,
        span_end=NOW - 2 * DAY, expires_at=NOW + 30 * DAY, note="furto in piazza",
    )
    fields.update(changes)
    return holds.create(who, **fields).id  # type: ignore[arg-type]


def test_lifecycle_create_extend_release_all_audited(
    store: Store, holds: Holds, trail: AuditTrail
) -> None:
    boss = session(store, "capo", "supervisore")
    hold_id = place(holds, boss)
    h = holds.store.hold(hold_id)
    assert h is not None and h.placed_by == "capo" and h.ground == "investigation"
    assert h.cameras == ("cam1",) and is_active(h, NOW)
    assert covers(h, "cam1", NOW - 3 * DAY + timedelta(hours=1), NOW - 2 * DAY - DAY / 2)
    assert not covers(h, "cam2", NOW - 3 * DAY, NOW - 2 * DAY)
    assert not covers(h, "cam1", NOW - 2 * DAY, NOW - DAY)  # [start, end): touching is not in

    extended = holds.extend(boss, hold_id, expires_at=NOW + 60 * DAY,
                            span_start=NOW - 4 * DAY)
    assert extended.expires_at == NOW + 60 * DAY and extended.span_start == NOW - 4 * DAY
    released = holds.release(boss, hold_id, "proceedings closed")
    assert released.released_by == "capo" and not is_active(released, NOW)
    assert holds.protecting(NOW) == []

    entries = trail.entries()
    assert [e.action for e in entries] == ["hold.create", "hold.extend", "hold.release"]
    assert all(e.actor == "capo" and e.target == f"hold:{hold_id}" for e in entries)
    assert entries[0].details["reference"] == "RGNR 1234/25"
    assert entries[1].details["expires_at"].endswith("2025-08-09T12:00:00.000000Z")
    assert entries[2].details["reason"] == "proceedings closed"
    assert trail.verify().ok


def test_a_data_subject_request_is_a_ground_too(store: Store, holds: Holds) -> None:
    boss = session(store, "capo", "supervisore")
    hold_id = place(holds, boss, ground="data_subject_request", authority="Ufficio istanze",
                    reference="Istanza 7/2025")
    assert holds.store.hold(hold_id).ground == "data_subject_request"  # type: ignore[union-attr]
    assert {g.value for g in Ground} >= {"investigation", "seizure", "crime", "traffic",
                                         "closure"}


@pytest.mark.parametrize("role", ["operatore", "operatore_esperto", "amministratore", "tecnico"])
def test_only_the_hold_permission_may_place_extend_release_or_list(
    store: Store, holds: Holds, trail: AuditTrail, role: str
) -> None:
    boss = session(store, "capo", "supervisore")
    hold_id = place(holds, boss)
    other = session(store, "mario", role)
    before = holds.store.hold(hold_id)
    with pytest.raises(PermissionDenied):
        place(holds, other)
    with pytest.raises(PermissionDenied):
        holds.extend(other, hold_id, expires_at=NOW + 90 * DAY)
    with pytest.raises(PermissionDenied):
        holds.release(other, hold_id, "no")
    with pytest.raises(PermissionDenied):
        holds.listing(other)
    assert holds.store.hold(hold_id) == before and len(holds.store.holds()) == 1
    refused = trail.entries(action=PERMISSION_REFUSED)
    assert [e.actor for e in refused] == ["mario"] * 4
    assert all(e.details["permission"] == "hold" for e in refused)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"ground": "curiosity"}, "not a ground"),
        ({"authority": "  "}, "authority"),
        ({"reference": ""}, "reference"),
        ({"cameras": []}, "at least one camera"),
        ({"cameras": ["cam7"]}, "unknown camera cam7"),
        ({"span_end": NOW - 4 * DAY}, "end must come after the start"),
        ({"expires_at": NOW}, "expiry must be in the future"),
    ],
)
def test_bad_holds_are_refused_naming_the_field_and_nothing_is_stored(
    store: Store, holds: Holds, trail: AuditTrail, changes: dict[str, object], words: str
) -> None:
    boss = session(store, "capo", "supervisore")
    with pytest.raises(HoldError, match=words):
        place(holds, boss, **changes)
    assert holds.store.holds() == [] and trail.entries() == []


def test_extensions_never_shorten_and_released_holds_cannot_be_extended(
    store: Store, holds: Holds
) -> None:
    boss = session(store, "capo", "supervisore")
    hold_id = place(holds, boss)
    with pytest.raises(HoldError, match="cannot bring the expiry forward"):
        holds.extend(boss, hold_id, expires_at=NOW + DAY)
    with pytest.raises(HoldError, match="only widen"):
        holds.extend(boss, hold_id, span_start=NOW - 2 * DAY - timedelta(hours=1))
    with pytest.raises(HoldError, match="nothing to extend"):
        holds.extend(boss, hold_id)
    holds.release(boss, hold_id, "done")
    with pytest.raises(HoldError, match="released or expired"):
        holds.extend(boss, hold_id, expires_at=NOW + 90 * DAY)
    with pytest.raises(HoldError, match="already released"):
        holds.release(boss, hold_id, "again")
    with pytest.raises(HoldError, match="reason"):
        holds.release(boss, place(holds, boss), " ")


# ------------------------------------------------------------------ the command

CONFIG = """
[site]
comune = "Valdemo"
timezone = "Europe/Rome"

[[cameras]]
id = "cam1"
name = "Piazza"
place = "Piazza Grande"
main_url = "rtsp://127.0.0.1:9/main"
"""
PW = "Primo-Comando-77"


def test_holds_command_needs_a_personal_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli_with_supervisor(tmp_path, monkeypatch, capsys, CONFIG, PW)
    add = ("holds", "add", "--as", "capo", "--password-stdin", "--ground", "seizure",
           "--authority", "Carabinieri Lumezzane", "--reference", "Decreto 55/25",
           "--camera", "cam1", "--from", "2025-06-01T08:00", "--to", "2025-06-01T09:30",
           "--expires", "2099-01-01T00:00")
    code, _out, err = run(*add, stdin="wrong password")
    assert code != 0 and "Traceback" not in err
    code, out, _err = run(*add)
    assert code == 0 and "Hold 1 placed" in out and "seizure order" in out
    code, out, _err = run("holds", "list", "--as", "capo", "--password-stdin", "--active")
    assert code == 0 and "#1 [in force]" in out and "2025-06-01T08:00+02:00" in out
    code, out, _err = run("holds", "release", "1", "--as", "capo", "--password-stdin",
                          "--reason", "dissequestro")
    assert code == 0 and "dissequestro" in out
    with Store.open(tmp_path / "data") as s:
        h = FootageStore(s).hold(1)
        assert h is not None and h.released_by == "capo"
        assert h.span_start == datetime(2025, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Rome (CEST)
        actions = [r.action for r in s.audit_query()]
    assert actions.count("hold.create") == 1 and actions.count("hold.release") == 1
    assert "login" in actions and "logout" in actions
