"""Snapshots (Italian) of the export screen with its plan, the redaction tool over a recorded
frame with two boxes, and the removable-media list.

Each draws a real database (``tmp_path``) at a fixed clock, with footage recorded by the
recorder's own writer from ``car-detection.mp4`` at fixed times. The media list's rows are
written through the export store with fixed values (a real package's SHA-256 changes with
the ZIP's random salt, and its folder with ``tmp_path``). Update with
``uv run pytest tests/test_snapshots_export.py --snapshot-update`` after a deliberate change,
and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import password_of
from test_export_ui import NOW, EWorld, ExportApp, make_eworld, opener, settle, span
from test_media_ui import MediaApp
from test_redaction_ui import ToolApp

from footage.export import ExportRequest
from footage.redaction import RecipientKind
from registry.register import AccessKind, AccessRequest
from registry.store_export import ExportStore
from screens.export import ExportScreen

SIZE = (110, 34)


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def ew(tmp_path: Path) -> Iterator[EWorld]:
    e = make_eworld(tmp_path / "data")
    yield e
    e.w.store.close()


def test_export_screen(snap_compare, ew: EWorld) -> None:  # type: ignore[no-untyped-def]
    async def fill(pilot: Any) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ExportScreen)
        from textual.widgets import Select

        screen.query_one("#recipient", Select).value = RecipientKind.JUDICIAL_AUTHORITY
        await settle(pilot)

    app = ExportApp(ew.as_("gneri"), opener(ew.camera, *span(2, 9)))
    assert snap_compare(app, terminal_size=SIZE, run_before=fill)


def test_redaction_screen(snap_compare, ew: EWorld) -> None:  # type: ignore[no-untyped-def]
    async def draw(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("n", "s", "right", "right", "right", "n", "up", "up", "minus")
        await pilot.press("full_stop", "full_stop")
        await settle(pilot)

    start, end = span(2, 8)
    app = ToolApp(ew.as_("gneri"), ExportRequest(ew.camera, start, end,
                                                 RecipientKind.THIRD_PARTY))
    assert snap_compare(app, terminal_size=SIZE, run_before=draw)


def test_media_screen(snap_compare, ew: EWorld) -> None:  # type: ignore[no-untyped-def]
    store = ExportStore(ew.w.store)
    ids = []
    for n, (who, recipient) in enumerate((("lverdi", "Procura della Repubblica di Brescia"),
                                          ("gneri", "Carabinieri di Valdemo"),
                                          ("lverdi", "Avv. Bianchi (interessato)"))):
        start, end = span(n * 5, n * 5 + 4)
        entry = ew.w.register.open_entry(ew.w.sessions[who], AccessRequest(
            kind=AccessKind.EXPORT, purpose="police_investigation", cameras=[ew.camera],
            span_from=start.replace(second=0), span_to=end.replace(second=59),
            recipient=recipient), password_of(who))
        ids.append(store.add(
            register_entry_id=entry.id, file_name=f"2026-11-23_0900-0901_Piazza-Garibaldi_"
            f"piazza{'-' + str(n + 1) if n else ''}.zip", folder="/srv/centrale/esportazioni",
            sha256=f"{n + 1:x}" * 64, clip_sha256="0" * 64, size=1_234_567, camera=ew.camera,
            span_from=start, span_to=end, recipient_kind="judicial_authority",
            recipient=recipient, created_by=who, created_at=NOW))  # fmt: skip
    ew.ctx.media.copied(ew.w.sessions["lverdi"], ids[0], "chiavetta USB n. 3")
    ew.ctx.media.delivered(ew.w.sessions["gneri"], ids[1], "Mar. Rossi, prot. 812")
    app = MediaApp(ew.as_("gneri"))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
