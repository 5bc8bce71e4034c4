"""The mask state of each PTZ camera, which decides what its picture may show (R7).

States: ``AT_PRESET(p)`` (idle at approved preset p: shown with p's masks), ``MOVING``,
``OFF_PRESET`` (idle away from every approved preset: blank, unless the camera's
``allow_off_preset``) and ``UNKNOWN`` (no answer, an error, just started: blank).

Two inputs drive it:

- commands: :meth:`MaskStateMachine.command_sent` is called by ``ptz.control`` *before* a
  command that moves the camera goes out, so the picture is blank before the view changes;
- polls: :class:`MaskStateWatcher` asks GetStatus a few times a second and passes the answer
  to :meth:`MaskStateMachine.observe` (or an error to :meth:`~MaskStateMachine.observe_error`).

Showing again needs patience: a camera that stops is shown only after its position has stayed
put for ``settle_s`` seconds, and never on an answer to a question asked before the last
command. The stream runs behind the camera (encoder, network, decoder: ipycam shows a
GotoPreset ~0.2 s later), so frames of the old view are still arriving when GetStatus
already says "arrived": the settle time covers them. A position that changes under a shown
state (someone else moved the camera) blanks at once.

Every change goes to the gate (:class:`cameras.masks.MaskGate`) and, with its time and the
masks in force, to the timeline (``registry.store_ptz``) so playback and export can apply
the masks of each moment.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from cameras.errors import CameraError
from cameras.masks import NO_MASKS, Blank, BlankReason, MaskDecision, MaskGate, Show
from ptz.control import POSITION_TOLERANCE, PtzPosition, PtzStatus
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import _

if TYPE_CHECKING:
    from ptz.control import PtzControl
    from ptz.presets import Preset
    from registry.store_ptz import PtzStore

log = logging.getLogger(__name__)

#: Seconds a stopped camera must stay put before its picture is shown.
SETTLE_S: Final = 1.0
#: Seconds between two GetStatus polls.
POLL_S: Final = 0.25


class MaskStateKind(StrEnum):
    AT_PRESET = "at_preset"
    MOVING = "moving"
    OFF_PRESET = "off_preset"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {
            MaskStateKind.AT_PRESET: _("at preset"),
            MaskStateKind.MOVING: _("moving"),
            MaskStateKind.OFF_PRESET: _("off preset"),
            MaskStateKind.UNKNOWN: _("position unknown"),
        }[self]


@dataclass(frozen=True)
class MaskState:
    kind: MaskStateKind
    since: datetime
    preset: Preset | None = None
    #: why, for logs and the state line (an error message, the command sent)
    detail: str = ""

    @property
    def preset_name(self) -> str | None:
        return self.preset.name if self.preset is not None else None


#: Called with each new state (the timeline writer).
StateRecorder = Callable[[MaskState, MaskDecision], None]


def record_to(store: PtzStore, camera_id: str) -> StateRecorder:
    """A recorder that writes each state, and the masks then in force, to the timeline."""

    def record(state: MaskState, decision: MaskDecision) -> None:
        shown = isinstance(decision, Show)
        masks = decision.masks.dumps() if isinstance(decision, Show) else "[]"
        store.add_mask_state(
            camera_id, state.since, str(state.kind),
            state.preset.id if state.preset is not None else None, shown, masks,
        )  # fmt: skip

    return record


class MaskStateMachine:
    """One camera's mask state; thread-safe (commands and polls come from different threads)."""

    def __init__(
        self,
        camera_id: str,
        gate: MaskGate,
        presets: Sequence[Preset] = (),
        *,
        allow_off_preset: bool = False,
        tolerance: float = POSITION_TOLERANCE,
        settle_s: float = SETTLE_S,
        recorder: StateRecorder | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.gate = gate
        self.allow_off_preset = allow_off_preset
        self.tolerance = tolerance
        self.settle_s = settle_s
        self._recorder = recorder
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._presets: tuple[Preset, ...] = tuple(p for p in presets if p.approved)
        self._last_command = float("-inf")
        self._still_pos: PtzPosition | None = None
        self._still_since = 0.0
        self._shown_pos: PtzPosition | None = None
        #: states the timeline could not store (a shown state is then not shown)
        self.record_failures = 0
        self._state = MaskState(MaskStateKind.UNKNOWN, clock(), detail="start")
        self._apply(self._state)

    @property
    def state(self) -> MaskState:
        return self._state

    def decision_for(self, state: MaskState) -> MaskDecision:
        if state.kind is MaskStateKind.AT_PRESET and state.preset is not None:
            return Show(state.preset.masks)
        if state.kind is MaskStateKind.OFF_PRESET:
            return Show(NO_MASKS) if self.allow_off_preset else Blank(BlankReason.OFF_PRESET)
        if state.kind is MaskStateKind.MOVING:
            return Blank(BlankReason.MOVING)
        return Blank(BlankReason.UNKNOWN)

    def _apply(self, state: MaskState) -> None:
        """Blank at once; show only once the timeline holds the state (else stay blank)."""
        decision = self.decision_for(state)
        if isinstance(decision, Blank):
            self.gate.set(decision)
        if self._recorder is not None:
            try:
                self._recorder(state, decision)
            except CentraleError:
                self.record_failures += 1
                log.exception("%s: could not record mask state %s", self.camera_id, state.kind)
                if isinstance(decision, Show):
                    self._state = MaskState(MaskStateKind.UNKNOWN, state.since,
                                            detail="timeline not writable")  # fmt: skip
                    self.gate.set(Blank(BlankReason.UNKNOWN))
                    return
        if isinstance(decision, Show):
            self.gate.set(decision)

    def _go(self, kind: MaskStateKind, preset: Preset | None = None, detail: str = "") -> None:
        current = self._state
        if current.kind is kind and current.preset == preset:
            return
        state = MaskState(kind, self._clock(), preset, detail)
        self._state = state
        self._apply(state)

    # -- inputs --------------------------------------------------------------------------

    def set_presets(self, presets: Sequence[Preset]) -> None:
        """The approved presets changed (or their masks): blank until the next poll decides."""
        with self._lock:
            self._presets = tuple(p for p in presets if p.approved)
            if self._state.kind in (MaskStateKind.AT_PRESET, MaskStateKind.OFF_PRESET):
                self._still_pos = None
                self._go(MaskStateKind.UNKNOWN, detail="presets changed")

    def command_sent(self, what: str) -> None:
        """A command that may move the camera is about to be sent: blank now."""
        with self._lock:
            self._last_command = self._monotonic()
            self._still_pos = None
            self._go(MaskStateKind.MOVING, detail=what)

    def command_failed(self, what: str) -> None:
        """A move command failed: nobody knows where the camera is until the next poll."""
        with self._lock:
            self._still_pos = None
            self._go(MaskStateKind.UNKNOWN, detail=what)

    def observe_error(self, error: CameraError | str) -> None:
        with self._lock:
            self._still_pos = None
            self._go(MaskStateKind.UNKNOWN,
                     detail=error.message if isinstance(error, CameraError) else error)  # fmt: skip

    def observe(self, status: PtzStatus, asked_at: float | None = None) -> MaskState:
        """A GetStatus answer; ``asked_at`` (monotonic) is when the question was sent."""
        with self._lock:
            now = self._monotonic()
            asked = now if asked_at is None else asked_at
            if asked < self._last_command:
                return self._state  # answer to a question older than the last command
            pos = status.position
            if pos is None or status.error:
                self._still_pos = None
                self._go(MaskStateKind.UNKNOWN, detail=status.error or "no position")
                return self._state
            if status.moving:
                self._still_pos = None
                self._go(MaskStateKind.MOVING, detail="moving")
                return self._state
            shown = self._state.kind in (MaskStateKind.AT_PRESET, MaskStateKind.OFF_PRESET)
            if shown and self._shown_pos is not None and self._shown_pos.near(pos, self.tolerance):
                return self._state  # still where it was shown
            if shown:  # moved under us (another client, the camera's own tour)
                self._go(MaskStateKind.MOVING, detail="position changed")
            if self._still_pos is None or not self._still_pos.near(pos, self.tolerance):
                self._still_pos, self._still_since = pos, asked
                if self._state.kind is not MaskStateKind.UNKNOWN:
                    self._go(MaskStateKind.MOVING, detail="settling")
            settled_since = max(self._still_since, self._last_command)
            if now - settled_since < self.settle_s:
                return self._state
            preset = self.preset_at(pos)
            self._shown_pos = pos
            if preset is not None:
                self._go(MaskStateKind.AT_PRESET, preset)
            else:
                self._go(MaskStateKind.OFF_PRESET, detail="idle")
            return self._state

    def preset_at(self, position: PtzPosition) -> Preset | None:
        """The nearest approved preset within the tolerance, if any."""
        best: Preset | None = None
        best_d = float("inf")
        for p in self._presets:
            d = p.position.distance(position)
            if d <= self.tolerance and d < best_d:
                best, best_d = p, d
        return best


class MaskStateWatcher:
    """Polls one camera's PTZ status in its own thread and event loop; start()/stop().

    ``make_control`` builds the :class:`~ptz.control.PtzControl` used for polling (its own
    ONVIF connection, in this thread's loop). After an error the connection is rebuilt and
    polling slows to ``error_poll_s`` until the camera answers again.
    """

    def __init__(
        self,
        machine: MaskStateMachine,
        make_control: Callable[[], PtzControl],
        *,
        poll_s: float = POLL_S,
        error_poll_s: float = 1.0,
    ) -> None:
        self.machine = machine
        self._make_control = make_control
        self.poll_s = poll_s
        self.error_poll_s = error_poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.errors = 0

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run(self._stop)),
            name=f"maskstate-{self.machine.camera_id}", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    async def _run(self, stop: threading.Event) -> None:
        control: PtzControl | None = None
        try:
            while not stop.is_set():
                delay = self.poll_s
                try:
                    if control is None:
                        control = self._make_control()
                    asked = time.monotonic()
                    status = await control.status()
                    self.polls += 1
                    self.machine.observe(status, asked)
                except CameraError as exc:
                    self.errors += 1
                    self.machine.observe_error(exc)
                    if control is not None:
                        await control.close()
                    control = None
                    delay = self.error_poll_s
                await asyncio.sleep(0)
                stop.wait(delay)  # short waits: blocking this private loop is harmless
        finally:
            if control is not None:
                await control.close()
            self.machine.observe_error(_("not watched"))
