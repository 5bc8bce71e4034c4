"""The access-register screen, its entry form and the supervisor's review, driven by Pilot.

Everything is real: a database file in ``tmp_path``, the audit trail, the accounts service
(argon2 at its minimum cost) whose ``verify_signature`` is the register's signature, sessions
opened by signing in. Tampering goes through a raw ``sqlite3`` connection that drops the
append-only triggers first, as anyone with write access to the file could.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console_support import (
    FAST_POLICY,
    StillHub,
    add_people,
    context,
    demo_camera_configs,
    password_of,
)
from pypdf import PdfReader
from textual.app import App
from textual.widgets import Checkbox, DataTable, Input, Select, SelectionList, Static
from ui_support import OpenerApp

from registry.accounts import Accounts
from registry.audit import AuditTrail, VerifyResult
from registry.register import (
    AccessKind,
    AccessRegister,
    AccessRequest,
    RegisterEntry,
    ThirdParty,
)
from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED, Session
from registry.store import Store
from screens.permissions import action_allowed
from screens.register import CloseVisitModal, RegisterScreen, open_register
from screens.register_form import RegisterContext, RegisterFormScreen
from screens.review import ReviewNoteModal, ReviewScreen, open_review, verify_settled

SIZE = (120, 40)
ROME = ZoneInfo("Europe/Rome")
#: 23/11/2026 10:30 in Rome, the console_support clock
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
VISITOR = ThirdParty("Giovanni Esposito", "C.I. CA12345AB", "prot. 1234/2026",
                     "Responsabile del trattamento")


class Clock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    audit: AuditTrail
    accounts: Accounts
    register: AccessRegister
    clock: Clock
    ctx: RegisterContext
    sessions: dict[str, Session]
    data_dir: Path

    def as_(self, username: str) -> RegisterContext:
        self.ctx.console.session = self.sessions[username]
        return self.ctx


def make_world(data_dir: Path, clock: Clock | None = None) -> World:
    clock = clock or Clock()
    store = Store.open(data_dir)
    audit = AuditTrail(store, b"k" * 32, clock)
    accounts = Accounts(store, audit, FAST_POLICY, clock=clock)
    add_people(accounts)
    sessions: dict[str, Session] = {}
    for username in ("mrossi", "lverdi", "gneri"):
        result = accounts.sign_in(username, password_of(username))
        assert result.session is not None, result.message
        sessions[username] = result.session
    register = AccessRegister(store, audit, accounts.verify_signature, clock,
                              extra_purposes=["Controllo mercato settimanale"])
    cams = demo_camera_configs()
    console = context(StillHub(cams), cams, accounts=accounts)
    ctx = RegisterContext(console=console, register=register, audit=audit,
                          data_dir=data_dir, clock=clock)
    return World(store, audit, accounts, register, clock, ctx, sessions, data_dir)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "data")
    yield w
    w.store.close()


def sign(w: World, who: str, kind: AccessKind = AccessKind.PLAYBACK, *,
         hours_ago: float = 5, **changes: Any) -> RegisterEntry:
    """One entry signed through the service with the person's real password."""
    cams = [c.id for c in w.ctx.console.cameras]
    req = AccessRequest(
        kind=kind, purpose="road_accident", cameras=cams[:2],
        span_from=w.clock() - timedelta(hours=hours_ago + 1),
        span_to=w.clock() - timedelta(hours=hours_ago), observations="Incidente via Roma")
    if kind is AccessKind.VISIT:
        req = replace(req, third_party=VISITOR, confidentiality_declared=True)
    return w.register.open_entry(w.sessions[who], replace(req, **changes), password_of(who))


def entry_count(w: World) -> int:
    return int(w.store.fetch_one("SELECT COUNT(*) FROM register_entry")[0])


class RegisterApp(OpenerApp[RegisterContext]):
    """Keeps what the form returns in ``results``."""

    def __init__(self, ctx: RegisterContext, opener: Callable[[App[Any], RegisterContext],
                                                               object]) -> None:
        super().__init__(ctx, opener)
        self.results: list[RegisterEntry | None] = []


def open_form(kind: AccessKind = AccessKind.VISIT, **kwargs: Any
              ) -> Callable[[App[Any], RegisterContext], object]:  # fmt: skip
    def opener(app: App[Any], ctx: RegisterContext) -> None:
        assert isinstance(app, RegisterApp)
        app.push_screen(RegisterFormScreen(ctx, kind, **kwargs), app.results.append)

    return opener


def fill_visit(screen: RegisterFormScreen, w: World, *, password: str) -> None:
    """Every field of a visitor entry, set on the widgets."""
    screen.query_one("#purpose", Select).value = "police_investigation"
    cams = screen.query_one("#cameras", SelectionList)
    cams.select(w.ctx.console.cameras[0].id)
    cams.select(w.ctx.console.cameras[2].id)
    screen.query_one("#span_from", Input).value = "22/11/2026 18:00"
    screen.query_one("#span_to", Input).value = "22/11/2026 19:15"
    screen.query_one("#third_party-name", Input).value = VISITOR.name
    screen.query_one("#third_party-document", Input).value = VISITOR.document
    screen.query_one("#third_party-authorization_ref", Input).value = VISITOR.authorization_ref
    screen.query_one("#third_party-authorization_issuer", Input).value = (
        VISITOR.authorization_issuer)
    screen.query_one("#observations", Input).value = "Furto di bicicletta, Carabinieri"
    screen.query_one("#confidentiality_declared", Checkbox).value = True
    screen.query_one("#signature", Input).value = password


def table_ids(screen: Any, table_id: str) -> list[int]:
    table = screen.query_one(f"#{table_id}", DataTable)
    return [int(str(table.get_row_at(i)[0])) for i in range(table.row_count)]


# ------------------------------------------------------------------------------ the form


async def test_visitor_entry_with_every_field_through_the_form(world: World) -> None:
    app = RegisterApp(world.as_("lverdi"), open_form())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RegisterFormScreen)
        fill_visit(screen, world, password=password_of("lverdi"))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, RegisterFormScreen)
    assert len(app.results) == 1 and app.results[0] is not None
    entry = app.results[0]
    stored = world.register.entry(world.sessions["lverdi"], entry.id)
    assert stored == entry
    assert entry.kind is AccessKind.VISIT and entry.username == "lverdi"
    assert entry.purpose == "police_investigation"
    cams = world.ctx.console.cameras
    assert entry.cameras == (cams[0].id, cams[2].id)
    # typed in Rome's time (UTC+1 in November)
    assert entry.span_from == datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert entry.span_to == datetime(2026, 11, 22, 18, 15, tzinfo=UTC)
    assert entry.third_party == VISITOR
    assert entry.observations == "Furto di bicicletta, Carabinieri"
    assert entry.confidentiality_declared
    assert entry.is_open_visit
    event = world.audit.entries(action="register_entry")[-1]
    assert event.id == entry.audit_id and event.actor == "lverdi"


async def test_the_form_is_driven_by_the_keyboard_alone(world: World) -> None:
    app = RegisterApp(world.as_("lverdi"), open_form())
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is not None and app.focused.id == "kind"
        await pilot.press("tab")  # purpose
        assert app.focused.id == "purpose"
        await pilot.press("enter", "down", "enter")  # the first purpose
        await pilot.press("tab", "space", "tab")  # first camera ticked; on to span_from
        assert app.focused.id == "span_from"
        await pilot.press(*"22/11/2026 18:00", "enter", *"22/11/2026 18:30", "enter")
        for text in (VISITOR.name, VISITOR.document, VISITOR.authorization_ref,
                     VISITOR.authorization_issuer, "visione in sala"):
            await pilot.press(*text, "enter")
        assert app.focused.id == "confidentiality_declared"
        await pilot.press("space", "tab", *password_of("lverdi"), "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    entry = app.results[0]
    assert entry is not None
    assert entry.purpose == world.register.purposes()[0].code
    assert entry.cameras == (world.ctx.console.cameras[0].id,)
    assert entry.third_party == VISITOR and entry.observations == "visione in sala"


async def test_submitting_empty_shows_every_missing_field_and_writes_nothing(
        world: World) -> None:
    before_audit = len(world.audit.entries())
    app = RegisterApp(world.as_("lverdi"), open_form())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RegisterFormScreen)
        screen.query_one("#observations", Input).value = "kept as typed"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RegisterFormScreen)
        assert set(screen.errors) == {
            "purpose", "cameras", "span_from", "span_to", "third_party.name",
            "third_party.document", "third_party.authorization_ref",
            "third_party.authorization_issuer", "confidentiality_declared", "signature"}
        for field in screen.errors:
            error = screen.query_one(f"#f-{field.replace('.', '-')}-error", Static)
            assert error.has_class("shown") and error.display
            assert str(error.render()).strip()
        assert "10 fields" in str(screen.query_one("#form-message", Static).render())
        assert screen.query_one("#observations", Input).value == "kept as typed"
        # "other" needs its words; a time that is not one is named.
        screen.query_one("#purpose", Select).value = "other"
        screen.query_one("#span_from", Input).value = "31/02/2026 10:00"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "purpose_text" in screen.errors and "purpose" not in screen.errors
        assert "31/02/2026 10:00" in screen.errors["span_from"]
    assert entry_count(world) == 0
    assert len(world.audit.entries()) == before_audit
    assert app.results == []


async def test_a_wrong_signature_writes_nothing_and_keeps_the_form(world: World) -> None:
    app = RegisterApp(world.as_("lverdi"), open_form())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RegisterFormScreen)
        fill_visit(screen, world, password="not-my-password")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen
        assert "signature" in screen.errors
        assert "nothing was written" in str(screen.query_one("#form-message", Static).render())
        assert screen.query_one("#signature", Input).value == ""
        assert app.focused is screen.query_one("#signature", Input)
        assert screen.query_one("#third_party-name", Input).value == VISITOR.name
        assert screen.query_one("#observations", Input).value.startswith("Furto")
        assert entry_count(world) == 0
        # the refused signature is audited by the accounts service
        assert world.audit.entries(action="signature_failed")
        # the right password then signs the same, untouched form
        screen.query_one("#signature", Input).value = password_of("lverdi")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert entry_count(world) == 1
    entry = app.results[0]
    assert entry is not None and entry.third_party == VISITOR


async def test_the_form_prefills_what_playback_knows_and_locks_the_kind(world: World) -> None:
    cam = world.ctx.console.cameras[1].id
    span = (NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    done: list[RegisterEntry | None] = []
    app = RegisterApp(world.as_("lverdi"), open_form(
        AccessKind.PLAYBACK, cameras=[cam], span=span, lock_kind=True, on_done=done.append))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RegisterFormScreen)
        assert screen.query_one("#kind", Select).disabled
        assert screen.query_one("#span_from", Input).value == "23/11/2026 07:30"
        assert list(screen.query_one("#cameras", SelectionList).selected) == [cam]
        screen.query_one("#purpose", Select).value = "road_accident"
        screen.query_one("#signature", Input).value = password_of("lverdi")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert done == app.results and done[0] is not None
    assert done[0].kind is AccessKind.PLAYBACK and done[0].third_party is None
    assert (done[0].span_from, done[0].span_to) == span


# ------------------------------------------------------------------------ register screen


async def test_register_screen_lists_own_entries_and_open_visits(world: World) -> None:
    mine = [sign(world, "lverdi", hours_ago=h) for h in (9, 8)]
    visit = sign(world, "lverdi", AccessKind.VISIT)
    other = sign(world, "gneri", AccessKind.VISIT)
    app = RegisterApp(world.as_("lverdi"), open_register)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RegisterScreen)
        # newest first, only one's own
        assert table_ids(screen, "entries") == [visit.id, mine[1].id, mine[0].id]
        # everyone's visitors, longest in the room first: whoever is on duty closes the visit
        assert table_ids(screen, "visits") == [visit.id, other.id]


async def test_new_visit_from_the_register_screen(world: World) -> None:
    app = RegisterApp(world.as_("lverdi"), open_register)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.check_action("close_visit", ()) is False  # nobody in the room
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, RegisterFormScreen) and form.kind is AccessKind.VISIT
        fill_visit(form, world, password=password_of("lverdi"))
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RegisterScreen)
        (entry,) = world.register.entries(world.sessions["lverdi"])
        assert table_ids(screen, "visits") == [entry.id]
        assert table_ids(screen, "entries") == [entry.id]


async def test_close_visit_records_the_time_out(world: World) -> None:
    visit = sign(world, "lverdi", AccessKind.VISIT)
    world.clock.now = NOW + timedelta(minutes=40)
    app = RegisterApp(world.as_("lverdi"), open_register)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        modal = app.screen
        assert isinstance(modal, CloseVisitModal)
        field = modal.query_one("#time-out", Input)
        assert field.value == "23/11/2026 11:10"
        # a time before the time in is refused, in the modal, nothing written
        field.value = "23/11/2026 09:00"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is modal
        assert "between the time in and now" in str(modal.query_one("#close-message",
                                                                     Static).render())
        field.value = "23/11/2026 11:05"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RegisterScreen)
        assert table_ids(screen, "visits") == []
        assert screen.check_action("close_visit", ()) is False
    closed = world.register.entry(world.sessions["lverdi"], visit.id)
    assert closed.time_out == datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    assert world.audit.entries(action="register_visit_closed")[-1].target == \
        f"register/{visit.id}"


async def test_register_paging(world: World) -> None:
    import screens.register as register_screen

    for i in range(7):
        sign(world, "lverdi", hours_ago=10 + i)
    app = RegisterApp(world.as_("lverdi"), open_register)
    old = register_screen.PAGE_SIZE
    register_screen.PAGE_SIZE = 3
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RegisterScreen)
            pages = [table_ids(screen, "entries")]
            for _ in range(2):
                await pilot.press("pagedown")
                pages.append(table_ids(screen, "entries"))
            assert [len(p) for p in pages] == [3, 3, 1]
            assert screen.check_action("page", (1,)) is False
            flat = [i for p in pages for i in p]
            assert flat == sorted(flat, reverse=True) and len(set(flat)) == 7
    finally:
        register_screen.PAGE_SIZE = old


async def test_operatore_without_playback_cannot_open_the_register(world: World) -> None:
    app = RegisterApp(world.as_("mrossi"), open_register)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, RegisterScreen)
    refusal = world.audit.entries(action=PERMISSION_REFUSED)[-1]
    assert refusal.actor == "mrossi" and refusal.target == "register"


# -------------------------------------------------------------------------- review screen


def review_world(w: World) -> dict[str, RegisterEntry]:
    """Entries by two operators and a supervisor on different days, cameras, purposes."""
    cams = [c.id for c in w.ctx.console.cameras]
    made: dict[str, RegisterEntry] = {}
    w.clock.now = NOW - timedelta(days=3)
    made["lverdi_old"] = sign(w, "lverdi", cameras=[cams[0]])
    w.clock.now = NOW - timedelta(days=1)
    made["lverdi_visit"] = sign(w, "lverdi", AccessKind.VISIT, cameras=[cams[1]],
                                purpose="police_investigation")
    made["gneri"] = sign(w, "gneri", cameras=[cams[2]], purpose="urban_security")
    w.clock.now = NOW
    made["lverdi_new"] = sign(w, "lverdi", cameras=[cams[0], cams[3]], hours_ago=1)
    return made


async def open_review_screen(app: RegisterApp, pilot: Any) -> ReviewScreen:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def apply(pilot: Any, screen: ReviewScreen, **values: Any) -> list[int]:
    for key, value in values.items():
        widget = screen.query_one(f"#filter-{key}")
        if isinstance(widget, Input):
            widget.value = value
        else:
            assert isinstance(widget, Select)
            widget.value = value
    await pilot.pause()
    screen.apply_filters()
    await pilot.pause()
    return table_ids(screen, "review-table")


async def test_review_filters_each_change_the_rows(world: World) -> None:
    made = review_world(world)
    ids = {k: e.id for k, e in made.items()}
    world.register.mark_reviewed(world.sessions["gneri"], ids["lverdi_old"], "ok")
    cams = [c.id for c in world.ctx.console.cameras]
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        everyone = [ids["lverdi_new"], ids["gneri"], ids["lverdi_visit"], ids["lverdi_old"]]
        assert table_ids(screen, "review-table") == everyone
        assert await apply(pilot, screen, **{"from": "22/11/2026", "to": "22/11/2026"}) == [
            ids["gneri"], ids["lverdi_visit"]]
        assert await apply(pilot, screen, **{"from": "", "to": "21/11/2026"}) == [
            ids["lverdi_old"]]
        assert await apply(pilot, screen, to="", person="gneri") == [ids["gneri"]]
        assert await apply(pilot, screen, person="", camera=cams[0]) == [
            ids["lverdi_new"], ids["lverdi_old"]]
        assert await apply(pilot, screen, camera=Select.NULL,
                           purpose="police_investigation") == [ids["lverdi_visit"]]
        assert await apply(pilot, screen, purpose=Select.NULL, reviewed="yes") == [
            ids["lverdi_old"]]
        assert await apply(pilot, screen, reviewed="no") == everyone[:3]
        # a day that is not one is named and the rows stay
        assert await apply(pilot, screen, **{"from": "32/11/2026"}) == everyone[:3]
        assert "32/11/2026" in str(screen.query_one("#filter-error", Static).render())


async def test_review_pages_through_a_large_register(world: World) -> None:
    import screens.review as review_screen

    for i in range(12):
        sign(world, "lverdi", hours_ago=2 + i)
    app = RegisterApp(world.as_("gneri"), open_review)
    old = review_screen.PAGE_SIZE
    review_screen.PAGE_SIZE = 5
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_review_screen(app, pilot)
            assert len(table_ids(screen, "review-table")) == 5
            assert "1–5 of 12" in str(screen.query_one("#review-status", Static).render())
            await pilot.press("pagedown", "pagedown")
            assert len(table_ids(screen, "review-table")) == 2
            assert "page 3 of 3" in str(screen.query_one("#review-status", Static).render())
            assert screen.check_action("page", (1,)) is False
            await pilot.press("pageup")
            assert len(table_ids(screen, "review-table")) == 5
    finally:
        review_screen.PAGE_SIZE = old


async def test_review_detail_shows_the_events_around(world: World) -> None:
    made = review_world(world)
    visit = made["lverdi_visit"]
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        table = screen.query_one("#review-table", DataTable)
        table.move_cursor(row=table_ids(screen, "review-table").index(visit.id))
        await pilot.pause()
        assert screen.selected == visit
        text = str(screen.query_one("#detail", Static).render())
        assert VISITOR.name in text and VISITOR.authorization_ref in text
        assert f"#{visit.audit_id} lverdi register_entry register/{visit.id}" in text
        # gneri's entry signed at the same time is not lverdi's: not around lverdi's entry
        assert f"register/{made['gneri'].id}" not in text


async def test_mark_reviewed_writes_the_review_and_its_audit_entry(world: World) -> None:
    made = review_world(world)
    target = made["lverdi_new"]
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        assert screen.selected == target  # newest first
        await pilot.press("r")
        modal = app.screen
        assert isinstance(modal, ReviewNoteModal)
        await pilot.press("enter")  # empty note: refused in the modal
        await pilot.pause()
        assert app.screen is modal
        assert "outcome" in str(modal.query_one("#note-message", Static).render())
        await pilot.press(*"finalita verificata", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen
        assert screen.selected is not None and screen.selected.review is not None
        # an entry already reviewed, or one's own, cannot be marked (greyed)
        assert screen.check_action("mark_reviewed", ()) is None
        own = table_ids(screen, "review-table").index(made["gneri"].id)
        screen.query_one("#review-table", DataTable).move_cursor(row=own)
        await pilot.pause()
        assert screen.check_action("mark_reviewed", ()) is None
    reviewed = world.register.entry(world.sessions["gneri"], target.id)
    assert reviewed.review is not None
    assert (reviewed.review.reviewer, reviewed.review.note) == ("gneri", "finalita verificata")
    event = world.audit.entries(action="register_reviewed")[-1]
    assert event.actor == "gneri" and event.target == f"register/{target.id}"
    assert reviewed.review.audit_id == event.id


def tamper_audit(store: Store, entry_id: int) -> None:
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TRIGGER IF EXISTS audit_no_update")
    raw.execute("DROP TRIGGER IF EXISTS audit_delete_only_pruned")
    raw.execute("UPDATE audit SET actor = 'nessuno' WHERE id = ?", (entry_id,))
    raw.commit()
    raw.close()


async def test_chain_status_intact_then_broken_after_tampering(world: World) -> None:
    review_world(world)
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        status = screen.query_one("#chain-status", Static)
        checked = world.audit.verify().checked
        assert checked > 4
        assert str(status.render()) == f"Audit trail intact: {checked} entries verified"
        assert status.has_class("intact")
        tamper_audit(world.store, 3)
        await pilot.press("v")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(status.render())
        assert text.startswith("WARNING: chain broken at entry 3 (")
        assert "altered" in text
        assert status.has_class("broken") and not status.has_class("intact")


async def test_export_writes_csv_and_pdf_into_the_export_folder(world: World) -> None:
    made = review_world(world)
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        await apply(pilot, screen, **{"from": "20/11/2026", "to": "23/11/2026"})
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        csv_path = screen.last_export
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pdf_path = screen.last_export
        assert str(pdf_path) in str(screen.query_one("#review-status", Static).render())
    assert csv_path is not None and pdf_path is not None
    folder = world.data_dir / "exports" / "register"
    assert csv_path.parent == folder and pdf_path.parent == folder
    assert csv_path.name.startswith("registro-accessi_20261120-20261123_")
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0][0] == "N."
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(e.id for e in made.values())
    text = "".join(page.extract_text() for page in PdfReader(pdf_path).pages)
    assert "REGISTRO DEGLI ACCESSI" in text and VISITOR.name in text
    assert "dal 20/11/2026 al 23/11/2026" in text
    exported = world.audit.entries(action="register_exported")
    assert [e.details["format"] for e in exported] == ["csv", "pdf"]
    assert exported[0].details["entries"] == 4 and exported[0].actor == "gneri"


async def test_export_without_period_goes_from_the_first_entry_to_today(world: World) -> None:
    review_world(world)
    app = RegisterApp(world.as_("gneri"), open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        assert [f"{d:%d/%m/%Y}" for d in screen.export_period()] == ["20/11/2026",
                                                                      "23/11/2026"]


# ------------------------------------------------------------------------------ roles


async def test_operatore_cannot_open_the_review(world: World) -> None:
    # hidden: the application-level key is not offered to the role
    assert not action_allowed(world.sessions["mrossi"], "app", "open_review")
    assert not action_allowed(world.sessions["lverdi"], "app", "open_review")
    assert action_allowed(world.sessions["gneri"], "app", "open_review")
    sign(world, "lverdi")
    for who in ("mrossi", "lverdi"):
        # refused by open_review, audited
        app = RegisterApp(world.as_(who), open_review)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert not isinstance(app.screen, ReviewScreen)
        assert world.audit.entries(action=PERMISSION_REFUSED)[-1].actor == who

    # pushed directly anyway: the screen refuses on mount, audited, shows nothing
    def push(app: App[Any], ctx: RegisterContext) -> None:
        app.push_screen(ReviewScreen(ctx))

    before = len(world.audit.entries(action=PERMISSION_REFUSED))
    app = RegisterApp(world.as_("lverdi"), push)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, ReviewScreen)
    assert len(world.audit.entries(action=PERMISSION_REFUSED)) == before + 1
    # and the domain refuses the review itself
    entry = world.register.entries(world.sessions["lverdi"])[0]
    with pytest.raises(PermissionDenied):
        world.register.mark_reviewed(world.sessions["lverdi"], entry.id, "ok")


async def test_review_keys_are_hidden_from_a_role_without_review(world: World) -> None:
    review_world(world)
    ctx = world.as_("gneri")
    app = RegisterApp(ctx, open_review)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review_screen(app, pilot)
        assert screen.check_action("export", ("csv",)) is True
        ctx.console.session = world.sessions["lverdi"]  # e.g. a stale screen after a change
        for action in ("mark_reviewed", "export", "verify"):
            assert screen.check_action(action, ()) is False


class RacingTrail(AuditTrail):
    """Failure injection: the first verification sees an append half-way (as happens when
    another desk writes during a long verification); later ones see the settled chain."""

    races = 1

    def verify(self) -> VerifyResult:
        if self.races:
            self.races -= 1
            return VerifyResult(False, 3, 4, "the chain's head record is older than the "
                                "entries (replayed head)")
        return super().verify()


def test_a_verification_raced_by_an_append_is_not_an_alarm(world: World) -> None:
    review_world(world)
    racing = RacingTrail(world.store, b"k" * 32, world.clock)
    result = verify_settled(racing.verify)
    assert result.ok and result.checked == world.audit.verify().checked
    # a real break fails the same way twice and is reported
    tamper_audit(world.store, 2)
    broken = verify_settled(AuditTrail(world.store, b"k" * 32, world.clock).verify)
    assert not broken.ok and broken.first_bad_id == 2
