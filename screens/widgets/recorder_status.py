"""The recorder's health in the console: one line, and an alarm nobody can miss (R15).

The recorder (``centrale recorder``, another process) keeps one ``camera_health`` row per
camera (docs/design/recording.md, "Recorder health and a full disk"). This widget reads them
every few seconds **in a worker thread** (the database may be busy, or on the full disk
itself: the UI thread never waits for it) and shows either a quiet summary ("REC 5/6") or,
when any camera is ``disk_full`` or ``failing``, an alarm in the error colour with the cameras
named: a full disk means footage is not being recorded, which the operator must report at
once. The lead places it in the grid's header or footer::

    yield RecorderStatus(lambda: FootageStore(store).all_health(), names={...})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.markup import escape
from textual import work
from textual.widgets import Static

from registry.errors import CentraleError
from registry.i18n import _
from registry.store_footage import HealthRow

#: states that raise the alarm, in order of gravity
ALARM_STATES = ("disk_full", "failing")
POLL_S = 3.0


def summarize(rows: Sequence[HealthRow], zone: ZoneInfo | None = None,
              names: Mapping[str, str] | None = None) -> tuple[str, bool]:  # fmt: skip
    """The line to show (Rich markup) and whether it is an alarm."""
    names = names or {}
    if not rows:
        return _("REC: no recorder has reported yet"), False

    def who(cams: list[HealthRow]) -> str:
        return ", ".join(escape(names.get(r.camera, r.camera)) for r in cams)

    def since(cams: list[HealthRow]) -> str:
        first: datetime = min(r.since for r in cams)
        return first.astimezone(zone).strftime("%H:%M") if zone else first.strftime("%H:%M")

    full = [r for r in rows if r.state == "disk_full"]
    failing = [r for r in rows if r.state == "failing"]
    parts: list[str] = []
    if full:
        parts.append(_("⚠ DISK FULL: not recording since {at}: {cams}").format(
            at=since(full), cams=who(full)))
    if failing:
        parts.append(_("⚠ RECORDING FAILING since {at}: {cams}").format(
            at=since(failing), cams=who(failing)))
    if parts:
        return "[b]" + " · ".join(parts) + "[/b]", True
    recording = sum(r.state == "recording" for r in rows)
    text = _("REC {n}/{total}").format(n=recording, total=len(rows))
    others = [r for r in rows if r.state != "recording"]
    if others:
        text += " · " + ", ".join(
            f"{escape(names.get(r.camera, r.camera))}: {escape(_state_label(r.state))}"
            for r in others)
    return text, False


def _state_label(state: str) -> str:
    return {
        "recording": _("recording"),
        "reconnecting": _("reconnecting"),
        "failing": _("failing"),
        "disk_full": _("disk full"),
        "stopped": _("stopped"),
    }.get(state, state)


class RecorderStatus(Static):
    """Per-camera recording state, polled in a worker; see the module docstring."""

    DEFAULT_CSS = """
    RecorderStatus {
        width: auto;
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    RecorderStatus.alarm {
        width: 1fr;
        background: $error;
        color: $text;
        text-style: bold;
    }
    RecorderStatus.unavailable {
        color: $warning;
    }
    """

    def __init__(
        self, read_health: Callable[[], list[HealthRow]], *, poll_s: float = POLL_S,
        zone: ZoneInfo | None = None, names: Mapping[str, str] | None = None,
        id: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__("", id=id, classes="recorder-status")
        self.read_health = read_health
        self.poll_s = poll_s
        self.zone = zone
        self.names = dict(names or {})
        self.rows: list[HealthRow] = []
        self.alarm = False
        #: completed polls (tests wait on it)
        self.polls = 0

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.poll_s, self.poll)

    @work(thread=True, exclusive=True, group="recorder-status")
    def poll(self) -> None:
        """Read the health rows off the UI thread, then show them on it."""
        try:
            rows = self.read_health()
        except (CentraleError, OSError) as e:
            message = e.message if isinstance(e, CentraleError) else str(e)
            self.app.call_from_thread(self._unavailable, message)
            return
        self.app.call_from_thread(self.show_rows, rows)

    def show_rows(self, rows: list[HealthRow]) -> None:
        self.rows = rows
        text, alarm = summarize(rows, self.zone, self.names)
        if alarm and not self.alarm:
            self.app.bell()
        self.alarm = alarm
        self.set_class(alarm, "alarm")
        self.set_class(False, "unavailable")
        self.update(text)
        self.polls += 1

    def _unavailable(self, message: str) -> None:
        self.set_class(True, "unavailable")
        self.update(_("REC: recorder status unavailable ({error})").format(
            error=escape(message)))
        self.polls += 1
