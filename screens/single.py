"""One camera alone, on its main stream, with the stream's figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from registry.i18n import _
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.permissions import RoleChecked, action_allowed
from screens.widgets.camera_tile import CameraTile
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo
from screens.widgets.video import VideoView


class SingleScreen(RoleChecked, Screen[None]):
    CSS_PATH = "single.tcss"
    ACTION_SCOPE = "single"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", N_("Back to grid"), id="single.back"),
        Binding("left", "step(-1)", N_("Previous camera"), id="single.previous"),
        Binding("right", "step(1)", N_("Next camera"), id="single.next"),
        Binding("p", "ptz", N_("PTZ"), id="single.ptz"),
        Binding("m", "masks", N_("Masks"), id="single.masks"),
    ]

    def __init__(self, context: ConsoleContext, index: int) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.index = index
        self._tile: CameraTile | None = None
        self._covered = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="single-bar"):
            yield Static(id="single-stats")
            yield SessionInfo(self.context.session)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show()
        self.set_interval(1.0, self._update_stats)

    def _show(self) -> None:
        if self._tile is not None:
            self._tile.remove()
            self._tile = None
        if not action_allowed(self.context.session, "single", "step"):
            return  # fails closed: no session that may watch, no tile and no stream
        ctx = self.context
        tile = CameraTile(ctx.cameras[self.index], ctx.hub, "main", timezone=ctx.timezone,
                          clock_format=ctx.clock_format, clock=ctx.clock, index=self.index,
                          classes="single-tile")
        self._tile = tile
        self.mount(tile, before=0)
        tile.focus()
        self._update_stats()

    @property
    def tile(self) -> CameraTile:
        assert self._tile is not None
        return self._tile

    def _update_stats(self) -> None:
        stats_widget = self.query_one("#single-stats", Static)
        views = list(self._tile.query(VideoView)) if self._tile is not None else []
        stats = views[0].reader_stats if views else None
        if stats is None or not stats.frames:
            stats_widget.update(_("Main stream") + " · " + _("no figures yet"))
            return
        age = stats.last_frame_age_s
        stats_widget.update(
            _("Main stream") + " · "
            + _("{fps:.1f} fps · {kbps:.0f} kbit/s · last frame {age} ms ago · "
                "{reconnects} reconnections").format(
                fps=stats.fps, kbps=stats.kbps,
                age="—" if age is None else f"{age * 1000:.0f}",
                reconnects=stats.reconnects,
            )
        )

    def _open_over(self, opener: Callable[[str], bool]) -> None:
        """Open the PTZ screen or the mask editor on this camera; this view's stream closes
        meanwhile and comes back when that screen is left."""
        if self._tile is not None:
            self._tile.remove()
            self._tile = None
        self._covered = True
        if not opener(self.context.cameras[self.index].id):
            self._covered = False
            self._show()

    def on_screen_resume(self) -> None:
        if self._covered:
            self._covered = False
            self._show()

    def action_ptz(self) -> None:
        from screens.ptz import open_ptz

        self._open_over(lambda camera_id: open_ptz(self.app, camera_id))

    def action_masks(self) -> None:
        from screens.mask_editor import open_mask_editor

        self._open_over(lambda camera_id: open_mask_editor(self.app, camera_id))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_step(self, delta: int) -> None:
        count = len(self.context.cameras)
        if count > 1:
            self.index = (self.index + delta) % count
            self._show()
