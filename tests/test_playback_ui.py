"""The playback screens driven by Pilot: register form first, keys, status line, timeline.

Real everything: a database file, the audit trail, people signed in through the accounts
service, register entries signed with their passwords, and footage recorded by the
recorder's own writer from the real clip ``car-detection.mp4`` (12.5 fps, a keyframe every 4.8 s) at
fixed times, so that the status line can be checked to the second: two runs of 30 s with a
gap of 30 s between them, on the first demo camera.
"""

from __future__ import annotations

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

from footage.index import FootageIndex
from footage.playback import PLAYBACK, Playback
from footage.recorder import record_file
from registry.register import AccessKind, AccessRequest, RegisterEntry
from registry.store_footage import FootageStore, SegmentRow
from registry.store_ptz import PtzStore
from screens.playback import (
    GoToModal,
    PlaybackContext,
    PlaybackPickScreen,
    PlaybackScreen,
    open_playback,
)
from screens.register_form import RegisterFormScreen
from screens.widgets.timeline import Timeline

CLIP = VIDEO_DIR / "car-detection.mp4"
ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 10:30 in Rome
T1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Rome
T2 = T1 + timedelta(seconds=60)
SIZE = (120, 40)
FRAME = 0.08  # the clip's frame interval


pytestmark = pytest.mark.usefixtures("english")


@dataclass
class PWorld:
    w: World
    ctx: PlaybackContext
    segs: list[SegmentRow]

    @property
    def camera(self) -> str:
        return self.w.ctx.console.cameras[0].id

    def as_(self, who: str) -> PlaybackContext:
        self.w.as_(who)
        return self.ctx

    def sign(self, who: str) -> RegisterEntry:
        request = AccessRequest(kind=AccessKind.PLAYBACK, purpose="road_accident",
                                cameras=[self.camera], span_from=T1 - timedelta(hours=1),
                                span_to=NOW)  # fmt: skip
        return self.w.register.open_entry(self.w.sessions[who], request, password_of(who))


def make_pworld(data_dir: Path) -> PWorld:
    w = make_world(data_dir, Clock(NOW))
    cam = w.ctx.console.cameras[0].id
    index = FootageIndex(data_dir, FootageStore(w.store), w.clock)
    segs = (record_file(index, cam, CLIP, T1, segment_s=2)
            + record_file(index, cam, CLIP, T2, segment_s=2))
    playback = Playback(data_dir, index.store, PtzStore(w.store), w.register, w.audit,
                        w.ctx.console.cameras, w.clock, zone=ROME)
    return PWorld(w, PlaybackContext(w.ctx, playback), segs)


@pytest.fixture
def pw(tmp_path: Path) -> Iterator[PWorld]:
    p = make_pworld(tmp_path / "data")
    yield p
    p.w.store.close()


class PlaybackApp(OpenerApp[PlaybackContext]):
    pass


def open_player(entry: RegisterEntry, camera: str, at: datetime
                ) -> Callable[[App[Any], PlaybackContext], object]:  # fmt: skip
    def opener(app: App[Any], ctx: PlaybackContext) -> None:
        app.push_screen(PlaybackScreen(ctx, entry, camera, at))

    return opener


async def settle(pilot: Any) -> None:
    screen = pilot.app.screen
    if isinstance(screen, PlaybackScreen) and screen.reader is not None:
        assert screen.reader.wait_idle()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    screen = pilot.app.screen
    if isinstance(screen, PlaybackScreen):
        screen.tick()
    await pilot.pause()


def status(app: App[Any]) -> str:
    return str(app.screen.query_one("#playback-status", Static).render())


def position(app: App[Any]) -> datetime:
    screen = app.screen
    assert isinstance(screen, PlaybackScreen) and screen.reader is not None
    pos = screen.reader.state().position
    assert pos is not None
    return pos


def near(a: datetime, b: datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


async def test_footage_opens_only_after_the_register_entry_is_signed(pw: PWorld) -> None:
    app = PlaybackApp(pw.as_("lverdi"), open_playback)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, PlaybackPickScreen)
        app.screen.query_one("#camera", Select).value = pw.camera
        at = app.screen.query_one("#at", Input)
        at.value = ""
        await pilot.click("#at")
        await pilot.press(*"23/11/2026 09:00", "enter")  # 09:00 in Rome
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RegisterFormScreen)  # no footage before signing
        assert pw.w.audit.entries(action=PLAYBACK) == []
        form.query_one("#purpose", Select).value = "road_accident"
        form.query_one("#signature", Input).value = password_of("lverdi")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, PlaybackScreen)
        await settle(pilot)
        entry = app.screen.entry
        assert entry.kind is AccessKind.PLAYBACK and entry.cameras == (pw.camera,)
        assert entry.span_from == T1 - timedelta(hours=1)  # the form got the span around
        assert position(app) == T1  # 09:00:00 in Rome, the first frame
        text = status(app)
        assert "23/11/2026 09:00:00" in text and "1x" in text and "paused" in text
        assert "no privacy masks" in text
        cam = pw.w.ctx.console.cameras[0]
        assert cam.name in text and cam.place in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlaybackPickScreen)
    (opened,) = pw.w.audit.entries(action=PLAYBACK)
    assert opened.actor == "lverdi" and dict(opened.details)["register_entry"] == str(entry.id)
    stored = pw.w.register.entry(pw.w.sessions["lverdi"], entry.id)
    assert stored.viewed_from == T1  # the span actually viewed, recorded on the way out


async def test_backing_out_of_the_form_shows_no_footage(pw: PWorld) -> None:
    app = PlaybackApp(pw.as_("lverdi"), open_playback)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RegisterFormScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlaybackPickScreen)
    assert pw.w.audit.entries(action=PLAYBACK) == []


async def test_a_time_that_is_not_one_is_named_and_nothing_opens(pw: PWorld) -> None:
    app = PlaybackApp(pw.as_("lverdi"), open_playback)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#at", Input).value = "31/02/2026 10:00"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PlaybackPickScreen)
        error = app.screen.query_one("#pick-error", Static)
        assert "31/02/2026 10:00 is not a date and time" in str(error.render())
        app.screen.query_one("#at", Input).value = "24/11/2026 10:00"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "not happened yet" in str(error.render())


async def test_an_operator_without_playback_is_refused(pw: PWorld) -> None:
    app = PlaybackApp(pw.as_("mrossi"), open_playback)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, PlaybackPickScreen)
    assert pw.w.audit.entries(action="permission_refused")[-1].target == "playback"


async def test_keys_move_the_cursor(pw: PWorld) -> None:
    entry = pw.sign("lverdi")
    app = PlaybackApp(pw.as_("lverdi"), open_player(entry, pw.camera, T1 + timedelta(seconds=5)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        start = position(app)
        assert near(start, T1 + timedelta(seconds=5), FRAME)
        moves: list[tuple[tuple[str, ...], float]] = [
            (("right",), 10), (("left",), -10), (("full_stop",), FRAME),
            (("full_stop", "full_stop", "comma"), FRAME),
        ]
        for keys, delta in moves:
            before = position(app)
            await pilot.press(*keys)
            await settle(pilot)
            assert (position(app) - before).total_seconds() == pytest.approx(delta, abs=0.045)
        # shift+right: a minute on, across the gap (30 s of nothing) into the second run
        before = position(app)
        await pilot.press("shift+right")
        await settle(pilot)
        assert near(position(app), before + timedelta(seconds=60), FRAME)
        await pilot.press("shift+left")
        await settle(pilot)
        assert near(position(app), before, FRAME)
        # into the gap: the next recorded moment, and the notice says so
        await pilot.press("right", "right", "right")
        await settle(pilot)
        assert position(app) == T2
        notice = str(app.screen.query_one("#playback-notice", Static).render())
        assert "No recording at" in notice and "09:01:00" in notice
        # g: go to a typed time
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, GoToModal)
        app.screen.query_one("#goto", Input).value = "23/11/2026 09:00:20"
        await pilot.press("enter")
        await settle(pilot)
        assert near(position(app), T1 + timedelta(seconds=20), FRAME)
        assert "09:00:20" in status(app)
        # speed and play/pause
        await pilot.press("plus", "plus")
        await settle(pilot)
        assert "4x" in status(app)
        await pilot.press("minus")
        await settle(pilot)
        assert "2x" in status(app)
        before = position(app)
        await pilot.press("space")
        await pilot.pause(0.6)
        assert "playing" in status(app)
        await pilot.press("space")
        await settle(pilot)
        assert "paused" in status(app)
        assert (position(app) - before).total_seconds() > 0.5  # it played, at 2x


async def test_the_timeline_draws_recorded_spans_the_gap_and_the_cursor(pw: PWorld) -> None:
    entry = pw.sign("lverdi")
    app = PlaybackApp(pw.as_("lverdi"), open_player(entry, pw.camera, T1 + timedelta(seconds=5)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.screen.query_one("#timeline", Timeline)
        data = timeline.data
        assert data is not None
        first = [s for s in pw.segs if s.start_at < T2]
        second = [s for s in pw.segs if s.start_at >= T2]
        assert [(s.start, s.end) for s in data.recorded] == [
            (T1, first[-1].end_at), (T2, second[-1].end_at)]
        assert timeline.cursor == position(app)
        zoom_row = timeline.render().plain.splitlines()[3]
        assert "█" in zoom_row and "·" in zoom_row  # recorded, and the gap around it
