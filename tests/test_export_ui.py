"""The export screen driven by Pilot: fields -> plan -> register entry -> password -> run.

Real everything: a database file, the audit trail, people signed in through the accounts
service with their real passwords, footage recorded by the recorder's own writer from the
real clip ``car-detection.mp4`` (keyframes every 4.8 s) at fixed times, packages written to
a real folder and opened again with their password.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console_support import Clock, World, make_world, password_of
from peers import VIDEO_DIR
from textual.app import App
from textual.widgets import Input, Select, Static
from ui_support import OpenerApp

from footage.export import EXPORT, ExportCamera, Exporter, ExportSettings
from footage.export_package import sha256_file
from footage.index import FootageIndex
from footage.media import MediaLog
from footage.recorder import record_file
from footage.redaction import RecipientKind
from footage.verify import verify_package
from registry.store_export import ExportStore
from registry.store_footage import FootageStore, SegmentRow
from screens.export import ExportContext, ExportScreen, open_export
from screens.register_form import RegisterFormScreen
from screens.widgets.package_password import GeneratedPasswordModal, PackagePasswordModal

CLIP = VIDEO_DIR / "car-detection.mp4"
ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 10:30 in Rome
T1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Rome
SIZE = (120, 40)
PACKAGE_PASSWORD = "Procura-2026-Brescia"


pytestmark = pytest.mark.usefixtures("english")


@dataclass
class EWorld:
    w: World
    ctx: ExportContext
    segs: list[SegmentRow]
    out: Path

    @property
    def camera(self) -> str:
        return self.w.ctx.console.cameras[0].id

    def as_(self, who: str) -> ExportContext:
        self.w.as_(who)
        return self.ctx

    def files(self) -> list[str]:
        """Everything in the export folder, hidden work folders included."""
        return sorted(p.name for p in self.out.iterdir())


def make_eworld(data_dir: Path, clip: Path = CLIP) -> EWorld:
    w = make_world(data_dir, Clock(NOW))
    cam = w.ctx.console.cameras[0].id
    index = FootageIndex(data_dir, FootageStore(w.store), w.clock)
    segs = record_file(index, cam, clip, T1, segment_s=2)
    cameras = {c.id: ExportCamera(c.id, c.name, c.place) for c in w.ctx.console.cameras}
    exporter = Exporter(index, w.store, w.audit, w.register, cameras,
                        ExportSettings(tz=ROME, comune="Valdemo"), w.clock)
    out = data_dir / "exports"
    out.mkdir()
    media = MediaLog(ExportStore(w.store), w.audit, w.clock)
    return EWorld(w, ExportContext(w.ctx, exporter, media, out), segs, out)


@pytest.fixture
def ew(tmp_path: Path) -> Iterator[EWorld]:
    e = make_eworld(tmp_path / "data")
    yield e
    e.w.store.close()


class ExportApp(OpenerApp[ExportContext]):
    pass


def opener(camera: str | None, start: datetime | None, end: datetime | None
           ) -> Callable[[App[Any], ExportContext], object]:  # fmt: skip
    def run(app: App[Any], ctx: ExportContext) -> bool:
        return open_export(app, ctx, camera=camera, start=start, end=end)

    return run


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text(app: App[Any], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def span(seconds_from: float, seconds_to: float) -> tuple[datetime, datetime]:
    return T1 + timedelta(seconds=seconds_from), T1 + timedelta(seconds=seconds_to)


async def sign_form(pilot: Any, who: str, recipient: str = "Procura di Brescia") -> None:
    form = pilot.app.screen
    assert isinstance(form, RegisterFormScreen), text(pilot.app, "#export-message")
    form.query_one("#purpose", Select).value = "police_investigation"
    form.query_one("#recipient", Input).value = recipient
    form.query_one("#signature", Input).value = password_of(who)
    await pilot.press("ctrl+s")
    await settle(pilot)


async def type_password(pilot: Any, password: str, repeat: str | None = None) -> None:
    modal = pilot.app.screen
    assert isinstance(modal, PackagePasswordModal)
    modal.query_one("#password", Input).value = password
    modal.query_one("#repeat", Input).value = password if repeat is None else repeat
    await pilot.press("ctrl+s")
    await settle(pilot)


async def test_an_export_runs_from_the_fields_to_a_verified_package(ew: EWorld) -> None:
    start, end = span(2, 9)
    app = ExportApp(ew.as_("lverdi"), opener(ew.camera, start, end))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.query_one("#start", Input).value == "23/11/2026 09:00:02"
        screen.query_one("#recipient", Select).value = RecipientKind.JUDICIAL_AUTHORITY
        await settle(pilot)
        plan = text(app, "#export-plan")
        assert "stream copy" in plan and "2026-11-23_0900-0901" in plan and "0 min 7 s" in plan
        assert screen.plan is not None and screen.plan.method == "copy"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert ew.w.audit.entries(action=EXPORT) == []  # nothing before the entry is signed
        form = app.screen
        assert isinstance(form, RegisterFormScreen)
        assert form.kind.value == "export"
        await sign_form(pilot, "lverdi")
        await type_password(pilot, PACKAGE_PASSWORD, "something-else-2026")
        modal = app.screen
        assert isinstance(modal, PackagePasswordModal)  # the two differ: refused, kept open
        assert "differ" in str(modal.query_one("#password-error", Static).render())
        await type_password(pilot, PACKAGE_PASSWORD)
        assert app.screen is screen
        await settle(pilot)
        assert not screen.running and screen.done is not None
        result = text(app, "#export-result")
        assert "verified: the clip matches its manifest" in result
    (package,) = ew.out.iterdir()
    assert package.name.startswith("2026-11-23_0900-0901_") and package.suffix == ".zip"
    sha = sha256_file(package)
    assert sha in result and str(package) in result
    assert verify_package(package, PACKAGE_PASSWORD).ok
    (entry,) = ew.w.register.entries(ew.w.sessions["lverdi"])
    assert entry.file_name == package.name and entry.file_sha256 == sha
    assert entry.recipient == "Procura di Brescia" and entry.span_from <= start
    (audited,) = ew.w.audit.entries(action=EXPORT)
    assert audited.actor == "lverdi" and dict(audited.details)["sha256"] == sha


async def test_a_generated_password_is_shown_once_and_opens_the_package(ew: EWorld) -> None:
    start, end = span(1, 4)
    app = ExportApp(ew.as_("gneri"), opener(ew.camera, start, end))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#recipient", Select).value = RecipientKind.POLICE_FORCE
        await pilot.press("ctrl+s")
        await settle(pilot)
        await sign_form(pilot, "gneri", "Carabinieri di Valdemo")
        await pilot.press("ctrl+g")
        await settle(pilot)
        shown = app.screen
        assert isinstance(shown, GeneratedPasswordModal)
        password = str(shown.query_one("#generated", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen) and app.screen.done is not None
    (package,) = ew.out.iterdir()
    assert verify_package(package, password).ok
    # never stored: not in the database file, not in the audit trail
    assert password.encode() not in (ew.w.data_dir / "centrale.db").read_bytes()
    assert all(password not in str(e.details) for e in ew.w.audit.entries())


async def test_errors_are_shown_next_to_the_fields_and_nothing_is_signed(ew: EWorld) -> None:
    start = T1 - timedelta(hours=2)
    app = ExportApp(ew.as_("lverdi"), opener(ew.camera, start, start + timedelta(minutes=1)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#recipient", Select).value = RecipientKind.JUDICIAL_AUTHORITY
        await settle(pilot)
        assert "outside the recordings" in text(app, "#start-error")
        screen.query_one("#end", Input).value = "31/02/2026 10:00:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)  # no register form
        assert "31/02/2026 10:00:00 is not a date" in text(app, "#end-error")
    assert ew.w.register.entries(ew.w.sessions["lverdi"]) == []


async def test_without_the_export_permission_nothing_opens_and_the_refusal_is_audited(
    ew: EWorld,
) -> None:
    app = ExportApp(ew.as_("mrossi"), opener(ew.camera, *span(1, 3)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
    refused = ew.w.audit.entries(action="permission_refused")[-1]
    assert refused.actor == "mrossi" and refused.target == "export"


async def test_backing_out_of_the_register_form_exports_nothing(ew: EWorld) -> None:
    app = ExportApp(ew.as_("lverdi"), opener(ew.camera, *span(1, 3)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#recipient", Select).value = RecipientKind.POLICE_FORCE
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RegisterFormScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert "No register entry was signed" in text(app, "#export-message")
    assert ew.files() == [] and ew.w.audit.entries(action=EXPORT) == []


def test_the_domain_refuses_an_export_without_its_register_entry(ew: EWorld) -> None:
    from footage.export import ExportRefused, ExportRequest

    session = ew.w.sessions["lverdi"]
    start, end = span(1, 3)
    request = ExportRequest(ew.camera, start, end, RecipientKind.JUDICIAL_AUTHORITY)
    with pytest.raises(ExportRefused):
        ew.ctx.exporter.export_clip(session, request, register_entry_id=999,
                                    password=PACKAGE_PASSWORD, out_dir=ew.out)
    assert ew.files() == []


async def test_a_data_subject_copy_needs_a_redaction_plan_first(ew: EWorld) -> None:
    app = ExportApp(ew.as_("lverdi"), opener(ew.camera, *span(1, 3)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#recipient", Select).value = RecipientKind.DATA_SUBJECT
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)  # no register form
        message = text(app, "#export-message")
        assert "Redaction required" in message and "cannot redact" in message
        # the senior operator lacks "redact": the key is hidden and refused if forced
        assert screen.check_action("redact", ()) is False
        screen.action_redact()
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
    refused = ew.w.audit.entries(action="permission_refused")[-1]
    assert refused.actor == "lverdi" and refused.target == f"camera/{ew.camera}"
    assert ew.w.register.entries(ew.w.sessions["lverdi"]) == []


async def test_the_cancel_key_stops_a_running_export_and_leaves_nothing(
    ew: EWorld, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A third-party copy (redacted: a re-encode), cancelled with Ctrl+X while it runs.

    The export of 29 s takes a fraction of a second here, so its first progress report waits
    until the key was pressed (timing only: the export itself is the real one).
    """
    from footage.redaction import RedactionBox, RedactionKind, RedactionPlan

    reported, go_on = threading.Event(), threading.Event()
    export_clip = ew.ctx.exporter.export_clip

    def held(*args: Any, progress: Any, **kwargs: Any) -> Any:
        def report(fraction: float) -> None:
            reported.set()
            go_on.wait(10)
            progress(fraction)

        return export_clip(*args, progress=report, **kwargs)

    monkeypatch.setattr(ew.ctx.exporter, "export_clip", held)
    start, end = span(0, 29)
    app = ExportApp(ew.as_("gneri"), opener(ew.camera, start, end))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#recipient", Select).value = RecipientKind.THIRD_PARTY
        screen.redactions = RedactionPlan((RedactionBox(0.1, 0.1, 0.3, 0.3,
                                                        RedactionKind.BLUR, start, end),))
        await pilot.press("ctrl+s")
        await settle(pilot)
        await sign_form(pilot, "gneri", "Avv. Bianchi")
        modal = app.screen
        assert isinstance(modal, PackagePasswordModal)
        modal.query_one("#password", Input).value = PACKAGE_PASSWORD
        modal.query_one("#repeat", Input).value = PACKAGE_PASSWORD
        await pilot.press("ctrl+s")
        for _ in range(500):
            if reported.is_set():
                break
            await pilot.pause(0.01)
        assert screen.running and screen.check_action("cancel_export", ()) is True
        assert screen.check_action("next", ()) is False
        await pilot.press("ctrl+x")
        go_on.set()
        await settle(pilot)
        assert not screen.running and screen.done is None
        assert "cancelled" in text(app, "#export-message")
        assert screen.check_action("cancel_export", ()) is False
    assert ew.files() == []  # no package, no hidden work folder
    assert ew.w.audit.entries(action=EXPORT) == []
    (entry,) = ew.w.register.entries(ew.w.sessions["gneri"])
    assert entry.file_name is None
