"""The removable-media screen driven by Pilot: packages made by real exports, each change
recorded through its form and audited; operators see their own, the supervisor everyone's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import password_of
from test_export_ui import PACKAGE_PASSWORD, EWorld, make_eworld, settle, span
from textual.app import App
from textual.widgets import Checkbox, Input, Static
from ui_support import OpenerApp, table_rows

from footage.export import ExportRequest, ExportResult
from footage.media import MEDIA_COPIED, MEDIA_DELIVERED, MEDIA_DESTROYED
from footage.redaction import RecipientKind
from registry.register import AccessKind, AccessRequest
from screens.export import ExportContext
from screens.media import MediaChangeModal, MediaScreen, open_media

SIZE = (130, 36)


@pytest.fixture
def ew(tmp_path: Path) -> Iterator[EWorld]:
    e = make_eworld(tmp_path / "data")
    yield e
    e.w.store.close()


def export(ew: EWorld, who: str, seconds: tuple[float, float],
           recipient: str = "Procura di Brescia") -> ExportResult:  # fmt: skip
    """A real export, under a register entry signed with the person's password."""
    session = ew.w.sessions[who]
    start, end = span(*seconds)
    entry = ew.w.register.open_entry(session, AccessRequest(
        kind=AccessKind.EXPORT, purpose="police_investigation", cameras=[ew.camera],
        span_from=start.replace(second=0), span_to=end.replace(second=59),
        recipient=recipient), password_of(who))
    return ew.ctx.exporter.export_clip(
        session, ExportRequest(ew.camera, start, end, RecipientKind.JUDICIAL_AUTHORITY),
        register_entry_id=entry.id, password=PACKAGE_PASSWORD, out_dir=ew.out)


class MediaApp(OpenerApp[ExportContext]):
    def __init__(self, ctx: ExportContext,
                 opener: Callable[[App[Any], ExportContext], object] = open_media) -> None:
        super().__init__(ctx, opener)


def rows(app: App[Any]) -> list[list[str]]:
    return table_rows(app, "#media")


async def test_operators_see_their_own_packages_the_supervisor_everyones(ew: EWorld) -> None:
    mine = export(ew, "lverdi", (1, 3))
    theirs = export(ew, "gneri", (4, 6), "Carabinieri")
    app = MediaApp(ew.as_("lverdi"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MediaScreen)
        assert [r[0] for r in rows(app)] == [str(mine.package_id)]
        assert rows(app)[0][1] == "on disk"
        detail = str(app.screen.query_one("#media-detail", Static).render())
        assert mine.path.name in detail and "Exported by lverdi" in detail
    app = MediaApp(ew.as_("gneri"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [r[0] for r in rows(app)] == [str(theirs.package_id), str(mine.package_id)]


async def test_without_export_nor_review_the_list_does_not_open(ew: EWorld) -> None:
    app = MediaApp(ew.as_("mrossi"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, MediaScreen)
    refused = ew.w.audit.entries(action="permission_refused")[-1]
    assert refused.actor == "mrossi" and refused.target == "media"


async def test_copied_delivered_destroyed_are_recorded_and_audited(ew: EWorld) -> None:
    first = export(ew, "lverdi", (1, 3))
    second = export(ew, "lverdi", (4, 6))
    app = MediaApp(ew.as_("lverdi"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MediaScreen)
        assert rows(app)[1][0] == str(first.package_id)
        await pilot.press("down", "c")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, MediaChangeModal)
        await pilot.press("ctrl+s")  # nothing typed: the domain names the field
        await settle(pilot)
        assert "medium: say which medium" in str(modal.query_one("#media-error",
                                                                 Static).render())
        modal.query_one("#text", Input).value = "chiavetta USB n. 3"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert rows(app)[1][1] == "copied to medium"
        await pilot.press("d")
        await settle(pilot)
        app.screen.query_one("#text", Input).value = "Procura di Brescia, prot. 812"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert rows(app)[1][1] == "delivered"
        await pilot.press("x")  # delivered is final
        await settle(pilot)
        assert app.screen is screen and "nothing more to record" in str(
            screen.query_one("#media-message", Static).render())
        await pilot.press("up", "x")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, MediaChangeModal)
        modal.query_one("#text", Input).value = "cancellato: copia non necessaria"
        modal.query_one("#delete-file", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert rows(app)[0][1] == "destroyed"
        detail = str(screen.query_one("#media-detail", Static).render())
        assert "Destroyed by lverdi" in detail
    assert not second.path.exists() and first.path.exists()
    row = ew.ctx.media.get(ew.w.sessions["lverdi"], first.package_id)
    assert (row.state, row.medium, row.delivered_to) == (
        "delivered", "chiavetta USB n. 3", "Procura di Brescia, prot. 812")
    audit = ew.w.audit
    (copied,) = audit.entries(action=MEDIA_COPIED)
    (delivered,) = audit.entries(action=MEDIA_DELIVERED)
    (destroyed,) = audit.entries(action=MEDIA_DESTROYED)
    assert copied.actor == delivered.actor == destroyed.actor == "lverdi"
    assert dict(copied.details)["medium"] == "chiavetta USB n. 3"
    assert destroyed.target == f"export/{second.package_id}"
    assert dict(destroyed.details)["file_deleted"] == "True"
