"""The supervisor's keyboard-only mask editor, over the live picture (R7, R8).

Views: each preset of a PTZ camera (n / p to change; g sends the camera there), or the one
view of a fixed camera. Drawing: the arrows move a cursor (shift: bigger steps); v adds a
vertex and Enter closes the polygon; r starts a rectangle at the cursor and r (or Enter) again
ends it at the opposite corner; Tab selects a polygon, Delete removes it, m then the arrows
move it (m or Enter ends the move); s saves (``PresetBook.set_masks`` / ``set_fixed_masks``:
validated, audited). Escape leaves; with unsaved changes it asks for a second Escape.
Moving the camera: i / j / k / l tilt and pan, + / - zoom; a saves where the camera stands as
a new approved preset (``PresetBook.define``).

What the supervisor sees (a decision; docs/design/masks.md): masks are the responsabile's
task, so while editing a view the picture is shown *unmasked*, through a reader of this
screen's own whose gate shows it only while the camera is idle at the very preset being
edited (a fixed camera: always). Moving, off preset, at another preset or unknown: blank,
as everywhere else. Every other consumer keeps the masks in force. Only ``define_presets``
opens this screen, and its opening is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from cameras.config import CameraConfig, StreamSettings
from cameras.hub import StreamHandle, Which
from cameras.masks import (
    NO_MASKS,
    Blank,
    BlankReason,
    MaskDecision,
    MaskGate,
    MaskPolygon,
    MaskSet,
    Show,
)
from cameras.stream import StreamReader
from footage.service import main_source
from ptz.control import Direction, PtzControl
from ptz.maskstate import MaskStateKind, MaskStateMachine
from ptz.presets import Preset
from registry.errors import CentraleError
from registry.i18n import _, ngettext
from registry.roles import Permission
from registry.session import require
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.ptz import ptz_ready
from screens.widgets.footer import KeyFooter
from screens.widgets.mask_canvas import MaskCanvas, Point

if TYPE_CHECKING:
    from ptz.runtime import PtzRuntime

REQUIRED_PERMISSION = Permission.DEFINE_PRESETS
STEP = 0.01
BIG_STEP = 0.05
EDITOR_OPENED = "masks.editor_opened"

_REASONS = {MaskStateKind.MOVING: BlankReason.MOVING, MaskStateKind.OFF_PRESET:
            BlankReason.OFF_PRESET}  # fmt: skip


class EditorGate(MaskGate):
    """Unmasked only at the preset being edited (see the module docstring); else blank."""

    machine: MaskStateMachine | None = None
    preset_id: int | None = None

    def decision(self) -> MaskDecision:
        if self.machine is None:
            return Show(NO_MASKS)  # a fixed camera
        state = self.machine.state
        if (state.kind is MaskStateKind.AT_PRESET and state.preset is not None
                and state.preset.id == self.preset_id):  # fmt: skip
            return Show(NO_MASKS)
        return Blank(_REASONS.get(state.kind, BlankReason.UNKNOWN))


class EditorHub:
    """A hub-shaped source of the editor's own reader (``VideoView`` asks a hub)."""

    def __init__(self, camera: CameraConfig, gate: EditorGate, settings: StreamSettings,
                 password_for: Callable[[str], str | None]) -> None:  # fmt: skip
        self.camera, self.gate, self.settings = camera, gate, settings
        self.password_for = password_for

    def acquire(self, camera_id: str, which: Which,
                on_frame: Callable[[], None] | None = None) -> StreamHandle:  # fmt: skip
        source = main_source(self.camera, self.settings, self.password_for)
        reader = StreamReader(source, settings=self.settings, on_frame=on_frame, gate=self.gate)
        reader.start()
        return StreamHandle(camera_id, which, reader)

    def release(self, handle: StreamHandle, on_frame: Callable[[], None] | None = None) -> None:
        handle.reader.stop()


class PresetNameScreen(ModalScreen[str | None]):
    """Asks the name of the preset to save."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Cancel"))]

    def compose(self) -> ComposeResult:
        with Vertical(id="preset-name-box"):
            yield Static(_("Name of the new preset (it is approved at once):"))
            yield Input(id="preset-name")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MaskEditorScreen(Screen[None]):
    CSS_PATH = "mask_editor.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", N_("Back"), priority=True),
        *[Binding(k, f"cursor({dx}, {dy})", show=False, priority=True) for k, dx, dy in (
            ("up", 0, -STEP), ("down", 0, STEP), ("left", -STEP, 0), ("right", STEP, 0),
            ("shift+up", 0, -BIG_STEP), ("shift+down", 0, BIG_STEP),
            ("shift+left", -BIG_STEP, 0), ("shift+right", BIG_STEP, 0))],
        Binding("v", "vertex", N_("Vertex")),
        Binding("r", "rectangle", N_("Rectangle")),
        Binding("enter", "close", N_("Close polygon"), priority=True),
        Binding("tab", "select", N_("Select"), priority=True),
        Binding("delete", "delete", N_("Delete")),
        Binding("m", "move_mode", N_("Move")),
        Binding("s", "save", N_("Save")),
        Binding("n", "view(1)", N_("Next view")),
        Binding("p", "view(-1)", N_("Previous view"), show=False),
        Binding("g", "goto", N_("Go to preset")),
        *[Binding(k, f"camera('{d}')", show=False) for k, d in (
            ("i", "up"), ("k", "down"), ("j", "left"), ("l", "right"),
            ("plus", "zoom_in"), ("minus", "zoom_out"))],
        Binding("a", "save_preset", N_("Save as preset")),
    ]

    def __init__(self, context: ConsoleContext, runtime: PtzRuntime, camera_id: str, *,
                 hub: object | None = None) -> None:  # fmt: skip
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.runtime = runtime
        self.camera = next(c for c in context.cameras if c.id == camera_id)
        self.camera_id = camera_id
        self.gate = EditorGate(f"{camera_id}#editor")
        self.gate.machine = runtime.machines.get(camera_id)
        self._hub = hub or EditorHub(self.camera, self.gate, StreamSettings(),
                                     runtime._password_for)  # fmt: skip
        self.views: list[Preset | None] = []
        self.view_index = 0
        self.polygons: list[MaskPolygon] = []
        self.draft: list[Point] = []
        self.rect_start: Point | None = None
        self.cursor: Point = (0.5, 0.5)
        self.selected: int | None = None
        self.moving = False
        self.dirty = False
        self._leave_armed = False
        self.errors: list[str] = []

    # -- layout and views --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="editor-bar")
        with Horizontal(id="editor-body"):
            yield MaskCanvas(self._hub, self.camera_id, "main", id="editor-canvas")  # type: ignore[arg-type]
            yield Static(self._help(), id="editor-help")
        yield KeyFooter()

    def _help(self) -> str:
        return "\n".join([
            _("Arrows: cursor (shift: faster)"), _("v: vertex · Enter: close"),
            _("r: rectangle (r again: end)"), _("Tab: select · Delete: remove"),
            _("m: move the selected polygon"), _("s: save · Esc: back"),
            _("n / p: next / previous view"), _("g: send the camera to the preset"),
            _("i j k l, + -: move the camera"), _("a: save the position as a preset"),
        ])  # fmt: skip

    def on_mount(self) -> None:
        session = self.context.session
        try:
            if session is None:
                raise CentraleError(_("Nobody signed in"))
            require(session, REQUIRED_PERMISSION, self.runtime.audit, self.camera_id)
            self.runtime.audit.append(session.username, EDITOR_OPENED, self.camera_id)
        except CentraleError as exc:
            self._error(exc)
            self.dismiss(None)
            return
        self._load_views()
        self._show_view()

    def _load_views(self) -> None:
        session = self.context.session
        assert session is not None
        if self.camera.is_ptz:
            self.views = list(self.runtime.presets.all(session, self.camera_id))
        else:
            self.views = [None]

    @property
    def view(self) -> Preset | None:
        return self.views[self.view_index] if self.views else None

    def _show_view(self) -> None:
        view = self.view
        if self.camera.is_ptz and view is None:
            masks = NO_MASKS
        elif view is None:
            masks = self.runtime.presets.fixed_masks(self.camera_id)
        else:
            masks = view.masks
        self.gate.preset_id = view.id if view is not None else None
        self.polygons = list(masks.polygons)
        self.draft, self.rect_start, self.selected, self.moving = [], None, None, False
        self.dirty = False
        self._update()

    def _view_name(self) -> str:
        if not self.camera.is_ptz:
            return _("fixed camera")
        view = self.view
        if view is None:
            return _("no presets yet: move the camera and press a")
        pending = "" if view.approved else " " + _("(not approved)")
        return _("preset {name}").format(name=view.name) + pending

    def _update(self) -> None:
        canvas = self.query_one(MaskCanvas)
        ov = canvas.overlay
        ov.polygons = [p.points for p in self.polygons]
        ov.selected = self.selected
        ov.draft = list(self.draft) if self.rect_start is None else [self.rect_start]
        ov.cursor = self.cursor
        canvas.redraw()
        mode = (_("moving polygon") if self.moving else _("rectangle") if self.rect_start
                else _("polygon") if self.draft else _("cursor"))  # fmt: skip
        count = ngettext("{n} polygon", "{n} polygons", len(self.polygons)).format(
            n=len(self.polygons))
        bar = _("Masks of {camera} · {view} · {count} · {mode} · cursor {x:.2f}, {y:.2f}"
                ).format(camera=escape(self.camera.name), view=escape(self._view_name()),
                         count=count, mode=mode, x=self.cursor[0], y=self.cursor[1])
        if self.dirty:
            bar += " · " + _("unsaved")
        self.query_one("#editor-bar", Static).update(bar)

    def _error(self, exc: CentraleError) -> None:
        self.errors.append(exc.message)
        self.notify(exc.message, title=exc.display_title, severity="error", timeout=8)

    # -- drawing -------------------------------------------------------------------------

    def action_cursor(self, dx: float, dy: float) -> None:
        self._leave_armed = False
        if self.moving and self.selected is not None:
            poly = self.polygons[self.selected]
            xs, ys = [p[0] for p in poly.points], [p[1] for p in poly.points]
            dx = min(max(dx, -min(xs)), 1 - max(xs))
            dy = min(max(dy, -min(ys)), 1 - max(ys))
            try:
                self.polygons[self.selected] = MaskPolygon.of(
                    [(round(x + dx, 4), round(y + dy, 4)) for x, y in poly.points])
            except CentraleError as exc:
                self._error(exc)
            self.dirty = True
        else:
            x, y = self.cursor
            self.cursor = (round(min(1.0, max(0.0, x + dx)), 4),
                           round(min(1.0, max(0.0, y + dy)), 4))  # fmt: skip
        self._update()

    def action_vertex(self) -> None:
        if self.rect_start is not None:
            self._end_rectangle()
            return
        if self.cursor in self.draft:
            self.notify(_("There is already a vertex here"), severity="warning")
            return
        self.draft.append(self.cursor)
        self._update()

    def action_rectangle(self) -> None:
        if self.rect_start is None:
            self.draft = []
            self.rect_start = self.cursor
            self._update()
        else:
            self._end_rectangle()

    def _end_rectangle(self) -> None:
        assert self.rect_start is not None
        (x0, y0), (x1, y1) = self.rect_start, self.cursor
        self._add(MaskPolygon.rectangle, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def _add(self, make: Callable[..., MaskPolygon], *args: object) -> None:
        try:
            polygon = make(*args)
            MaskSet((*self.polygons, polygon))
        except CentraleError as exc:
            self._error(exc)
            return
        self.polygons.append(polygon)
        self.selected = len(self.polygons) - 1
        self.draft, self.rect_start, self.dirty = [], None, True
        self._update()

    def action_close(self) -> None:
        if self.moving:
            self.moving = False
            self._update()
        elif self.rect_start is not None:
            self._end_rectangle()
        elif self.draft:
            self._add(MaskPolygon.of, list(self.draft))

    def action_select(self) -> None:
        if self.polygons:
            self.selected = 0 if self.selected is None else (self.selected + 1) % len(
                self.polygons)
            self._update()

    def action_delete(self) -> None:
        if self.draft or self.rect_start is not None:
            self.draft, self.rect_start = [], None
        elif self.selected is not None and self.polygons:
            del self.polygons[self.selected]
            self.selected = None
            self.moving = False
            self.dirty = True
        self._update()

    def action_move_mode(self) -> None:
        if self.selected is None:
            self.notify(_("Select a polygon with Tab first"), severity="warning")
            return
        self.moving = not self.moving
        self._update()

    # -- saving and leaving ------------------------------------------------------------------

    def action_save(self) -> None:
        session = self.context.session
        if session is None:
            return
        try:
            masks = MaskSet(tuple(self.polygons))
            view = self.view
            if self.camera.is_ptz:
                if view is None:
                    raise CentraleError(_("There is no preset to save the masks to"))
                self.views[self.view_index] = self.runtime.presets.set_masks(session, view.id,
                                                                             masks)  # fmt: skip
            else:
                self.runtime.presets.set_fixed_masks(session, self.camera_id, masks)
        except CentraleError as exc:
            self._error(exc)
            return
        self.dirty = False
        self.notify(_("Masks saved"))
        self._update()

    def action_leave(self) -> None:
        if self.dirty and not self._leave_armed:
            self._leave_armed = True
            self.notify(_("Unsaved masks: press Esc again to discard them, or s to save"),
                        severity="warning")  # fmt: skip
            return
        self.dismiss(None)

    def action_view(self, delta: int) -> None:
        if len(self.views) < 2:
            return
        if self.dirty and not self._leave_armed:
            self._leave_armed = True
            self.notify(_("Unsaved masks: press again to discard them, or s to save"),
                        severity="warning")  # fmt: skip
            return
        self._leave_armed = False
        self.view_index = (self.view_index + delta) % len(self.views)
        self._show_view()

    # -- the camera -----------------------------------------------------------------------------

    def _camera(self, label: str, action: Callable[[PtzControl], object]) -> None:
        if not self.camera.is_ptz:
            return

        def work() -> None:
            try:
                self.runtime.call(self.camera_id, action, timeout=20)  # type: ignore[arg-type]
            except CentraleError as exc:
                self.app.call_from_thread(self._error, exc)
            except TimeoutError:
                self.app.call_from_thread(self._error, CentraleError(
                    _("The camera {camera} did not answer in time").format(
                        camera=self.camera.name)))  # fmt: skip

        self.run_worker(work, thread=True, group="editor-ptz", exit_on_error=False)

    def action_camera(self, direction: str) -> None:
        session = self.context.session
        d = Direction(direction)
        if session is not None:
            self._camera(str(d), lambda c: c.move(session, d))

    def action_goto(self) -> None:
        session, view = self.context.session, self.view
        if session is not None and view is not None:
            self._camera("goto", lambda c: c.goto_preset(session, view.token, view.position,
                                                         label=view.name))  # fmt: skip

    def action_save_preset(self) -> None:
        if not self.camera.is_ptz:
            return
        self.app.push_screen(PresetNameScreen(), self._define)

    def _define(self, name: str | None) -> None:
        session = self.context.session
        if not name or session is None:
            return

        def work() -> None:
            try:
                preset = self.runtime.call(self.camera_id, lambda c: self.runtime.presets.define(
                    session, c, name, approve=True), timeout=20)  # fmt: skip
            except CentraleError as exc:
                self.app.call_from_thread(self._error, exc)
                return
            self.app.call_from_thread(self._defined, preset)

        self.run_worker(work, thread=True, group="editor-ptz", exit_on_error=False)

    def _defined(self, preset: Preset) -> None:
        self.notify(_("Preset {name} saved and approved").format(name=preset.name))
        self._load_views()
        self.view_index = next((i for i, v in enumerate(self.views)
                                if v is not None and v.id == preset.id), 0)  # fmt: skip
        self._show_view()


def open_mask_editor(app: object, camera_id: str, runtime: PtzRuntime | None = None) -> bool:
    """Push the mask editor for ``camera_id``; False (and a notification) when it cannot."""
    from textual.app import App

    assert isinstance(app, App)
    ready = ptz_ready(app, runtime, REQUIRED_PERMISSION,
                      _("Only the supervisor defines presets and masks"))
    if ready is None:
        return False
    context, runtime = ready
    app.push_screen(MaskEditorScreen(context, runtime, camera_id))
    return True
