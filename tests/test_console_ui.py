"""Behaviour of the console with real demo streams: clips encoded by PyAV, decoded by the
real StreamReader threads through the real StreamHub (nothing faked)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest
from console_support import SignedInApp, accounts_with_people
from rich.console import Console

from cameras.stream import StreamStatus
from console.app import CentraleApp, build_context
from console.config import CentraleConfig
from console.demo import demo_config
from registry.accounts import Accounts
from registry.i18n import set_language
from screens.blank import BlankScreen
from screens.grid import GridScreen
from screens.single import SingleScreen
from screens.widgets.camera_tile import CameraTile, EmptyTile
from screens.widgets.video import VideoView

SIZE = (160, 48)


@pytest.fixture(scope="session")
def demo_cfg(tmp_path_factory: pytest.TempPathFactory) -> CentraleConfig:
    return demo_config(tmp_path_factory.mktemp("demo-data"))


pytestmark = pytest.mark.usefixtures("italian")


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    yield from accounts_with_people(tmp_path)


def make_app(cfg: CentraleConfig, accounts: Accounts) -> CentraleApp:
    """The console with an operator signed in, as every test here starts."""
    return SignedInApp(build_context(cfg, accounts))


async def wait_for(pilot: object, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def grid(app: CentraleApp) -> GridScreen:
    assert isinstance(app.screen, GridScreen)
    return app.screen


def screen_text(app: CentraleApp) -> str:
    """The characters on the screen, line by line (what a person would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def open_streams(app: CentraleApp) -> set[tuple[str, str]]:
    return set(app.context.hub.open_streams())


async def test_grid_shows_live_moving_pictures(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        views = list(app.screen.query(VideoView))
        assert len(views) == 4
        await wait_for(pilot, lambda: all(v.painted_frames >= 5 for v in views))
        assert all(v.status is StreamStatus.LIVE for v in views)
        # only the sub-streams of the cameras on screen are open
        assert open_streams(app) == {(c.id, "sub") for c in demo_cfg.cameras[:4]}
        # moving pictures: two frames of the same view differ
        first = views[1]._frame
        assert first is not None
        await wait_for(pilot, lambda: views[1]._frame is not None
                       and views[1]._frame.seq > first.seq + 3)
        second = views[1]._frame
        assert second is not None and (second.rgb != first.rgb).any()
        # frames are scaled to the tile: picture fits the widget, 2 pixels per cell row
        h, w, _ = second.rgb.shape
        assert w <= views[1].size.width and h <= views[1].size.height * 2
        assert max(w / views[1].size.width, h / (views[1].size.height * 2)) > 0.9


async def test_tiles_show_name_place_clock_and_status(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        tiles = list(app.screen.query(CameraTile))
        await wait_for(pilot, lambda: all("in diretta" in str(t.border_subtitle) for t in tiles))
        tile = tiles[0]
        assert str(tile.border_title) == "Cam 01 · Piazza Garibaldi"
        assert "/20" in str(tile.border_subtitle)  # the date of the clock, dd/mm/yyyy


async def test_arrow_keys_move_focus(demo_cfg: CentraleConfig, accounts: Accounts) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        g = grid(app)
        assert g.focused_camera_index() == 0
        await pilot.press("right")
        assert g.focused_camera_index() == 1
        await pilot.press("down")
        assert g.focused_camera_index() == 3
        await pilot.press("left")
        assert g.focused_camera_index() == 2
        await pilot.press("up")
        assert g.focused_camera_index() == 0
        await pilot.press("up")  # at the edge nothing moves
        assert g.focused_camera_index() == 0


async def test_layouts_and_paging(demo_cfg: CentraleConfig, accounts: Accounts) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key, tiles, empties in (("3", 6, 3), ("1", 1, 0), ("4", 6, 10), ("2", 4, 0)):
            await pilot.press(key)
            await pilot.pause()
            assert len(app.screen.query(CameraTile)) == tiles, key
            assert len(app.screen.query(EmptyTile)) == empties, key
        await pilot.press("pagedown")
        await pilot.pause()
        g = grid(app)
        assert g.page == 1
        shown = [t.camera.id for t in app.screen.query(CameraTile)]
        assert shown == [c.id for c in demo_cfg.cameras[4:6]]
        assert "Pagina 2 di 2" in str(app.screen.query_one("#grid-header").render())
        await wait_for(pilot, lambda: open_streams(app) == {(i, "sub") for i in shown})
        await pilot.press("pageup")
        await pilot.pause()
        assert grid(app).page == 0
        # moving right past the last tile of a page goes to the next page
        for _ in range(4):
            await pilot.press("right")
        await pilot.pause()
        assert grid(app).page == 1 and grid(app).focused_camera_index() == 4


async def test_full_view_uses_main_stream_and_escape_returns(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SingleScreen)
        assert app.screen.tile.camera.id == demo_cfg.cameras[1].id
        view = app.screen.query_one(VideoView)
        assert view.which == "main"
        await wait_for(pilot, lambda: view.painted_frames >= 3)
        # the grid's sub-streams are closed while the full view is shown
        await wait_for(pilot, lambda: open_streams(app) == {(demo_cfg.cameras[1].id, "main")})
        await pilot.press("right")  # next camera in the full view
        await pilot.pause()
        assert app.screen.tile.camera.id == demo_cfg.cameras[2].id
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, GridScreen)
        await wait_for(pilot, lambda: open_streams(app)
                       == {(c.id, "sub") for c in demo_cfg.cameras[:4]})
        assert grid(app).focused_camera_index() == 1


@pytest.mark.parametrize("key", ["b", "f12"])
async def test_privacy_blank_hides_everything_until_pressed_again(
    demo_cfg: CentraleConfig, accounts: Accounts, key: str
) -> None:
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all(v.painted_frames for v in app.screen.query(VideoView)))
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, BlankScreen)
        text = screen_text(app)
        assert "Schermo oscurato" in text
        for cam in demo_cfg.cameras:
            assert cam.place not in text and cam.name not in text
        assert "▀" not in text  # no picture at all
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, GridScreen)
        # it works in the full view too
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, BlankScreen)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, SingleScreen)


async def test_toast_over_live_video_is_drawn_correctly(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    """A toast cuts the video rows; the cut rows must come from segments, not raw text."""
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        views = list(app.screen.query(VideoView))
        await wait_for(pilot, lambda: all(v.painted_frames >= 2 for v in views))
        app.notify("Avviso di prova", timeout=30)
        await pilot.pause(0.3)
        await wait_for(pilot, lambda: views[3].painted_frames >= 10)
        screen = screen_text(app)
        assert "Avviso di prova" in screen, screen
        # Feed the bytes Textual would send to the terminal into a terminal emulator, and read
        # the screen back: the toast is intact and the video around it is still half-blocks.
        update = app.screen._compositor.render_update(full=True)
        console = Console(width=SIZE[0], color_system="truecolor", force_terminal=True,
                          legacy_windows=False)
        raw = update.render_segments(console)
        assert "\x1b[38;2;" in raw  # the fast path was used for uncut rows
        term = pyte.Screen(*SIZE)
        pyte.Stream(term).feed(raw.replace("\n", "\r\n"))
        shown = term.display
        toast_rows = [y for y, line in enumerate(shown) if "Avviso di prova" in line]
        assert toast_rows, "\n".join(shown)
        y = toast_rows[0]
        x = shown[y].index("Avviso di prova")
        # left of the toast, on the same row, the video of the bottom-right tile goes on
        right_tile = views[3].region
        assert right_tile.x < x
        assert set(shown[y][right_tile.x : x - 2]) <= {"▀", " "}
        assert "▀" in shown[y][right_tile.x : x - 2]
        # rows of the same tile without the toast are all half-blocks across the picture
        row = shown[right_tile.y + 1][right_tile.x : right_tile.right]
        assert row.strip() and set(row.strip()) == {"▀"}
        assert all(len(line) == SIZE[0] for line in shown)


async def test_english_on_request(demo_cfg: CentraleConfig, accounts: Accounts) -> None:
    set_language("en")
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = screen_text(app)
        assert "Full view" in footer and "Schermo intero" not in footer
    set_language("it")
    app = make_app(demo_cfg, accounts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Schermo intero" in screen_text(app)


def test_demo_clips_are_made_once(tmp_path: Path) -> None:
    first = demo_config(tmp_path)
    stamps = {c.id: Path(c.main_url or "").stat().st_mtime_ns for c in first.cameras}
    second = demo_config(tmp_path)
    assert {c.id: Path(c.main_url or "").stat().st_mtime_ns for c in second.cameras} == stamps
    assert len(second.cameras) >= 4
    assert all(c.loop for c in second.cameras)


async def test_silent_and_unreachable_cameras_never_block_the_console(
    demo_cfg: CentraleConfig, accounts: Accounts
) -> None:
    """A camera that accepts the connection and never answers, and one that refuses it:
    their tiles say so, the other tiles play, and keys are handled at once."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = silent.accept()
                accepted.append(conn)  # never answer
            except OSError:
                continue

    threading.Thread(target=hold, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    from cameras.config import CameraConfig, StreamSettings

    cams = [
        CameraConfig(id="muta", name="Cam 07", place="Via Muta",
                     main_url=f"rtsp://127.0.0.1:{silent.getsockname()[1]}/main"),
        CameraConfig(id="spenta", name="Cam 08", place="Via Spenta",
                     main_url=f"rtsp://127.0.0.1:{refused_port}/main"),
        *demo_cfg.cameras[:2],
    ]
    cfg = demo_cfg.model_copy(update={
        "cameras": cams,
        "streams": StreamSettings(open_timeout_s=2, read_timeout_s=2),
    })
    app = make_app(cfg, accounts)
    try:
        async with app.run_test(size=SIZE) as pilot:
            views = list(app.screen.query(VideoView))
            await wait_for(pilot, lambda: views[2].painted_frames > 3
                           and views[3].painted_frames > 3)
            for _ in range(6):
                started = time.monotonic()
                await pilot.press("right")
                await pilot.press("left")
                assert time.monotonic() - started < 0.5
            await wait_for(pilot, lambda: views[1].status in (StreamStatus.RECONNECTING,
                                                               StreamStatus.OFFLINE))
            await wait_for(pilot, lambda: views[0].status is not StreamStatus.CONNECTING,
                           timeout=6)
            assert views[0].status in (StreamStatus.RECONNECTING, StreamStatus.OFFLINE)
            assert views[0]._frame is None and views[1]._frame is None
            assert "riconnessione" in screen_text(app) or "non raggiungibile" in screen_text(app)
            before = views[2].painted_frames
            await asyncio.sleep(1.0)
            assert views[2].painted_frames >= before + 5  # the others kept playing
    finally:
        stop.set()
        silent.close()
        for conn in accepted:
            conn.close()
