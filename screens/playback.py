"""Riproduzione: recorded footage, only after a signed access-register entry (R24, R26).

The operator picks a camera and a moment (dd/mm/yyyy hh:mm in the site's time zone,
:class:`PlaybackPickScreen`), then signs the register entry
(:class:`~screens.register_form.RegisterFormScreen`: purpose, a third party's authorization
where needed); only with the signed entry does :class:`PlaybackScreen` open the footage,
through :class:`footage.playback.Playback`, which checks the entry again (the domain is the
gate, the screens only lead to it). The lead opens it with :func:`open_playback`.

Keys: space play/pause, ``.`` ``,`` one frame forward/back, ← → ±10 s, shift+← → ±1 min,
``g`` go to a typed time, ``+`` ``-`` speed, Esc back. The status line says which camera,
where, the wall time of the frame shown, the speed and what the masks do to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Select, Static

from cameras.config import CameraConfig
from cameras.hub import StreamHub
from cameras.stream import StreamStatus
from footage.playback import Playback, PlaybackReader, PlaybackStatus
from footage.playback_timeline import DayTimeline
from registry.errors import CentraleError
from registry.i18n import _
from registry.register import AccessKind, RegisterEntry
from registry.roles import Permission, PermissionDenied
from registry.session import require
from screens.bindings import N_, translate_bindings
from screens.export import ExportContext, open_export
from screens.register_form import RegisterContext, RegisterFormScreen, format_local, parse_local
from screens.widgets.footer import KeyFooter
from screens.widgets.session_info import SessionInfo
from screens.widgets.timeline import Timeline
from screens.widgets.video import OneReaderHub, VideoView

__all__ = ["REQUIRED_PERMISSION", "GoToModal", "PlaybackContext", "PlaybackPickScreen",
           "PlaybackScreen", "PlaybackView", "open_playback", "status_text"]

REQUIRED_PERMISSION = Permission.PLAYBACK
SECONDS_FORMAT = "%d/%m/%Y %H:%M:%S"


@dataclass
class PlaybackContext:
    """What the playback screens need: the register's context and the playback service."""

    register: RegisterContext
    playback: Playback
    #: the export screen's context; with it, ``e`` exports around the current position
    export: ExportContext | None = None

    @property
    def zone(self) -> ZoneInfo:
        return self.register.zone

    def camera(self, camera_id: str) -> CameraConfig | None:
        return next((c for c in self.register.console.cameras if c.id == camera_id), None)


def open_playback(app: App[Any], context: PlaybackContext) -> bool:
    """Push the camera and time picker, or refuse (audited, notified) without ``playback``."""
    session = context.register.session
    if session is None:
        return False
    try:
        require(session, REQUIRED_PERMISSION, context.register.audit, "playback")
    except PermissionDenied as e:
        app.notify(e.message, title=e.display_title, severity="error")
        return False
    app.push_screen(PlaybackPickScreen(context))
    return True


def status_text(state: PlaybackStatus, camera: CameraConfig | None, zone: ZoneInfo) -> str:
    """Camera, place, wall time of the frame, speed, play state and masks (Rich markup)."""
    name = escape(camera.name) if camera else escape(state.camera_id)
    place = escape(camera.place) if camera else "?"
    when = state.position.astimezone(zone).strftime(SECONDS_FORMAT) if state.position else "—"
    run = _("playing") if state.playing else _("paused")
    if state.position is None:
        masks = ""
    elif state.blank is not None:
        masks = _("picture hidden: {reason}").format(reason=state.blank.label)
    elif state.masks:
        masks = _("{n} privacy masks applied").format(n=state.masks)
    else:
        masks = _("no privacy masks")
    parts = [f"[b]{name}[/b]", place, f"[b]{when}[/b]", f"{state.speed:g}x", run]
    if masks:
        parts.append(escape(masks))
    return " · ".join(parts)


class PlaybackView(VideoView):
    """The video view, fed by a :class:`PlaybackReader` instead of the live stream hub."""

    def __init__(self, reader: PlaybackReader, *, id: str | None = None) -> None:
        super().__init__(cast(StreamHub, OneReaderHub(reader)), reader.camera_id, "main",
                         id=id)
        self.reader = reader

    def render(self) -> Content:
        if self.status is StreamStatus.OFFLINE:
            return Content(_("Playback stopped") + "\n" + self.reader.status_detail)
        return Content(_("Opening the recording…"))


class PlaybackPickScreen(Screen[None]):
    """Which camera, from when: then the register entry."""

    CSS_PATH = "playback.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "next", N_("Continue"), id="playback_pick.next", priority=True),
        Binding("escape", "back", N_("Back"), id="playback_pick.back"),
    ]

    def __init__(self, context: PlaybackContext) -> None:
        super().__init__(classes="playback-screen")
        translate_bindings(self)
        self.context = context

    def compose(self) -> ComposeResult:
        cams = self.context.register.console.cameras
        start = self.context.register.clock() - timedelta(hours=1)
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Playback[/b] · choose the camera and the moment"),
                         classes="banner")
            yield SessionInfo(self.context.register.session)
        with Vertical(id="pick-body"):
            with Horizontal(classes="form-row"):
                yield Label(_("Camera"), classes="form-label")
                camera: Select[str] = Select([(f"{c.id} · {c.name}", c.id) for c in cams],
                                             allow_blank=not cams, compact=True, id="camera")
                yield camera
            with Horizontal(classes="form-row"):
                yield Label(_("From"), classes="form-label")
                yield Input(format_local(start, self.context.zone), id="at", compact=True,
                            max_length=20, placeholder=_("dd/mm/yyyy hh:mm"))
            yield Static("", id="pick-error", classes="field-error")
            yield Static(_("Times in {zone}. Enter or Ctrl+S: sign the access-register entry, "
                           "then the footage opens.").format(zone=self.context.zone.key),
                         classes="form-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#at", Input).focus()

    @on(Input.Submitted, "#at")
    def _submitted(self) -> None:
        self.action_next()

    def chosen(self) -> tuple[str, datetime] | str:
        """(camera, moment), or what is wrong."""
        camera = self.query_one("#camera", Select).value
        if not isinstance(camera, str):
            return _("choose a camera")
        text = self.query_one("#at", Input).value.strip()
        try:
            at = parse_local(text, self.context.zone)
        except ValueError:
            return _("{text} is not a date and time: write it as dd/mm/yyyy hh:mm").format(
                text=text or "—")
        if at >= self.context.register.clock():
            return _("that moment has not happened yet")
        return camera, at

    def action_next(self) -> None:
        chosen = self.chosen()
        error = self.query_one("#pick-error", Static)
        if isinstance(chosen, str):
            error.update(escape(chosen))
            error.set_class(True, "shown")
            return
        error.update("")
        error.set_class(False, "shown")
        camera, at = chosen
        now = self.context.register.clock()
        span = (at - timedelta(hours=1), min(at + timedelta(hours=1), now))

        def signed(entry: RegisterEntry | None) -> None:
            if entry is not None:
                self.app.push_screen(PlaybackScreen(self.context, entry, camera, at))

        self.app.push_screen(RegisterFormScreen(
            self.context.register, AccessKind.PLAYBACK, cameras=[camera], span=span,
            lock_kind=True, on_done=signed))

    def action_back(self) -> None:
        self.dismiss(None)


class PlaybackScreen(Screen[None]):
    """One camera's recording under one signed register entry."""

    CSS_PATH = "playback.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play_pause", N_("Play/pause"), id="playback.toggle", key_display="␣"),
        Binding("full_stop", "step(1)", N_("Frame"), id="playback.step", key_display="."),
        Binding("comma", "step(-1)", N_("Frame back"), id="playback.step_back",
                key_display=","),
        Binding("left", "seek(-10)", N_("-10 s"), id="playback.back10", key_display="←"),
        Binding("right", "seek(10)", N_("+10 s"), id="playback.fwd10", key_display="→"),
        Binding("shift+left", "seek(-60)", N_("-1 min"), id="playback.back60",
                key_display="⇧←"),
        Binding("shift+right", "seek(60)", N_("+1 min"), id="playback.fwd60",
                key_display="⇧→"),
        Binding("g", "goto", N_("Go to"), id="playback.goto"),
        Binding("plus,equals_sign", "speed(1)", N_("Faster"), id="playback.faster",
                key_display="+"),
        Binding("minus", "speed(-1)", N_("Slower"), id="playback.slower", key_display="-"),
        Binding("e", "export", N_("Export"), id="playback.export"),
        Binding("escape", "back", N_("Back"), id="playback.back"),
    ]

    def __init__(self, context: PlaybackContext, entry: RegisterEntry, camera_id: str,
                 at: datetime) -> None:  # fmt: skip
        super().__init__(classes="playback-screen")
        translate_bindings(self)
        self.context = context
        self.entry = entry
        self.camera_id = camera_id
        self.at = at
        self.camera = context.camera(camera_id)
        self.reader: PlaybackReader | None = None
        self.timeline_data: DayTimeline | None = None
        self._loading_day: datetime | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="banner-bar"):
            yield Static(_("[b]Playback[/b] · register entry no. {id}").format(
                id=self.entry.id), classes="banner")
            yield SessionInfo(self.context.register.session)
        yield Vertical(id="video-box")
        yield Timeline(self.context.zone, id="timeline")
        yield Static("", id="playback-status")
        yield Static("", id="playback-notice")
        yield KeyFooter()

    def on_mount(self) -> None:
        session = self.context.register.session
        try:
            if session is None:
                raise PermissionDenied("—", REQUIRED_PERMISSION)
            self.reader = self.context.playback.open(session, self.entry.id, self.camera_id,
                                                     self.at)
        except CentraleError as e:
            self.app.notify(e.message, title=e.display_title, severity="error")
            self.dismiss(None)
            return
        self.query_one("#video-box", Vertical).mount(PlaybackView(self.reader, id="video"))
        self._request_day(self.at)
        self.set_interval(0.2, self.tick)
        self.tick()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            session = self.context.register.session
            return (self.context.export is not None and session is not None
                    and session.allows(Permission.EXPORT))
        return True

    def action_export(self) -> None:
        """Export one minute around the picture shown (the export screen adjusts it)."""
        export = self.context.export
        if export is None or self.reader is None:
            return
        position = self.reader.state().position
        if position is None:
            return
        open_export(self.app, export, camera=self.camera_id,
                    start=position - timedelta(seconds=30), end=position + timedelta(seconds=30))

    def on_unmount(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.close()  # joins a waiting thread, records the span viewed (a few ms)

    # -- the status line and the timeline -----------------------------------------------------

    def _day_of(self, at: datetime) -> datetime:
        local = at.astimezone(self.context.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    def _request_day(self, at: datetime) -> None:
        self._loading_day = self._day_of(at)
        self._load_day(self._loading_day)

    @work(thread=True, exclusive=True, group="playback-timeline")
    def _load_day(self, day: datetime) -> None:
        data = self.context.playback.timeline(self.camera_id, day, day + timedelta(days=1))
        self.app.call_from_thread(self._timeline_loaded, data)

    def _timeline_loaded(self, data: DayTimeline) -> None:
        self.timeline_data = data
        self.tick()

    def tick(self) -> None:
        if self.reader is None:
            return
        state = self.reader.state()
        self.query_one("#playback-status", Static).update(
            status_text(state, self.camera, self.context.zone))
        self.query_one("#playback-notice", Static).update(escape(state.notice))
        self.query_one("#timeline", Timeline).show(self.timeline_data, state.position)
        if state.position is not None:
            day = self._day_of(state.position)
            if day != self._loading_day:
                self._request_day(state.position)

    # -- keys --------------------------------------------------------------------------------

    def action_play_pause(self) -> None:
        if self.reader is not None:
            self.reader.toggle()

    def action_step(self, frames: int) -> None:
        if self.reader is not None:
            self.reader.step(frames)

    def action_seek(self, seconds: float) -> None:
        if self.reader is not None:
            self.reader.seek_by(seconds)

    def action_speed(self, direction: int) -> None:
        if self.reader is not None:
            if direction > 0:
                self.reader.faster()
            else:
                self.reader.slower()
            self.tick()

    def action_goto(self) -> None:
        if self.reader is None:
            return
        state = self.reader.state()

        def go(at: datetime | None) -> None:
            if at is not None and self.reader is not None:
                self.reader.seek(at)

        self.app.push_screen(GoToModal(self.context.zone, state.position or self.at), go)

    def action_back(self) -> None:
        self.dismiss(None)


class GoToModal(ModalScreen[datetime | None]):
    """Type the moment to go to: dd/mm/yyyy hh:mm[:ss], in the site's time zone."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel"), id="playback_goto.cancel"),
    ]

    def __init__(self, zone: ZoneInfo, current: datetime) -> None:
        super().__init__(classes="playback-modal")
        translate_bindings(self)
        self.zone = zone
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-box"):
            yield Static(_("Go to (dd/mm/yyyy hh:mm or hh:mm:ss)"), classes="form-section")
            yield Input(self.current.astimezone(self.zone).strftime(SECONDS_FORMAT),
                        id="goto", compact=True, max_length=20)
            yield Static("", id="goto-error", classes="field-error")

    @on(Input.Submitted, "#goto")
    def _submitted(self) -> None:
        text = " ".join(self.query_one("#goto", Input).value.split())
        for fmt in (SECONDS_FORMAT, "%d/%m/%Y %H:%M"):
            try:
                at = datetime.strptime(text, fmt).replace(tzinfo=self.zone)
            except ValueError:
                continue
            self.dismiss(at)
            return
        error = self.query_one("#goto-error", Static)
        error.update(escape(_("{text} is not a date and time: write it as dd/mm/yyyy hh:mm:ss")
                            .format(text=text or "—")))
        error.set_class(True, "shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
