"""The supervisor's review of the access register, driven by Pilot: filters, paging, detail,
marking reviewed, the audit-chain status, CSV/PDF export and who may open it.

Everything is real, as in ``test_register_ui`` (the shared ``World`` is in
``console_support``). Tampering goes through a raw ``sqlite3`` connection that drops the
append-only triggers first, as anyone with write access to the file could.
"""

from __future__ import annotations

import csv
import sqlite3
from typing import Any

import pytest
from console_support import (
    SIZE,
    VISITOR,
    RegisterApp,
    World,
    register_world,  # noqa: F401  (the ``world`` fixture)
    review_world,
    sign,
    table_ids,
)
from pypdf import PdfReader
from textual.app import App
from textual.widgets import DataTable, Input, Select, Static

from registry.roles import PermissionDenied
from registry.session import PERMISSION_REFUSED
from registry.store import Store
from screens.permissions import action_allowed
from screens.register_form import RegisterContext
from screens.review import ReviewNoteModal, ReviewScreen, open_review

pytestmark = pytest.mark.usefixtures("english")


# -------------------------------------------------------------------------- review screen


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
