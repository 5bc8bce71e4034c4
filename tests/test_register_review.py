"""The access register on real SQLite files: filters, paging, review, integrity.

Tampering goes through a raw ``sqlite3`` connection, as anyone with the file could.
Signing and the fields of an entry are in ``test_register.py``.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from register_support import (
    PASSWORD,
    T0,
    World,
    register_world_fixture,  # noqa: F401
    request,
)

from registry.register import (
    AccessKind,
    RegisterError,
    RegisterFilter,
    RegisterIncomplete,
)
from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED

# ------------------------------------------------------------------------------ filters


@dataclass(frozen=True)
class Made:
    id: int
    at: datetime
    person: str
    cameras: frozenset[str]
    purpose: str
    kind: AccessKind


SIGNERS = ["a.bianchi", "l.verdi", "s.neri", "g.conti"]
CAMERAS = [f"cam-{n:02d}" for n in range(1, 9)]
PURPOSES = ["road_accident", "urban_security", "police_investigation", "traffic_violation"]


@pytest.fixture
def filled(world: World) -> list[Made]:
    """300 entries over 30 days, by four people, with known properties."""
    rng = random.Random(3)
    made: list[Made] = []
    for _ in range(300):
        world.clock.advance(timedelta(minutes=rng.randrange(1, 288)))
        who = rng.choice(SIGNERS)
        kind = rng.choice([AccessKind.PLAYBACK, AccessKind.EXPORT, AccessKind.VISIT])
        cameras = rng.sample(CAMERAS, rng.randrange(1, 4))
        purpose = rng.choice(PURPOSES)
        now = world.clock.now
        req = request(kind, cameras=cameras, purpose=purpose,
                      span_from=now - timedelta(hours=3), span_to=now - timedelta(hours=2))
        entry = world.register.open_entry(world.sessions[who], req, PASSWORD)
        made.append(Made(entry.id, entry.at, who, frozenset(cameras), purpose, kind))
    return made


def expect(made: list[Made], flt: RegisterFilter, reviewed: set[int] = frozenset()  # type: ignore[assignment]
           ) -> list[int]:  # fmt: skip
    out = [m for m in made
           if (flt.period_from is None or m.at >= flt.period_from)
           and (flt.period_to is None or m.at < flt.period_to)
           and (flt.person is None or m.person == flt.person)
           and (flt.camera is None or flt.camera in m.cameras)
           and (flt.purpose is None or m.purpose == flt.purpose)
           and (flt.kind is None or m.kind is flt.kind)
           and (flt.reviewed is None or (m.id in reviewed) == flt.reviewed)]
    return [m.id for m in sorted(out, key=lambda m: (m.at, m.id), reverse=True)]


def test_filters_each_and_combined(world: World, filled: list[Made]) -> None:
    sup = world.sessions["s.neri"]
    reviewed = {m.id for m in filled[::7] if m.person != "s.neri"}
    for entry_id in reviewed:
        world.register.mark_reviewed(sup, entry_id, "Motivazione verificata")
    start = filled[80].at
    end = filled[220].at
    filters = [
        RegisterFilter(),
        RegisterFilter(period_from=start, period_to=end),
        RegisterFilter(period_from=start),
        RegisterFilter(period_to=end),
        RegisterFilter(person="l.verdi"),
        RegisterFilter(camera="cam-03"),
        RegisterFilter(purpose="urban_security"),
        RegisterFilter(kind=AccessKind.VISIT),
        RegisterFilter(reviewed=True),
        RegisterFilter(reviewed=False),
        RegisterFilter(period_from=start, period_to=end, person="a.bianchi"),
        RegisterFilter(period_from=start, period_to=end, camera="cam-05"),
        RegisterFilter(period_from=start, period_to=end, camera="cam-05", person="g.conti",
                       reviewed=False),
        RegisterFilter(person="l.verdi", purpose="traffic_violation", kind=AccessKind.EXPORT),
        RegisterFilter(camera="cam-01", reviewed=True, kind=AccessKind.PLAYBACK),
        RegisterFilter(person="nobody"),
    ]
    for flt in filters:
        want = expect(filled, flt, reviewed)
        got = [e.id for e in world.register.entries(sup, flt, limit=None)]
        assert got == want, flt
        assert world.register.count(sup, flt) == len(want), flt
    assert 0 < len(expect(filled, filters[12], reviewed)) < 20  # the combination is tight
    # Pages.
    flt = RegisterFilter(period_from=start, period_to=end)
    want = expect(filled, flt, reviewed)
    pages = [world.register.entries(sup, flt, limit=25, offset=o) for o in range(0, 200, 25)]
    assert [e.id for page in pages for e in page] == want
    # Read a page at a time, oldest first (exports).
    assert [e.id for e in world.register.iter_entries(sup, flt, batch=7)] == want[::-1]
    # Reviewed entries carry their review.
    one = world.register.entry(sup, min(reviewed))
    assert one.review is not None and one.review.reviewer == "s.neri"


def test_without_review_permission_one_sees_only_ones_own(
    world: World, filled: list[Made]
) -> None:
    op = world.sessions["l.verdi"]
    mine = expect(filled, RegisterFilter(person="l.verdi"))
    assert [e.id for e in world.register.entries(op, limit=None)] == mine
    assert world.register.count(op) == len(mine)
    assert [e.id for e in world.register.entries(op, RegisterFilter(person="l.verdi"),
                                                 limit=None)] == mine
    with pytest.raises(PermissionDenied):
        world.register.entries(op, RegisterFilter(person="a.bianchi"))
    assert world.audit.entries()[-1].action == PERMISSION_REFUSED
    with pytest.raises(PermissionDenied):  # at the call, not at the first page
        world.register.iter_entries(op, RegisterFilter(person="a.bianchi"))
    others = next(m.id for m in filled if m.person != "l.verdi")
    with pytest.raises(PermissionDenied):
        world.register.entry(op, others)
    with pytest.raises(PermissionDenied):
        world.register.events_around(op, mine[0])


# ------------------------------------------------------------------------------ review


def test_mark_reviewed_is_audited_and_once(world: World) -> None:
    entry = world.register.open_entry(world.sessions["a.bianchi"], request(), PASSWORD)
    sup = world.sessions["s.neri"]
    with pytest.raises(PermissionDenied):
        world.register.mark_reviewed(world.sessions["l.verdi"], entry.id, "ok")
    with pytest.raises(RegisterIncomplete) as caught:
        world.register.mark_reviewed(sup, entry.id, "  ")
    assert caught.value.fields == ["note"]
    world.clock.advance(timedelta(days=3))
    done = world.register.mark_reviewed(sup, entry.id, " Accesso motivato da verbale 12/2026 ")
    assert done.review is not None
    assert (done.review.reviewer, done.review.reviewer_name) == ("s.neri", "Sara Neri")
    assert done.review.note == "Accesso motivato da verbale 12/2026"
    assert done.review.at == T0 + timedelta(days=3)
    event = world.audit.entries(action="register_reviewed")[-1]
    assert done.review.audit_id == event.id
    assert (event.actor, event.target) == ("s.neri", f"register/{entry.id}")
    with pytest.raises(RegisterError, match="already reviewed"):
        world.register.mark_reviewed(world.sessions["g.conti"], entry.id, "di nuovo")
    assert world.audit.verify().ok


def test_nobody_reviews_their_own_entries(world: World) -> None:
    sup = world.sessions["s.neri"]
    own = world.register.open_entry(sup, request(), PASSWORD)
    with pytest.raises(RegisterError, match="own"):
        world.register.mark_reviewed(sup, own.id, "tutto regolare")
    refusal = world.audit.entries()[-1]
    assert (refusal.action, refusal.actor) == ("register_review_refused", "s.neri")
    assert world.register.entry(sup, own.id).review is None
    reviewed = world.register.mark_reviewed(world.sessions["g.conti"], own.id, "regolare")
    assert reviewed.review is not None and reviewed.review.reviewer == "g.conti"


def test_events_around_an_entry(world: World) -> None:
    op = world.sessions["a.bianchi"]
    world.audit.append("a.bianchi", "login", "ws1")  # T0 - 0
    world.clock.advance(timedelta(minutes=10))
    world.audit.append("l.verdi", "login", "ws2")  # somebody else: not shown
    entry = world.register.open_entry(op, request(), PASSWORD)  # T0 + 10 min
    world.clock.advance(timedelta(minutes=15))
    world.audit.append("a.bianchi", "playback", "cam-01")  # T0 + 25 min
    world.register.close_visit(world.sessions["l.verdi"], world.register.open_entry(
        op, request(AccessKind.VISIT), PASSWORD).id)
    world.clock.advance(timedelta(hours=2))
    world.audit.append("a.bianchi", "logout", "ws1")  # too late
    events = world.register.events_around(world.sessions["s.neri"], entry.id, minutes=30)
    assert [(e.actor, e.action) for e in events] == [
        ("a.bianchi", "login"), ("a.bianchi", "register_entry"), ("a.bianchi", "playback"),
        ("a.bianchi", "register_entry"),
    ]
    assert events[1].id == entry.audit_id


# ------------------------------------------------------------------------------ triggers

SIGNED_EDITS = [
    "UPDATE register_entry SET at = '2020-01-01T00:00:00.000000Z'",
    "UPDATE register_entry SET username = 'l.verdi'",
    "UPDATE register_entry SET full_name = 'Altro Nome'",
    "UPDATE register_entry SET kind = 'export'",
    "UPDATE register_entry SET purpose = 'urban_security'",
    "UPDATE register_entry SET purpose_text = 'diverso'",
    "UPDATE register_entry SET span_from = '2026-01-01T00:00:00.000000Z'",
    "UPDATE register_entry SET span_to = '2026-03-02T07:00:00.000000Z'",
    "UPDATE register_entry SET third_name = 'Altra Persona'",
    "UPDATE register_entry SET third_document = 'Patente'",
    "UPDATE register_entry SET auth_ref = 'prot. 1/2026'",
    "UPDATE register_entry SET auth_issuer = 'Nessuno'",
    "UPDATE register_entry SET recipient = 'Altri'",
    "UPDATE register_entry SET observations = 'riscritte'",
    "UPDATE register_entry SET confidentiality = 0",
    "UPDATE register_entry SET audit_id = audit_id + 1",
    "UPDATE register_entry SET audit_id = NULL",
    "UPDATE register_entry SET time_out = NULL",
    "UPDATE register_entry SET time_out = '2026-03-02T09:30:00.000000Z'",
    "UPDATE register_entry SET viewed_from = '2026-03-02T03:30:00.000000Z'",
    "UPDATE register_entry SET viewed_to = NULL",
    "UPDATE register_entry SET file_name = 'other.mp4'",
    "UPDATE register_entry SET file_sha256 = NULL",
    "DELETE FROM register_entry",
    "DELETE FROM register_camera",
    "UPDATE register_camera SET camera = 'cam-99'",
    "INSERT INTO register_camera (entry_id, camera, at, viewed) "
    "SELECT id, 'cam-42', at, 0 FROM register_entry",
    "UPDATE register_review SET note = 'cambiata'",
    "UPDATE register_review SET audit_id = NULL",
    "DELETE FROM register_review",
]


@pytest.mark.parametrize("statement", SIGNED_EDITS)
def test_triggers_refuse_edits_of_signed_fields(world: World, statement: str) -> None:
    op = world.sessions["a.bianchi"]
    visit = world.register.open_entry(op, request(AccessKind.VISIT, recipient="Questura",
                                                  observations="ok"), PASSWORD)
    world.clock.advance(timedelta(hours=1))
    world.register.close_visit(op, visit.id)
    world.register.record_viewed(visit.id, ["cam-01"], T0 - timedelta(hours=5),
                                 T0 - timedelta(hours=4))
    world.register.mark_reviewed(world.sessions["s.neri"], visit.id, "regolare")
    export = world.register.open_entry(op, request(AccessKind.EXPORT), PASSWORD)
    world.register.attach_file(export.id, "clip.mp4", "ab" * 32)
    before = world.register.entries(world.sessions["s.neri"], limit=None)
    raw = sqlite3.connect(world.store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute(statement)
    finally:
        raw.close()
    assert world.register.entries(world.sessions["s.neri"], limit=None) == before


def test_fields_completed_later_may_be_completed_once(world: World) -> None:
    op = world.sessions["a.bianchi"]
    visit = world.register.open_entry(op, request(AccessKind.VISIT), PASSWORD)
    other = world.register.open_entry(op, request(AccessKind.VISIT), PASSWORD)
    raw = sqlite3.connect(world.store.path, isolation_level=None)
    try:
        raw.execute("UPDATE register_entry SET time_out = '2026-03-02T09:00:00.000000Z', "
                    "viewed_from = '2026-03-02T03:00:00.000000Z', "
                    "viewed_to = '2026-03-02T04:00:00.000000Z' WHERE id = ?", (visit.id,))
        raw.execute("UPDATE register_entry SET viewed_from = '2026-03-02T02:00:00.000000Z' "
                    "WHERE id = ?", (visit.id,))
        with pytest.raises(sqlite3.IntegrityError):  # a time out before the time in
            raw.execute("UPDATE register_entry SET time_out = '2026-03-02T07:59:00.000000Z' "
                        "WHERE id = ?", (other.id,))
    finally:
        raw.close()
    again = world.register.entry(op, visit.id)
    assert again.viewed_from == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert again.time_out == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert world.register.entry(op, other.id).time_out is None
