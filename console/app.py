"""The Textual application: wiring of services into screens, nothing else.

The app owns the long-lived services (the stream hub today; the database, recorder link and
PTZ service later), passes them down to screens as attributes, and closes them on exit.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from cameras.credentials import get_camera_password
from cameras.hub import StreamHub
from console.config import CentraleConfig
from registry.i18n import _
from screens.bindings import N_, translate_bindings
from screens.blank import BlankScreen
from screens.context import ConsoleContext
from screens.grid import GridScreen

log = logging.getLogger(__name__)

PRIVACY_KEY = "f12"
PRIVACY_KEY_ALT = "b"


class CentraleApp(App[int]):
    TITLE = "Centrale"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(PRIVACY_KEY, "privacy_blank", N_("Blank screen"), priority=True,
                id="app.privacy_blank", key_display="F12"),
        Binding(PRIVACY_KEY_ALT, "privacy_blank", N_("Blank screen"), priority=True,
                show=False, id="app.privacy_blank_alt"),
        Binding("ctrl+q", "quit", N_("Quit"), priority=True, id="app.quit"),
    ]

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.title = f"Centrale · {context.site_name}"

    def on_mount(self) -> None:
        if os.environ.get("CENTRALE_BENCH_STATS"):
            from console.instrument import install

            install(self)
        self.push_screen(GridScreen(self.context))
        # Everything made at start-up lives as long as the console: keep it out of the
        # garbage collector's full passes, whose pauses showed up as key-latency peaks.
        self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        self.context.hub.close()

    @property
    def blanked(self) -> bool:
        return isinstance(self.screen, BlankScreen)

    def action_privacy_blank(self) -> None:
        """Toggle the privacy blank (R3): hide everything at once, or show it again."""
        if self.blanked:
            self.pop_screen()
        else:
            self.push_screen(BlankScreen("F12 / B"))


def build_context(config: CentraleConfig) -> ConsoleContext:
    hub = StreamHub(config.enabled_cameras, config.streams, password_for=get_camera_password)
    return ConsoleContext(
        hub=hub,
        cameras=config.enabled_cameras,
        site_name=config.site.comune,
        control_room=config.site.control_room,
        timezone=config.site.timezone,
        clock_format=config.ui.clock_format,
        layout=config.ui.grid_layout,
    )


def run_console(config: CentraleConfig, data_dir: Path, language: str, demo: bool) -> int:
    """Run the console until the operator quits; returns the process exit code."""
    log.info("console starting: %d cameras, language %s, demo %s, data %s",
             len(config.enabled_cameras), language, demo, data_dir)
    app = CentraleApp(build_context(config))
    result = app.run()
    return int(result or 0)


__all__ = ["CentraleApp", "_", "build_context", "run_console"]
