"""The live grid: 1, 4, 9 or 16 cameras a page, paging, keyboard focus, full view on Enter."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import Grid, Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from registry.i18n import _
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.mask_editor import open_mask_editor
from screens.permissions import RoleChecked, action_allowed
from screens.ptz import open_ptz
from screens.single import SingleScreen
from screens.widgets.camera_tile import CameraTile, EmptyTile
from screens.widgets.footer import KeyFooter
from screens.widgets.recorder_status import RecorderStatus
from screens.widgets.session_info import SessionInfo

LAYOUTS = (1, 4, 9, 16)
_LAYOUTS = Binding.Group(N_("Grid 1/4/9/16"), compact=True)
_PAGES = Binding.Group(N_("Page"))


def _translate_groups(screen: Screen[None]) -> None:
    """Footer groups' descriptions in the language chosen at start-up, like the bindings'."""
    keys = {
        key: [replace(b, group=replace(b.group, description=_(b.group.description)))
              if b.group else b for b in bindings]
        for key, bindings in screen._bindings.key_to_bindings.items()
    }
    screen._bindings = BindingsMap.from_keys(keys)


class GridScreen(RoleChecked, Screen[None]):
    CSS_PATH = "grid.tcss"
    ACTION_SCOPE = "grid"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(0, -1)", N_("Up"), show=False, id="grid.focus_up"),
        Binding("down", "move(0, 1)", N_("Down"), show=False, id="grid.focus_down"),
        Binding("left", "move(-1, 0)", N_("Left"), show=False, id="grid.focus_left"),
        Binding("right", "move(1, 0)", N_("Right"), show=False, id="grid.focus_right"),
        Binding("enter", "open", N_("Full view"), id="grid.open"),
        Binding("p", "ptz", N_("PTZ"), id="grid.ptz"),
        Binding("m", "masks", N_("Masks"), id="grid.masks"),
        # grouped in the footer ("1234 Grid 1/4/9/16"), leaving room for the session's keys
        Binding("1", "layout(1)", N_("Grid 1"), id="grid.layout_1", group=_LAYOUTS),
        Binding("2", "layout(4)", N_("Grid 4"), id="grid.layout_4", group=_LAYOUTS),
        Binding("3", "layout(9)", N_("Grid 9"), id="grid.layout_9", group=_LAYOUTS),
        Binding("4", "layout(16)", N_("Grid 16"), id="grid.layout_16", group=_LAYOUTS),
        Binding("pagedown", "page(1)", N_("Next pg."), id="grid.page_next", group=_PAGES),
        Binding("pageup", "page(-1)", N_("Prev. pg."), id="grid.page_previous", group=_PAGES),
    ]

    layout_size: reactive[int] = reactive(4, init=False)
    page: reactive[int] = reactive(0, init=False)

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        translate_bindings(self)
        _translate_groups(self)
        self.context = context
        self.cameras = context.cameras
        self.set_reactive(GridScreen.layout_size, context.layout if context.layout in LAYOUTS
                          else 4)
        self._focus_index = 0
        self._suspended = False

    # -- composition ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="grid-bar"):
            yield Static(id="grid-header")
            if self.context.read_health is not None:
                yield RecorderStatus(self.context.read_health,
                                     names={c.id: c.name for c in self.cameras})
            yield SessionInfo(self.context.session)
        yield Grid(id="grid")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._rebuild()

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.cameras) / self.layout_size))

    def page_cameras(self) -> list[int]:
        start = self.page * self.layout_size
        return list(range(start, min(len(self.cameras), start + self.layout_size)))

    def _rebuild(self) -> None:
        grid = self.query_one("#grid", Grid)
        side = math.isqrt(self.layout_size)
        grid.styles.grid_size_columns = side
        grid.styles.grid_size_rows = side
        grid.remove_children()
        if self._suspended or not action_allowed(self.context.session, "grid", "open"):
            return  # fails closed: no session that may watch, no tile and no stream
        ctx = self.context
        tiles = [
            CameraTile(self.cameras[i], ctx.hub, "sub", timezone=ctx.timezone,
                       clock_format=ctx.clock_format, clock=ctx.clock, index=i)
            for i in self.page_cameras()
        ]
        empties = [EmptyTile() for _ in range(self.layout_size - len(tiles))]
        grid.mount_all([*tiles, *empties])
        if tiles:
            index = min(max(self._focus_index, 0), len(tiles) - 1)
            self.call_after_refresh(tiles[index].focus)
        self._update_header()

    def _update_header(self) -> None:
        ctx = self.context
        header = self.query_one("#grid-header", Static)
        header.update(
            f"[b]{ctx.site_name}[/b] · {ctx.control_room}    "
            + _("Page {page} of {pages}").format(page=self.page + 1, pages=self.pages)
            + "    "
            + _("{n} cameras").format(n=len(self.cameras))
        )

    def _show(self, layout: int, page: int, focus: int) -> None:
        """Show page ``page`` of layout ``layout`` with tile ``focus`` focused."""
        self.set_reactive(GridScreen.layout_size, layout)
        self.set_reactive(GridScreen.page, min(max(0, page), self.pages - 1))
        self._focus_index = focus
        self._rebuild()

    # -- actions ------------------------------------------------------------------------

    def _tiles(self) -> list[CameraTile]:
        return list(self.query(CameraTile))

    def focused_camera_index(self) -> int | None:
        focused = self.focused
        if isinstance(focused, CameraTile) and focused.index is not None:
            return focused.index
        return None

    def action_move(self, dx: int, dy: int) -> None:
        tiles = self._tiles()
        if not tiles:
            return
        side = math.isqrt(self.layout_size)
        current = self.focused_camera_index()
        pos = 0 if current is None else current - self.page * self.layout_size
        if dx:
            pos += dx
            if pos < 0:
                if self.page > 0:
                    self._show(self.layout_size, self.page - 1, self.layout_size - 1)
                return
            if pos >= len(tiles):
                if self.page < self.pages - 1:
                    self._show(self.layout_size, self.page + 1, 0)
                return
        else:
            pos = pos + dy * side
            if not 0 <= pos < len(tiles):
                return
        self._focus_index = pos
        tiles[pos].focus()

    def action_layout(self, size: int) -> None:
        current = self.focused_camera_index() or 0
        # keep the focused camera on screen in the new layout
        self._show(size, current // size, current % size)

    def on_screen_resume(self) -> None:
        if self._suspended:  # back from the PTZ screen or the mask editor
            self._suspended = False
            self._rebuild()

    def _open_over(self, opener: Callable[[str], bool]) -> None:
        """Open a screen of its own on the focused camera, the grid's streams closed meanwhile."""
        index = self.focused_camera_index()
        if index is None:
            return
        self._suspended = True
        self._focus_index = index - self.page * self.layout_size
        self._rebuild()
        if not opener(self.cameras[index].id):
            self._suspended = False
            self._rebuild()

    def action_ptz(self) -> None:
        self._open_over(lambda camera_id: open_ptz(self.app, camera_id))

    def action_masks(self) -> None:
        self._open_over(lambda camera_id: open_mask_editor(self.app, camera_id))

    def action_page(self, delta: int) -> None:
        page = min(max(0, self.page + delta), self.pages - 1)
        if page != self.page:
            self._show(self.layout_size, page, 0)

    def action_open(self) -> None:
        index = self.focused_camera_index()
        if index is None:
            return
        # Close the grid's sub-streams while the full view shows the main stream.
        self._suspended = True
        self._focus_index = index - self.page * self.layout_size
        self._rebuild()

        def back(_result: object = None) -> None:
            self._suspended = False
            self._rebuild()

        self.app.push_screen(SingleScreen(self.context, index), back)
