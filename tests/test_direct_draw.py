"""The direct video path: rows written past the compositor only where nothing covers them.

One test drives the real console in a real pseudo-terminal (signing in with a demo account,
as a person would) and reads the screen back with a terminal emulator; the other checks, on
a live Pilot session, which views may be written directly while a toast is shown.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest
from console_support import SignedInApp, add_people, open_accounts

from console.app import build_context
from console.demo import demo_config
from registry.accounts_core import DEMO_ACCOUNTS
from registry.i18n import set_language
from screens.widgets.video import FrameClock, VideoView, _DirectWriter

ROOT = Path(__file__).resolve().parents[1]
COLS, ROWS = 120, 40


class Terminal:
    """The console in a pseudo-terminal, its output fed into a pyte screen."""

    def __init__(self, data_dir: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
                   CENTRALE_DATA_DIR=str(data_dir), CENTRALE_LANG="it",
                   CENTRALE_KEY_DIR=str(data_dir / "keys"),
                   # the audit key in the key directory, never in the user's keyring
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        env.pop("CENTRALE_AUDIT_KEY", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--demo"], stdin=slave, stdout=slave,
            stderr=slave, cwd=ROOT, env=env, start_new_session=True,
        )
        os.close(slave)
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                self.stream.feed(data)

    def pump_until(self, done: Callable[[], bool], timeout: float) -> None:
        end = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < end, "\n".join(self.screen.display)
            self.pump(0.1)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def sign_in(self, username: str, password: str) -> None:
        """Type at the sign-in screen: user name, Enter, password, Enter."""
        self.press(username.encode() + b"\r")
        self.pump(0.3)
        self.press(password.encode() + b"\r")

    def close(self) -> None:
        self.press(b"\x11")  # ctrl+q
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.master)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-pty")
    demo_config(path)  # make the clips before the clock starts
    return path


def test_real_terminal_shows_video_and_the_privacy_blank_covers_it(demo_dir: Path) -> None:
    term = Terminal(demo_dir)
    try:
        term.pump_until(lambda: any("Password" in line for line in term.screen.display), 15.0)
        assert not any("▀" in line for line in term.screen.display)  # no camera yet
        username, _name, _role, password = DEMO_ACCOUNTS[0]
        term.sign_in(username, password)
        term.pump(6.0)
        shown = term.screen.display
        assert any("Cam 01 · Piazza Garibaldi" in line for line in shown), "\n".join(shown)
        video_rows = [line for line in shown if line.count("▀") > 40]
        assert len(video_rows) > 20
        # tile borders stay in place on every video row: video never spills over them
        for line in video_rows:
            assert line[0] in "│┃" and line.rstrip()[-1] in "│┃", line
        term.press(b"b")
        term.pump(2.0)  # the grid's readers keep decoding all the while
        blanked = term.screen.display
        assert any("Schermo oscurato" in line for line in blanked)
        assert not any("▀" in line for line in blanked), "video drawn over the privacy blank"
        assert not any("Piazza" in line for line in blanked)
        term.press(b"b")
        term.pump(2.0)
        assert sum(line.count("▀") > 40 for line in term.screen.display) > 20
    finally:
        term.close()


async def test_views_under_a_toast_take_the_ordinary_path(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the headless test driver has no colour system; a real terminal has one
    monkeypatch.setattr("screens.widgets.video.color_mode", lambda _console: "truecolor")
    set_language("it")
    try:
        accounts = open_accounts(tmp_path)
        add_people(accounts)
        app = SignedInApp(build_context(demo_config(demo_dir), accounts))
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            views = list(app.screen.query(VideoView))
            deadline = time.monotonic() + 10
            while not all(v.painted_frames for v in views):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            app.notify("Avviso sopra il video", timeout=30)
            await pilot.pause(0.5)
            writer = _DirectWriter(app.screen)
            covered = [v for v in views if any(c.overlaps(v.region) for c in writer.covers)]
            assert [v.camera_id for v in covered] == [views[3].camera_id]  # bottom right
            FrameClock.of(app.screen).views.clear()  # keep the next frames for this test
            await asyncio.sleep(0.3)  # new frames for everyone
            assert writer.draw(views[3]) is False
            assert writer.draw(views[0]) is True
            assert writer.chunks and writer.chunks[0].startswith(
                f"\x1b[{views[0].region.y + 1};{views[0].region.x + 1}H"
            )
    finally:
        set_language("en")
