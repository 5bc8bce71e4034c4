"""One PTZ camera, driven by keyboard: live main stream, presets, tour, lease and mask state.

Keys (R6): arrows pan and tilt (each press a short pulse; a held key repeats smoothly, see
``ptz.control``), + and - zoom, [ and ] speed, s stop, h home, 1-9 the approved presets, t / x
start and stop a tour (g picks which), o (first-level supervisors) opens the camera to
second-level control rooms for some minutes or closes it (R9), Escape back. Every command
runs in a worker thread that hands it to the PTZ runtime's event loop (``ptz.runtime``): the
UI thread never waits for a camera. A failure (authentication, timeout, camera offline,
unsupported operation, control lease refused or taken over) is a notification on screen,
never only a log line.

The side panel always shows the mask state (why the picture is blank: "moving", "off
preset", "position unknown", or the preset shown), who holds the control lease and until
when, whether it is open to second-level control rooms and until when, the speed, the
presets and the tour, refreshed twice a second from the runtime and the
shared database.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Static

from ptz.control import SPEED_STEPS, Direction, PtzControl
from ptz.maskstate import MaskStateKind
from ptz.presets import Preset
from ptz.tours import Tour, TourRun
from registry.errors import CentraleError
from registry.i18n import _
from registry.roles import Level, Permission
from screens.bindings import N_, translate_bindings
from screens.context import ConsoleContext
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo
from screens.widgets.video import VideoView

if TYPE_CHECKING:
    from textual.app import App

    from ptz.runtime import PtzRuntime

#: What a person needs to open this screen (the lead wires the key to it).
REQUIRED_PERMISSION = Permission.PTZ
#: Seconds a command may take before the operator is told the camera does not answer.
COMMAND_TIMEOUT_S = 20.0


def mask_state_text(kind: MaskStateKind, preset: str | None) -> str:
    if kind is MaskStateKind.AT_PRESET and preset:
        return _("Picture shown: preset {name}").format(name=preset)
    return _("Picture blank: {reason}").format(reason=kind.label)


class PtzScreen(Screen[None]):
    CSS_PATH = "ptz.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", N_("Back"), id="ptz.back"),
        Binding("up", "move('up')", N_("Tilt up"), show=False),
        Binding("down", "move('down')", N_("Tilt down"), show=False),
        Binding("left", "move('left')", N_("Pan left"), show=False),
        Binding("right", "move('right')", N_("Pan right"), show=False),
        Binding("plus,equals_sign", "move('zoom_in')", N_("Zoom in"), key_display="+"),
        Binding("minus", "move('zoom_out')", N_("Zoom out"), key_display="-"),
        Binding("left_square_bracket", "speed(-1)", N_("Slower"), key_display="["),
        Binding("right_square_bracket", "speed(1)", N_("Faster"), key_display="]"),
        Binding("s", "stop", N_("Stop")),
        Binding("h", "home", N_("Home")),
        *[Binding(str(n), f"preset({n})", N_("Preset"), show=False) for n in range(1, 10)],
        Binding("t", "tour_start", N_("Start tour")),
        Binding("x", "tour_stop", N_("Stop tour")),
        Binding("g", "tour_next", N_("Next tour"), show=False),
        Binding("o", "open_level2", N_("Open to level 2"), id="ptz.open_level2"),
    ]

    def __init__(self, context: ConsoleContext, runtime: PtzRuntime, camera_id: str, *,
                 show_video: bool = True) -> None:  # fmt: skip
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.runtime = runtime
        self.camera = next(c for c in context.cameras if c.id == camera_id)
        self.camera_id = camera_id
        self.show_video = show_video
        self.presets: list[Preset] = []
        self.tours: list[Tour] = []
        self.tour_index = 0
        self.tour_run: TourRun | None = None
        #: (key time, done time, label) of commands, newest last (tests and the benchmark)
        self.commands: list[tuple[float, float, str]] = []
        self.errors: list[str] = []
        self._in_flight = 0

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="ptz-bar"):
            yield Static(f"[b]{escape(self.camera.name)}[/b] · {escape(self.camera.place)}",
                         id="ptz-title")  # fmt: skip
            yield SessionInfo(self.context.session)
        with Horizontal(id="ptz-body"):
            if self.show_video:
                yield VideoView(self.context.hub, self.camera_id, "main", id="ptz-video")
            else:
                yield Static(_("(picture not shown)"), id="ptz-video")
            with Vertical(id="ptz-side"):
                yield Static(id="ptz-mask")
                yield Static(id="ptz-lease")
                yield Static(id="ptz-speed")
                yield Static(id="ptz-presets")
                yield Static(id="ptz-tour")
                yield Static(self._help(), id="ptz-help")
        yield KeyFooter()

    def _help(self) -> str:
        return "\n".join([
            _("Arrows: pan and tilt"), _("+ / -: zoom"), _("[ / ]: speed"),
            _("s: stop · h: home"), _("1-9: go to preset"),
            _("t: start tour · x: stop · g: next tour"), *self._open_help(), _("Esc: back"),
        ])  # fmt: skip

    def _open_help(self) -> list[str]:
        return [_("o: open to level 2 / close")] if self._may_open() else []

    def _may_open(self) -> bool:
        """First-level supervisors open cameras to second-level control rooms (R9)."""
        session = self.context.session
        return (session is not None and session.level is Level.FIRST
                and session.allows(Permission.DEFINE_PRESETS))

    def on_mount(self) -> None:
        self._load()
        self.refresh_state()
        self.set_interval(0.5, self.refresh_state)

    def _load(self) -> None:
        try:
            self.presets = self.runtime.presets.approved(self.camera_id)
            self.tours = self.runtime.tours.tours(self.camera_id)
        except CentraleError as exc:
            self._error(exc)

    # -- state panel ---------------------------------------------------------------------

    def _local(self, at: datetime) -> str:
        return at.astimezone(ZoneInfo(self.context.timezone)).strftime("%H:%M:%S")

    def refresh_state(self) -> None:
        machine = self.runtime.machines.get(self.camera_id)
        kind = machine.state.kind if machine is not None else MaskStateKind.UNKNOWN
        preset = machine.state.preset_name if machine is not None else None
        self.query_one("#ptz-mask", Static).update(mask_state_text(kind, preset))
        self.query_one("#ptz-speed", Static).update(self._speed_text())
        self.query_one("#ptz-presets", Static).update(self._presets_text(preset))
        try:
            lease_text = self._lease_text()
            self.tour_run = self.runtime.tours.run(self.camera_id)
            pending = self.runtime.tours.pending(self.camera_id)
        except CentraleError as exc:
            self._error(exc)
            return
        self.query_one("#ptz-lease", Static).update(lease_text)
        self.query_one("#ptz-tour", Static).update(self._tour_text(bool(pending)))

    def _lease_text(self) -> str:
        session = self.context.session
        if session is None:
            return ""
        leases = self.runtime.leases
        poll = leases.poll(session, self.camera_id)
        if poll.lost_to is not None:
            lost = poll.lost_to
            self._error(CentraleError(
                _("{holder} (first level) took over control of this camera").format(
                    holder=lost.holder_name), title=_("Control taken over")))  # fmt: skip
        lease = poll.lease
        open_until = leases.open_until(self.camera_id)
        opened = ("\n" + _("Open to level 2 until {until}").format(
            until=self._local(open_until))) if open_until is not None else ""  # fmt: skip
        if lease is None:
            if session.level is not Level.FIRST and open_until is None:
                return _("Control: not open to your level")
            return _("Control: free") + opened
        if lease.held_by(session):
            return _("Control: yours until {until}").format(
                until=self._local(lease.expires_at)) + opened  # fmt: skip
        return _("Control: {holder} until {until}").format(
            holder=escape(lease.holder_name), until=self._local(lease.expires_at)) + opened

    def _speed_text(self) -> str:
        index = self.runtime.control(self.camera_id).speed_index
        return _("Speed {n}/{of}").format(n=index + 1, of=len(SPEED_STEPS))

    def _presets_text(self, current: str | None) -> str:
        if not self.presets:
            return _("No approved presets")
        lines = [_("Presets:")]
        for n, p in enumerate(self.presets[:9], start=1):
            mark = "▶" if p.name == current else " "
            lines.append(f"{mark} {n} {escape(p.name)}")
        return "\n".join(lines)

    def _tour_text(self, pending: bool) -> str:
        run = self.tour_run
        if run is not None:
            stop = run.stop
            where = (_("stop {n}/{of} ({name})").format(
                n=run.stop_index % len(run.tour.stops) + 1, of=len(run.tour.stops),
                name=escape(stop.preset_name)) if stop is not None else "")  # fmt: skip
            state = (_("paused by {who}").format(who=escape(run.detail)) if run.paused
                     else _("running"))  # fmt: skip
            text = _("Tour {name}: {state}").format(name=escape(run.tour.name), state=state)
            text += f"\n{where}"
        elif self.tours:
            chosen = self.tours[self.tour_index % len(self.tours)]
            text = _("Tour: none running (t starts {name})").format(name=escape(chosen.name))
        else:
            text = _("Tour: none defined")
        if pending:
            text += "\n" + _("request sent, waiting for the recorder")
        return text

    # -- commands -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return True
        if action == "open_level2":
            return self._may_open()
        session = self.context.session
        return session is not None and session.allows(REQUIRED_PERMISSION)

    def _error(self, exc: CentraleError) -> None:
        self.errors.append(exc.message)
        self.notify(exc.message, title=exc.display_title, severity="error", timeout=8)

    def _send(self, label: str, action: Callable[[PtzControl], Awaitable[object]]) -> None:
        """Run ``action`` on the camera's control from a worker thread; errors notified."""
        session = self.context.session
        if session is None:
            return
        if self._in_flight >= 3:
            return  # a held key faster than the camera answers: drop, the pulse is extended
        key_at = time.monotonic()
        self._in_flight += 1

        def work() -> None:
            error: CentraleError | None = None
            try:
                self.runtime.call(self.camera_id, action, timeout=COMMAND_TIMEOUT_S)
            except CentraleError as exc:
                error = exc
            except concurrent.futures.TimeoutError:
                error = CentraleError(_("The camera {camera} did not answer in time").format(
                    camera=self.camera.name), title=_("Camera not answering"))  # fmt: skip
            done_at = time.monotonic()
            self.app.call_from_thread(self._done, label, key_at, done_at, error)

        self.run_worker(work, thread=True, group="ptz", exit_on_error=False)

    def _done(self, label: str, key_at: float, done_at: float,
              error: CentraleError | None) -> None:  # fmt: skip
        self._in_flight -= 1
        self.commands.append((key_at, done_at, label))
        if error is not None:
            self._error(error)
        self.refresh_state()

    def action_move(self, direction: str) -> None:
        session = self.context.session
        d = Direction(direction)
        if session is not None:
            self._send(str(d), lambda c: c.move(session, d))

    def action_speed(self, delta: int) -> None:
        control = self.runtime.control(self.camera_id)  # speed is local: no I/O
        control.faster() if delta > 0 else control.slower()
        self.refresh_state()

    def action_stop(self) -> None:
        session = self.context.session
        if session is not None:
            self._send("stop", lambda c: c.stop(session))

    def action_home(self) -> None:
        session = self.context.session
        if session is not None:
            self._send("home", lambda c: c.home(session))

    def action_preset(self, number: int) -> None:
        session = self.context.session
        if session is None:
            return
        if not 1 <= number <= len(self.presets):
            self.notify(_("There is no preset {n}").format(n=number), severity="warning")
            return
        p = self.presets[number - 1]
        self._send(f"preset {p.name}",
                   lambda c: c.goto_preset(session, p.token, p.position, label=p.name))

    def _tour_request(self, start: bool) -> None:
        session = self.context.session
        if session is None:
            return
        try:
            if start:
                if not self.tours:
                    self.notify(_("This camera has no tours"), severity="warning")
                    return
                tour = self.tours[self.tour_index % len(self.tours)]
                self.runtime.tours.request_start(session, self.camera_id, tour.id)
                self.notify(_("Tour {name} requested").format(name=tour.name))
            else:
                self.runtime.tours.request_stop(session, self.camera_id)
                self.notify(_("Tour stop requested"))
        except CentraleError as exc:
            self._error(exc)
        self.refresh_state()

    def action_tour_start(self) -> None:
        self._tour_request(True)

    def action_tour_stop(self) -> None:
        self._tour_request(False)

    def action_tour_next(self) -> None:
        if self.tours:
            self.tour_index = (self.tour_index + 1) % len(self.tours)
            self.refresh_state()

    def action_open_level2(self) -> None:
        session = self.context.session
        if session is None or not self._may_open():
            return
        try:
            until = self.runtime.leases.open_until(self.camera_id)
        except CentraleError as exc:
            self._error(exc)
            return

        def done(message: str | None) -> None:
            if message:
                self.notify(message)
            self.refresh_state()

        self.app.push_screen(OpenCameraModal(self, until), done)

    def action_back(self) -> None:
        session = self.context.session
        if session is not None:
            try:
                self.runtime.leases.release(session, self.camera_id)
            except CentraleError as exc:
                self._error(exc)
        self.dismiss(None)


#: Longest opening the modal grants at once; a longer one is given again by a supervisor.
MAX_OPEN_MINUTES = 24 * 60


class OpenCameraModal(ModalScreen[str | None]):
    """Minutes for which second-level control rooms may drive the camera (0 closes it now).

    The opening is audited by ``ptz.leases``; a second-level lease in force lapses at its
    next command once the camera is closed.
    """

    CSS_PATH = "ptz.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="ptz_open.cancel"),
    ]

    def __init__(self, screen: PtzScreen, until: datetime | None) -> None:
        super().__init__(id="ptz-open-modal")
        translate_bindings(self)
        self.ptz = screen
        self.until = until

    def compose(self) -> ComposeResult:
        with Vertical(id="ptz-open-box"):
            yield Static(_("Open camera {camera} to second-level control rooms").format(
                camera=escape(self.ptz.camera.name)), id="ptz-open-title")  # fmt: skip
            if self.until is not None:
                state = _("Open now until {until}.").format(until=self.ptz._local(self.until))
            else:
                state = _("Closed now: second-level control rooms may not drive it.")
            yield Static(state, id="ptz-open-state")
            yield Static(_("Minutes from now (1 to {max}), or 0 to close it now; Enter "
                           "confirms, Esc cancels.").format(max=MAX_OPEN_MINUTES),
                         id="ptz-open-hint")  # fmt: skip
            with Horizontal(id="ptz-open-row"):
                yield Label(_("Minutes"), id="ptz-open-label")
                yield Input("0" if self.until is not None else "60", id="ptz-open-minutes",
                            compact=True, max_length=5)  # fmt: skip
            yield Static("", id="ptz-open-error")

    def on_mount(self) -> None:
        self.query_one("#ptz-open-minutes", Input).focus()

    def _fail(self, message: str) -> None:
        error = self.query_one("#ptz-open-error", Static)
        error.update(escape(message))
        error.set_class(True, "shown")

    @on(Input.Submitted, "#ptz-open-minutes")
    def _submitted(self) -> None:
        session = self.ptz.context.session
        if session is None:
            self.dismiss(None)
            return
        text = self.query_one("#ptz-open-minutes", Input).value.strip()
        try:
            minutes = int(text)
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= MAX_OPEN_MINUTES:
            self._fail(_("minutes: {value} is not a whole number from 0 to {max}").format(
                value=repr(text), max=MAX_OPEN_MINUTES))  # fmt: skip
            return
        leases = self.ptz.runtime.leases
        camera_id = self.ptz.camera_id
        try:
            if minutes == 0:
                leases.close_camera(session, camera_id)
                message = _("Camera {camera} closed to second-level control rooms").format(
                    camera=self.ptz.camera.name)  # fmt: skip
            else:
                until = leases.clock() + timedelta(minutes=minutes)
                if leases.open_until(camera_id) is not None:
                    leases.close_camera(session, camera_id)  # the new period replaces it
                leases.open_camera(session, camera_id, until)
                message = _("Camera {camera} open to second-level control rooms until "
                            "{until}").format(camera=self.ptz.camera.name,
                                              until=self.ptz._local(until))  # fmt: skip
        except CentraleError as exc:
            self._fail(exc.message)  # the typed value stays: nothing is lost
            return
        self.dismiss(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


def ptz_ready(app: App[object], runtime: PtzRuntime | None, permission: Permission,
              refusal: str) -> tuple[ConsoleContext, PtzRuntime] | None:
    """The console's context and PTZ runtime when the signed-in person holds *permission*;
    None after notifying why not (no PTZ in this console, or *refusal*).

    The preconditions every PTZ screen shares before it is pushed; ``runtime`` defaults to
    ``app.context.ptz`` (the attribute the console gives it).
    """
    context: ConsoleContext | None = getattr(app, "context", None)
    runtime = runtime or getattr(context, "ptz", None)
    session = context.session if context is not None else None
    if context is None or runtime is None:
        app.notify(_("PTZ control is not available in this console"), severity="error")
        return None
    if session is None or not session.allows(permission):
        app.notify(refusal, severity="error")
        return None
    return context, runtime


def open_ptz(app: App[object], camera_id: str, runtime: PtzRuntime | None = None) -> bool:
    """Push the PTZ screen of ``camera_id``; False (and a notification) when it cannot open.

    ``runtime`` defaults to ``app.context.ptz`` (the attribute the console gives it).
    """
    ready = ptz_ready(app, runtime, REQUIRED_PERMISSION,
                      _("You are not allowed to move cameras"))
    if ready is None:
        return False
    context, runtime = ready
    if camera_id not in runtime.cameras:
        app.notify(_("{camera} is not a PTZ camera").format(camera=camera_id), severity="error")
        return False
    app.push_screen(PtzScreen(context, runtime, camera_id))
    return True
