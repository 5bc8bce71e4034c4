"""Snapshots of the playback screen and the holds screen (Italian).

Each draws a real database (``tmp_path``) at a fixed clock, with footage recorded by the
recorder's own writer from ``car-detection.mp4`` at fixed times, so a snapshot changes only
when the screen's layout or drawing changes. Update with
``uv run pytest tests/test_snapshots_playback.py --snapshot-update`` after a deliberate change,
and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_holds_ui import NOW, HoldsApp, HWorld, make_hworld
from test_playback_ui import T1, PlaybackApp, PWorld, make_pworld, open_player, settle

SIZE = (110, 34)


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def pw(tmp_path: Path) -> Iterator[PWorld]:
    p = make_pworld(tmp_path / "data")
    yield p
    p.w.store.close()


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HWorld]:
    h = make_hworld(tmp_path / "holds")
    yield h
    h.w.store.close()


def test_playback_screen(snap_compare, pw: PWorld) -> None:  # type: ignore[no-untyped-def]
    pw.w.clock.now = NOW
    from footage.holds import Holds
    from registry.store_footage import FootageStore

    Holds(FootageStore(pw.w.store), pw.w.audit, pw.w.clock).create(
        pw.w.sessions["gneri"], ground="seizure", authority="Procura di Brescia",
        reference="RG 12/26", cameras=[pw.camera], span_start=T1 + timedelta(seconds=10),
        span_end=T1 + timedelta(minutes=3), expires_at=NOW + timedelta(days=30))
    entry = pw.sign("lverdi")
    app = PlaybackApp(pw.as_("lverdi"), open_player(entry, pw.camera,
                                                    T1 + timedelta(seconds=12)))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_holds_screen(snap_compare, hw: HWorld) -> None:  # type: ignore[no-untyped-def]
    hw.place("RG 1/26", expires=NOW + timedelta(days=30))
    hw.place("Decreto 55/26", expires=NOW + timedelta(days=10), released=True)
    app = HoldsApp(hw.as_("gneri"))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
