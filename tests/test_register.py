"""The access register on real SQLite files: signing, refusals, completion, filters, review.

The signature is a real password check (argon2id with cheap parameters) of the session's
person; tampering goes through a raw ``sqlite3`` connection, as anyone with the file could.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry.audit import AuditTrail
from registry.passwords import HashParameters, hash_password, verify_password
from registry.people import Person
from registry.register import (
    KIND_PERMISSION,
    REGULATION_PURPOSES,
    AccessKind,
    AccessRegister,
    AccessRequest,
    RegisterError,
    RegisterFilter,
    RegisterIncomplete,
    SignatureRejected,
    ThirdParty,
)
from registry.roles import Level, Permission, PermissionDenied, role_named
from registry.session import PERMISSION_REFUSED, Session
from registry.store import Store
from registry.store_people import PeopleStore

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
PASSWORD = "Verde-Prato-42"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    store: Store
    audit: AuditTrail
    register: AccessRegister
    clock: Clock
    sessions: dict[str, Session]


def confirm(session: Session, password: str) -> bool:
    return verify_password(session.person.password_hash, password)


PEOPLE = {
    # username: (full name, role)
    "a.bianchi": ("Anna Bianchi", "operatore_esperto"),
    "l.verdi": ("Luca Verdi", "operatore_esperto"),
    "m.rossi": ("Mario Rossi", "operatore"),
    "s.neri": ("Sara Neri", "supervisore"),
    "g.conti": ("Giulia Conti", "supervisore"),
    "t.gallo": ("Tino Gallo", "tecnico"),
    "r.riva": ("Rita Riva", "amministratore"),
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    with Store.open(tmp_path / "data") as store:
        people = PeopleStore(store)
        sessions: dict[str, Session] = {}
        hashed = hash_password(PASSWORD, CHEAP)
        for username, (full_name, role) in PEOPLE.items():
            person = Person(username, full_name, role, Level.FIRST, hashed, T0)
            people.add(person, T0, "test")
            sid = people.open_session(username, T0)
            sessions[username] = Session(sid, person, role_named(role), T0)
        audit = AuditTrail(store, b"k" * 32, clock)
        register = AccessRegister(store, audit, confirm, clock,
                                  extra_purposes=["Controllo mercato settimanale", " "])
        yield World(store, audit, register, clock, sessions)


VISITOR = ThirdParty("Giovanni Esposito", "C.I. CA12345AB", "prot. 1234/2026",
                     "Responsabile del trattamento")


def request(kind: AccessKind = AccessKind.PLAYBACK, **changes: object) -> AccessRequest:
    base = AccessRequest(
        kind=kind, purpose="road_accident", cameras=["cam-01", "cam-02"],
        span_from=T0 - timedelta(hours=5), span_to=T0 - timedelta(hours=4),
        observations="Incidente via Roma",
    )  # fmt: skip
    if kind in (AccessKind.VISIT, AccessKind.ERASURE):
        base = replace(base, third_party=VISITOR, confidentiality_declared=True)
    if kind is AccessKind.EXPORT:
        base = replace(base, recipient="Procura della Repubblica di Brescia")
    return replace(base, **changes)  # type: ignore[arg-type]


def entry_count(store: Store) -> int:
    return int(store.fetch_one("SELECT COUNT(*) FROM register_entry")[0])


def actions(audit: AuditTrail) -> list[str]:
    return [e.action for e in audit.entries()]


# ------------------------------------------------------------------------------ signing


@pytest.mark.parametrize(("kind", "who"), [
    (AccessKind.PLAYBACK, "a.bianchi"), (AccessKind.EXPORT, "a.bianchi"),
    (AccessKind.VISIT, "a.bianchi"), (AccessKind.ERASURE, "s.neri"),
])  # fmt: skip
def test_entry_with_every_field_is_written_with_its_audit_event(
    world: World, kind: AccessKind, who: str
) -> None:
    req = request(kind)
    entry = world.register.open_entry(world.sessions[who], req, PASSWORD)
    assert entry.kind is kind
    assert (entry.username, entry.full_name) == (who, PEOPLE[who][0])
    assert entry.role == PEOPLE[who][1]
    assert entry.session_id == world.sessions[who].id
    assert entry.at == T0
    assert entry.purpose == "road_accident"
    assert entry.purpose_title == "Ricostruzione della dinamica di incidente stradale"
    assert entry.cameras == ("cam-01", "cam-02")
    assert (entry.span_from, entry.span_to) == (req.span_from, req.span_to)
    assert entry.observations == "Incidente via Roma"
    assert entry.third_party == req.third_party
    assert entry.confidentiality_declared is req.confidentiality_declared
    assert entry.recipient == req.recipient
    assert entry.review is None and entry.time_out is None
    # The same entry read back, and its audit event, written together.
    assert world.register.entry(world.sessions[who], entry.id) == entry
    event = world.audit.entries(action="register_entry")[-1]
    assert entry.audit_id == event.id
    assert event.actor == who and event.target == f"register/{entry.id}"
    assert event.details["kind"] == str(kind)
    assert event.details["cameras"] == ["cam-01", "cam-02"]
    assert world.audit.verify().ok


def test_cameras_are_trimmed_and_deduplicated(world: World) -> None:
    entry = world.register.open_entry(
        world.sessions["a.bianchi"], request(cameras=[" cam-03", "cam-03", "", "cam-01"]),
        PASSWORD)
    assert entry.cameras == ("cam-03", "cam-01")


# One case per field: what to break, and the field the error must name.
MISSING_CASES = [
    (AccessKind.PLAYBACK, {"purpose": ""}, "purpose"),
    (AccessKind.PLAYBACK, {"purpose": "not-a-purpose"}, "purpose"),
    (AccessKind.PLAYBACK, {"purpose": "other"}, "purpose_text"),
    (AccessKind.PLAYBACK, {"purpose": "other", "purpose_text": "   "}, "purpose_text"),
    (AccessKind.PLAYBACK, {"cameras": []}, "cameras"),
    (AccessKind.PLAYBACK, {"cameras": [" ", ""]}, "cameras"),
    (AccessKind.PLAYBACK, {"span_to": T0 - timedelta(hours=6)}, "span_to"),
    (AccessKind.PLAYBACK, {"span_to": T0 - timedelta(hours=5)}, "span_to"),
    (AccessKind.PLAYBACK, {"span_to": T0 + timedelta(minutes=1)}, "span_to"),
    (AccessKind.PLAYBACK, {"span_from": datetime(2026, 3, 1, 8, 0)}, "span_from"),
    (AccessKind.EXPORT, {"recipient": None}, "recipient"),
    (AccessKind.EXPORT, {"recipient": "  "}, "recipient"),
    (AccessKind.VISIT, {"third_party": replace(VISITOR, name=" ")}, "third_party.name"),
    (AccessKind.VISIT, {"third_party": replace(VISITOR, document="")}, "third_party.document"),
    (AccessKind.VISIT, {"third_party": replace(VISITOR, authorization_ref="")},
     "third_party.authorization_ref"),
    (AccessKind.VISIT, {"third_party": replace(VISITOR, authorization_issuer="")},
     "third_party.authorization_issuer"),
    (AccessKind.VISIT, {"confidentiality_declared": False}, "confidentiality_declared"),
    (AccessKind.ERASURE, {"third_party": None}, "third_party.name"),
    # A third party named during a playback must be complete and declare confidentiality.
    (AccessKind.PLAYBACK, {"third_party": replace(VISITOR, document="")},
     "third_party.document"),
    (AccessKind.PLAYBACK, {"third_party": VISITOR}, "confidentiality_declared"),
    # The data subject's own access names the data subject.
    (AccessKind.PLAYBACK, {"purpose": "data_subject_request"}, "third_party.document"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "changes", "field"), MISSING_CASES)
def test_refused_without_each_required_field(
    world: World, kind: AccessKind, changes: dict[str, object], field: str
) -> None:
    who = world.sessions["s.neri"]
    with pytest.raises(RegisterIncomplete) as caught:
        world.register.open_entry(who, request(kind, **changes), PASSWORD)
    assert field in caught.value.fields
    assert field in caught.value.message
    assert entry_count(world.store) == 0
    assert "register_entry" not in actions(world.audit)


def test_every_missing_field_is_listed_at_once(world: World) -> None:
    bare = AccessRequest(kind=AccessKind.VISIT, purpose="other", cameras=[],
                         span_from=T0, span_to=T0 - timedelta(hours=1))
    with pytest.raises(RegisterIncomplete) as caught:
        world.register.open_entry(world.sessions["a.bianchi"], bare, PASSWORD)
    assert caught.value.fields == [
        "purpose_text", "cameras", "span_to", "third_party.name", "third_party.document",
        "third_party.authorization_ref", "third_party.authorization_issuer",
        "confidentiality_declared",
    ]
    assert all(m.message for m in caught.value.missing)


def test_the_regulations_purposes_site_purposes_and_other(world: World) -> None:
    codes = [p.code for p in world.register.purposes()]
    assert codes[:len(REGULATION_PURPOSES)] == [p.code for p in REGULATION_PURPOSES]
    assert codes[-2:] == ["site:Controllo mercato settimanale", "other"]
    assert all(p.basis for p in REGULATION_PURPOSES)
    entry = world.register.open_entry(
        world.sessions["a.bianchi"],
        request(purpose="site:Controllo mercato settimanale"), PASSWORD)
    assert entry.purpose_title == "Controllo mercato settimanale"
    entry = world.register.open_entry(
        world.sessions["a.bianchi"],
        request(purpose="other", purpose_text="Verifica esposto"), PASSWORD)
    assert (entry.purpose_title, entry.purpose_text) == ("Altro", "Verifica esposto")


# Written independently of KIND_PERMISSION: which roles may open which kind.
ALLOWED = {
    "operatore": set(),
    "operatore_esperto": {"playback", "export", "visit"},
    "supervisore": {"playback", "export", "visit", "erasure"},
    "tecnico": set(),
    "amministratore": set(),
}
USER_OF_ROLE = {"operatore": "m.rossi", "operatore_esperto": "l.verdi",
                "supervisore": "g.conti", "tecnico": "t.gallo", "amministratore": "r.riva"}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("kind", list(AccessKind))
def test_permission_per_kind_and_role(world: World, role: str, kind: AccessKind) -> None:
    session = world.sessions[USER_OF_ROLE[role]]
    if str(kind) in ALLOWED[role]:
        entry = world.register.open_entry(session, request(kind), PASSWORD)
        assert entry.kind is kind
        return
    with pytest.raises(PermissionDenied) as caught:
        world.register.open_entry(session, request(kind), PASSWORD)
    assert caught.value.permission is KIND_PERMISSION[kind]
    assert entry_count(world.store) == 0
    refusal = world.audit.entries()[-1]
    assert (refusal.action, refusal.actor) == (PERMISSION_REFUSED, session.username)
    assert refusal.details["permission"] == str(KIND_PERMISSION[kind])


def test_wrong_signature_writes_nothing(world: World) -> None:
    with pytest.raises(SignatureRejected):
        world.register.open_entry(world.sessions["a.bianchi"], request(), "Sbagliata-123")
    assert entry_count(world.store) == 0
    assert int(world.store.fetch_one("SELECT COUNT(*) FROM register_camera")[0]) == 0
    assert "register_entry" not in actions(world.audit)


def test_incomplete_request_is_refused_before_the_signature_is_asked(world: World) -> None:
    asked: list[str] = []

    def spy(session: Session, password: str) -> bool:
        asked.append(password)
        return True

    register = AccessRegister(world.store, world.audit, spy, world.clock)
    with pytest.raises(RegisterIncomplete):
        register.open_entry(world.sessions["a.bianchi"], request(cameras=[]), PASSWORD)
    assert asked == []


# ------------------------------------------------------------------------------ later fields


def test_visit_open_and_close(world: World) -> None:
    op = world.sessions["a.bianchi"]
    visit = world.register.open_entry(op, request(AccessKind.VISIT), PASSWORD)
    other = world.register.open_entry(op, request(AccessKind.VISIT), PASSWORD)
    world.register.open_entry(op, request(), PASSWORD)
    assert visit.time_in == T0 and visit.is_open_visit
    assert [e.id for e in world.register.open_visits(op)] == [visit.id, other.id]
    with pytest.raises(PermissionDenied):
        world.register.open_visits(world.sessions["m.rossi"])

    world.clock.advance(timedelta(minutes=40))
    with pytest.raises(RegisterError):  # before the time in
        world.register.close_visit(op, visit.id, T0 - timedelta(minutes=1))
    with pytest.raises(RegisterError):  # in the future
        world.register.close_visit(op, visit.id, world.clock.now + timedelta(minutes=1))
    with pytest.raises(PermissionDenied):
        world.register.close_visit(world.sessions["m.rossi"], visit.id)
    closed = world.register.close_visit(world.sessions["l.verdi"], visit.id,
                                        T0 + timedelta(minutes=35))
    assert closed.time_out == T0 + timedelta(minutes=35)
    assert not closed.is_open_visit
    assert [e.id for e in world.register.open_visits(op)] == [other.id]
    event = world.audit.entries(action="register_visit_closed")[-1]
    assert (event.actor, event.target) == ("l.verdi", f"register/{visit.id}")
    with pytest.raises(RegisterError, match="already closed"):
        world.register.close_visit(op, visit.id)
    playback = world.register.entries(op, RegisterFilter(kind=AccessKind.PLAYBACK))[0]
    with pytest.raises(RegisterError, match="not a visit"):
        world.register.close_visit(op, playback.id)


def test_record_viewed_only_widens(world: World) -> None:
    entry = world.register.open_entry(world.sessions["a.bianchi"], request(), PASSWORD)
    h = timedelta(hours=1)
    first = world.register.record_viewed(entry.id, ["cam-01"], T0 - 5 * h, T0 - 4.5 * h)
    assert (first.viewed_from, first.viewed_to) == (T0 - 5 * h, T0 - 4.5 * h)
    assert first.viewed_cameras == ()  # cam-01 was asked for already
    narrower = world.register.record_viewed(entry.id, ["cam-02"], T0 - 4.9 * h, T0 - 4.8 * h)
    assert (narrower.viewed_from, narrower.viewed_to) == (T0 - 5 * h, T0 - 4.5 * h)
    wider = world.register.record_viewed(entry.id, ["cam-07", "cam-01"], T0 - 6 * h,
                                         T0 - 4 * h)
    assert (wider.viewed_from, wider.viewed_to) == (T0 - 6 * h, T0 - 4 * h)
    assert wider.cameras == ("cam-01", "cam-02")
    assert wider.viewed_cameras == ("cam-07",)
    assert wider.all_cameras == ("cam-01", "cam-02", "cam-07")
    # The camera filter finds it by a camera only viewed, too.
    found = world.register.entries(world.sessions["s.neri"], RegisterFilter(camera="cam-07"))
    assert [e.id for e in found] == [entry.id]
    with pytest.raises(RegisterError):
        world.register.record_viewed(entry.id, ["cam-01"], T0, T0 - h)


def test_attach_file_once(world: World) -> None:
    op = world.sessions["a.bianchi"]
    export = world.register.open_entry(op, request(AccessKind.EXPORT), PASSWORD)
    playback = world.register.open_entry(op, request(), PASSWORD)
    digest = "AB" * 32
    with pytest.raises(RegisterError):
        world.register.attach_file(export.id, "clip.mp4", "abc")
    with pytest.raises(RegisterError, match="not an export"):
        world.register.attach_file(playback.id, "clip.mp4", digest)
    done = world.register.attach_file(export.id, "2026-03-02_0300-0400_roma_cam-01.mp4",
                                      digest)
    assert (done.file_name, done.file_sha256) == (
        "2026-03-02_0300-0400_roma_cam-01.mp4", digest.lower())
    with pytest.raises(RegisterError, match="already"):
        world.register.attach_file(export.id, "other.mp4", "cd" * 32)
    event = world.audit.entries(action="register_file_attached")[-1]
    assert event.details["sha256"] == digest.lower()


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


def test_permissions_needed_are_those_of_the_roles_module() -> None:
    # KIND_PERMISSION names real permissions, and erasure is the responsabile's own.
    assert KIND_PERMISSION[AccessKind.ERASURE] is Permission.REVIEW_REGISTER
    assert set(KIND_PERMISSION) == set(AccessKind)
