"""``centrale tours …`` and ``centrale ptz open|close`` through ``console.cli.main`` on real
database files (the harness of test_cli_admin: own key directory, cheap hashes, passwords on
a patched stdin).

Presets are stored and approved in the database directly (defining one needs a camera, which
test_ptz_presets does against ipycam); tours and openings need no camera. The effect of each
command is read back through the domain (TourBook, LeaseBook) on a fresh connection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli_admin import (  # noqa: F401  (fixtures)
    BOSS,
    BOSS_PW,
    NEW_PW,
    Run,
    add,
    initialised,
    isolated,
    run,
    trail,
)

from console.cli import UsageError
from console.cli_ptz import parse_stops, parse_until
from console.services import open_services
from ptz.leases import CAMERA_CLOSED, CAMERA_OPENED, LeaseBook
from ptz.presets import PresetBook
from ptz.tours import TOUR_DEFINED, TOUR_START_REQUESTED, TOUR_STOP_REQUESTED, Tour, TourBook
from registry.clock import utc_now
from registry.roles import Level
from registry.store_ptz import PtzControlStore, PtzStore, TourCommandRow

OPERATOR = "anna"
SECOND = "guardia"  # a second-level supervisor (another force's control room)
TECH = "tino"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"  # the same data directory as test_cli_admin's harness


@pytest.fixture
def world(initialised: Run, data: Path) -> Run:  # noqa: F811
    """The supervisor (first level), an operator, a second-level supervisor, a technician;
    camera dome with presets nord, sud (approved) and bozza (pending)."""
    add(initialised, OPERATOR, "operatore")
    code, _out, err = initialised("users", "add", SECOND, "--name", "Guardia", "--role",
                                  "supervisore", "--level", "2", "--as", BOSS,
                                  "--password-stdin", stdin=f"{BOSS_PW}\n{NEW_PW}\n")
    assert code == 0, err
    add(initialised, TECH, "tecnico")
    for who in (OPERATOR, SECOND, TECH):  # the first sign-in asks for a new password
        code, _out, err = initialised("users", "passwd", who, "--password-stdin",
                                      stdin=f"{NEW_PW}\n{NEW_PW}-own\n")
        assert code == 0, err
    with open_services(data, None) as s:
        ptz = PtzStore(s.store)
        for i, name in enumerate(["nord", "sud", "bozza"]):
            pid = ptz.add_preset("dome", name, f"t{i}", (0.1 * i, 0.0, 0.0), BOSS, utc_now())
            if name != "bozza":
                ptz.approve_preset(pid, BOSS, utc_now())
    return initialised


def as_(who: str) -> tuple[str, ...]:
    return ("--as", who, "--password-stdin")


def pw(who: str) -> str:
    return (BOSS_PW if who == BOSS else f"{NEW_PW}-own") + "\n"


def tour_list(data: Path) -> list[Tour]:
    with open_services(data, None) as s:
        return TourBook(PtzControlStore(s.store), PresetBook(PtzStore(s.store), s.audit),
                        s.audit).tours("dome")  # fmt: skip


def pending(data: Path) -> list[TourCommandRow]:
    with open_services(data, None) as s:
        return PtzControlStore(s.store).pending_tour_commands("dome")


def open_until(data: Path, camera_id: str = "dome") -> datetime | None:
    """Until when the camera is open to the second level, as a console would see it."""
    with open_services(data, None) as s:
        leases = LeaseBook(PtzControlStore(s.store), s.audit)
        is_open = leases.is_open(camera_id, Level.SECOND)
        until = leases.open_until(camera_id)
    assert is_open == (until is not None)
    return until


def test_define_list_start_and_stop_a_tour(world: Run, data: Path) -> None:
    code, out, err = world("tours", "define", "dome", "giro", "--stop", "nord:5",
                           "--stop", "sud:7.5", *as_(BOSS), stdin=pw(BOSS))
    assert code == 0, err
    assert "Tour giro of dome defined: 2 stops" in out
    [tour] = tour_list(data)
    assert [(s.preset_name, s.dwell_s) for s in tour.stops] == [("nord", 5.0), ("sud", 7.5)]

    code, out, _err = world("tours", "list", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 0 and out.splitlines() == ["giro\tnord 5s, sud 7.5s"]

    # the only tour may be left unnamed; the request waits for the recorder service
    code, out, err = world("tours", "start", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 0, err
    assert "Tour giro of dome requested" in out
    code, _out, err = world("tours", "stop", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 0, err
    assert [(c.action, c.tour_id, c.requested_by) for c in pending(data)] == [
        ("start", tour.id, OPERATOR), ("stop", None, OPERATOR)]
    # the recorder's run state shows in the listing
    with open_services(data, None) as s:
        PtzControlStore(s.store).put_tour_run("dome", tour.id, OPERATOR, utc_now())
    code, out, _err = world("tours", "list", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert out.splitlines() == ["giro\tnord 5s, sud 7.5s\trunning"]
    actions = [(e.actor, e.action) for e in trail(data) if e.target == "dome"]
    assert (BOSS, TOUR_DEFINED) in actions
    assert (OPERATOR, TOUR_START_REQUESTED) in actions
    assert (OPERATOR, TOUR_STOP_REQUESTED) in actions


@pytest.mark.parametrize(("stops", "message"), [
    (["nord:5"], "stops: a tour visits 2 to"),
    (["nord:5", "bozza:5"], "stops[1]: bozza is not an approved preset of camera dome"),
    (["nord:5", "sud:0.2"], "stops[1].dwell_s: 0.2 is not between"),
    (["nord:5", "sud"], "--stop 'sud' (stop 2): expected PRESET:DWELL_S"),
    (["nord:5", "sud:venti"], "--stop 'sud:venti' (stop 2): expected PRESET:DWELL_S"),
    (["nord:5", ":5"], "--stop ':5' (stop 2): expected PRESET:DWELL_S"),
])  # fmt: skip
def test_a_bad_tour_exits_2_naming_the_field_and_stores_nothing(
    world: Run, data: Path, stops: list[str], message: str
) -> None:
    argv = [a for s in stops for a in ("--stop", s)]
    code, _out, err = world("tours", "define", "dome", "giro", *argv, *as_(BOSS), stdin=pw(BOSS))
    assert code == 2 and message in err, err
    assert tour_list(data) == []


def test_tour_permissions_and_unknown_tours(world: Run, data: Path) -> None:
    code, _out, err = world("tours", "define", "dome", "giro", "--stop", "nord:5", "--stop",
                            "sud:5", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 1 and "anna is not allowed to define camera positions" in err, err
    assert tour_list(data) == []
    code, _out, err = world("tours", "start", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 2 and "camera dome has no tours" in err
    for name in ("giro", "notte"):
        assert world("tours", "define", "dome", name, "--stop", "nord:5", "--stop", "sud:5",
                     *as_(BOSS), stdin=pw(BOSS))[0] == 0
    code, _out, err = world("tours", "start", "dome", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 2 and "TOUR: camera dome has 2 tours, name one: giro, notte" in err
    code, _out, err = world("tours", "start", "dome", "mattina", *as_(OPERATOR),
                            stdin=pw(OPERATOR))
    assert code == 2 and "TOUR: camera dome has no tour named 'mattina'" in err
    code, _out, err = world("tours", "start", "dome", "notte", *as_(TECH), stdin=pw(TECH))
    assert code == 1, err  # the technician may not move cameras
    code, _out, err = world("tours", "list", "dome/x", *as_(OPERATOR), stdin=pw(OPERATOR))
    assert code == 2 and "is not a camera id" in err
    assert pending(data) == []


def test_a_first_level_supervisor_opens_and_closes_a_camera_to_the_second_level(
    world: Run, data: Path
) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    code, out, err = world("ptz", "open", "dome", "--until", until.isoformat(), *as_(BOSS),
                           stdin=pw(BOSS))
    assert code == 0, err
    assert "Camera dome is open to second-level control rooms until" in out
    assert open_until(data) == until
    assert open_until(data, "piazza") is None

    # neither a second-level supervisor nor an operator may open or close
    for who in (SECOND, OPERATOR):
        code, _out, err = world("ptz", "close", "dome", *as_(who), stdin=pw(who))
        assert code == 1, (who, err)
    assert open_until(data) == until

    code, out, err = world("ptz", "close", "dome", *as_(BOSS), stdin=pw(BOSS))
    assert code == 0 and "(1 openings ended)" in out, err
    assert open_until(data) is None
    actions = [(e.actor, e.action, e.details.get("until")) for e in trail(data)
               if e.action in (CAMERA_OPENED, CAMERA_CLOSED)]
    assert actions == [(BOSS, CAMERA_OPENED, until.isoformat()), (BOSS, CAMERA_CLOSED, None)]


@pytest.mark.parametrize(("until", "message"), [
    ("domani", "--until: 'domani' is not a date and time"),
    ("2020-01-01T10:00", "--until: '2020-01-01T10:00' is not in the future"),
])  # fmt: skip
def test_a_bad_opening_exits_2_before_asking_for_a_password(
    world: Run, data: Path, until: str, message: str
) -> None:
    code, _out, err = world("ptz", "open", "dome", "--until", until, *as_(BOSS), stdin="")
    assert code == 2 and message in err, err
    assert open_until(data) is None


def test_parsers() -> None:
    assert parse_stops(["nord:5", "porta:est:2.5"]) == [("nord", 5.0), ("porta:est", 2.5)]
    with pytest.raises(UsageError, match="stop 1"):
        parse_stops(["nord:nan"])
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    local = parse_until("2026-03-01T18:00", "Europe/Rome", lambda: now)
    assert local == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # CET is UTC+1 in March
    assert parse_until("2026-03-01T12:00+00:00", "Europe/Rome", lambda: now) == datetime(
        2026, 3, 1, 12, 0, tzinfo=UTC)
