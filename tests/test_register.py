"""The access register on real SQLite files: signing, refusals, later fields.

Entries: required fields, permissions per kind, the signature, visits, the span viewed and
the exported file. Filters, review and tampering are in ``test_register_review.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from register_support import (
    PASSWORD,
    PEOPLE,
    T0,
    VISITOR,
    World,
    actions,
    entry_count,
    register_world_fixture,  # noqa: F401
    request,
)

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
)
from registry.roles import Permission, PermissionDenied
from registry.session import PERMISSION_REFUSED, Session

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


def test_permissions_needed_are_those_of_the_roles_module() -> None:
    # KIND_PERMISSION names real permissions, and erasure is the responsabile's own.
    assert KIND_PERMISSION[AccessKind.ERASURE] is Permission.REVIEW_REGISTER
    assert set(KIND_PERMISSION) == set(AccessKind)
