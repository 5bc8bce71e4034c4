"""The recorder-status widget: health rows read in a worker, the disk-full alarm.

The rows are written by the recorder's own call (``FootageStore.set_health``) into a real
database; a blocking reader (failure injection) shows that the UI thread never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Input

from registry.store import Store, StoreError
from registry.store_footage import FootageStore, HealthRow
from screens.widgets.recorder_status import RecorderStatus, summarize

T = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def footage(tmp_path: Path) -> Iterator[FootageStore]:
    store = Store.open(tmp_path)
    yield FootageStore(store)
    store.close()


class StatusApp(App[None]):
    def __init__(self, read: Callable[[], list[HealthRow]], poll_s: float = 0.05) -> None:
        super().__init__()
        self.read = read
        self.poll_s = poll_s

    def compose(self) -> ComposeResult:
        yield RecorderStatus(self.read, poll_s=self.poll_s, id="rec")
        yield Input(id="typing")


async def wait_polls(pilot, widget: RecorderStatus, n: int) -> None:  # type: ignore[no-untyped-def]
    for _i in range(100):
        if widget.polls >= n:
            return
        await pilot.pause(0.02)
    raise AssertionError("the widget did not poll")


async def test_quiet_summary_then_a_prominent_alarm_on_a_full_disk(
    footage: FootageStore,
) -> None:
    for cam in ("cam1", "cam2", "cam3"):
        footage.set_health(cam, "recording", "", T)
    app = StatusApp(footage.all_health)
    async with app.run_test(size=(120, 5)) as pilot:
        widget = app.query_one("#rec", RecorderStatus)
        await wait_polls(pilot, widget, 1)
        assert str(widget.render()) == "REC 3/3" and not widget.has_class("alarm")
        footage.set_health("cam2", "reconnecting", "timeout", T)
        await wait_polls(pilot, widget, widget.polls + 2)
        assert "REC 2/3" in str(widget.render()) and "cam2: reconnecting" in str(widget.render())
        assert not widget.alarm
        footage.set_health("cam1", "disk_full", "12 MB free", T)
        footage.set_health("cam3", "disk_full", "12 MB free", T)
        await wait_polls(pilot, widget, widget.polls + 2)
        text = str(widget.render())
        assert widget.alarm and widget.has_class("alarm")
        assert "DISK FULL" in text and "cam1, cam3" in text
        # the error colour across the whole width: nobody can miss it
        await pilot.pause()
        error = Color.parse(app.get_css_variables()["error"])
        assert widget.styles.background.rgb == error.rgb and widget.size.width >= 100
        # space is back: the alarm goes by itself
        footage.set_health("cam1", "recording", "", T)
        footage.set_health("cam3", "recording", "", T)
        await wait_polls(pilot, widget, widget.polls + 2)
        assert not widget.alarm and not widget.has_class("alarm")


def test_failing_is_an_alarm_too_and_names_cameras_by_name() -> None:
    rows = [HealthRow("cam1", "failing", "auth", T, T, None),
            HealthRow("cam2", "recording", "", T, T, None)]
    text, alarm = summarize(rows, names={"cam1": "Piazza Duomo"})
    assert alarm and "RECORDING FAILING" in text and "Piazza Duomo" in text
    assert summarize([], None) == ("REC: no recorder has reported yet", False)


async def test_a_slow_database_never_blocks_the_console() -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow() -> list[HealthRow]:
        calls.append(1)
        release.wait(5)
        return [HealthRow("cam1", "disk_full", "", T, T, None)]

    app = StatusApp(slow, poll_s=10)
    async with app.run_test(size=(120, 5)) as pilot:
        widget = app.query_one("#rec", RecorderStatus)
        await pilot.pause(0.1)
        assert calls  # the read is under way, in its worker thread
        await pilot.click("#typing")
        await pilot.press(*"ciao")  # the UI answers meanwhile
        assert app.query_one("#typing", Input).value == "ciao"
        release.set()
        await wait_polls(pilot, widget, 1)
        assert widget.alarm


async def test_an_unreadable_database_says_so() -> None:
    def broken() -> list[HealthRow]:
        raise StoreError("database is locked")

    app = StatusApp(broken)
    async with app.run_test(size=(120, 5)) as pilot:
        widget = app.query_one("#rec", RecorderStatus)
        await wait_polls(pilot, widget, 1)
        assert "unavailable" in str(widget.render()) and widget.has_class("unavailable")
