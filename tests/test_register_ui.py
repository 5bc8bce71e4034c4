"""The access-register screen and its entry form, driven by Pilot.

Everything is real: a database file in ``tmp_path``, the audit trail, the accounts service
(argon2 at its minimum cost) whose ``verify_signature`` is the register's signature, sessions
opened by signing in. The ``World`` they share with the review's tests is in
``console_support``; the playback, holds, export and register-snapshot modules import it (and
``review_world``) from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from console_support import (
    NOW,
    SIZE,
    VISITOR,
    RegisterApp,
    World,
    password_of,
    register_world,  # noqa: F401  (the ``world`` fixture)
    sign,
    table_ids,
)
from textual.app import App
from textual.widgets import Checkbox, Input, Select, SelectionList, Static

from registry.register import AccessKind, RegisterEntry
from registry.session import PERMISSION_REFUSED
from screens.register import CloseVisitModal, RegisterScreen, open_register
from screens.register_form import RegisterContext, RegisterFormScreen

pytestmark = pytest.mark.usefixtures("english")


def entry_count(w: World) -> int:
    return int(w.store.fetch_one("SELECT COUNT(*) FROM register_entry")[0])


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


