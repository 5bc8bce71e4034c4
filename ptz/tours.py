"""Tours: a PTZ camera visiting approved presets in turn, with a dwell at each (R7).

The supervisor (``define_presets``) defines a tour over *approved* presets only; operators
(``ptz``) start and stop it. Tours run in the always-on recorder service, so they go on when
no console is open: a console only writes a request (``ptz_tour_command``) which the
service's :class:`TourRunner` polls and carries out, and the runner writes the run state
(``ptz_tour_run``) every console shows. Requests, starts, stops, pauses and resumes are
audited; the runner's own GotoPreset steps are not (they are the audited tour, and a step
every few seconds would flood the trail).

Privacy: the runner moves the camera through the same :class:`~ptz.control.PtzControl` as a
person, whose listener is the camera's mask state machine, so transit is ``MOVING`` (blank)
before each GotoPreset goes out, and a preset is shown only once the camera has settled
there (``ptz.maskstate``).

Manual commands win: while anyone holds the camera's control lease (``ptz.leases``: a
console driving it), the tour is *paused*; it resumes by itself once the lease has lapsed
(30 s after the last manual command), going on to the next stop. This was chosen over
"stays paused" because a tour someone forgot to restart leaves windows of the day unwatched,
and the operator who wants it off stops it explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ptz.control import PTZ_GOTO_PRESET, PtzControl
from ptz.leases import LeaseBook
from ptz.presets import Preset, PresetBook, PresetError
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.people import Person
from registry.roles import Level, Permission, role_named
from registry.session import Auditor, Session, require
from registry.store_ptz import PtzControlStore, TourCommandRow, TourRow, TourRunRow

log = logging.getLogger(__name__)

MIN_DWELL_S: Final = 1.0
MAX_DWELL_S: Final = 3600.0
MAX_STOPS: Final = 64

# Audit actions.
TOUR_DEFINED = "tour.defined"
TOUR_START_REQUESTED = "tour.start_requested"
TOUR_STOP_REQUESTED = "tour.stop_requested"
TOUR_STARTED = "tour.started"
TOUR_STOPPED = "tour.stopped"
TOUR_PAUSED = "tour.paused"
TOUR_RESUMED = "tour.resumed"
TOUR_FAILED = "tour.failed"

RUNNING = "running"
PAUSED = "paused"

#: Who the tour runner acts as (audit actor, permission checks in PtzControl).
SYSTEM_USER: Final = "system"


def system_session() -> Session:
    """The recorder service's own identity: may drive cameras, nothing else."""
    at = datetime(2000, 1, 1).astimezone()
    person = Person(username=SYSTEM_USER, full_name="Centrale", role="operatore",
                    level=Level.FIRST, password_hash="", password_changed_at=at)  # fmt: skip
    return Session(id=0, person=person, role=role_named("operatore"), started_at=at)


class TourError(CentraleError):
    title = N_("Tour")


@dataclass(frozen=True)
class TourStop:
    preset_id: int
    preset_name: str
    dwell_s: float


@dataclass(frozen=True)
class Tour:
    id: int
    camera_id: str
    name: str
    stops: tuple[TourStop, ...]
    defined_by: str
    defined_at: datetime


@dataclass(frozen=True)
class TourRun:
    """A tour running (or paused) on a camera, as the recorder service last wrote it."""

    camera_id: str
    tour: Tour
    state: str
    stop_index: int
    started_by: str
    started_at: datetime
    updated_at: datetime
    detail: str

    @property
    def paused(self) -> bool:
        return self.state == PAUSED

    @property
    def stop(self) -> TourStop | None:
        stops = self.tour.stops
        return stops[self.stop_index % len(stops)] if stops else None


class TourBook:
    """Tours of every camera, and the start/stop requests; permission-checked and audited."""

    def __init__(self, store: PtzControlStore, presets: PresetBook, audit: Auditor,
                 clock: Clock = utc_now) -> None:  # fmt: skip
        self.store = store
        self.presets = presets
        self.audit = audit
        self.clock = clock

    def _tour(self, row: TourRow) -> Tour:
        stops = []
        for preset_id, dwell in row.stops:
            preset = self.presets.store.preset(preset_id)
            stops.append(TourStop(preset_id, preset.name if preset else f"#{preset_id}", dwell))
        return Tour(row.id, row.camera_id, row.name, tuple(stops), row.defined_by,
                    row.defined_at)  # fmt: skip

    def tours(self, camera_id: str) -> list[Tour]:
        return [self._tour(r) for r in self.store.tours(camera_id)]

    def get(self, tour_id: int) -> Tour:
        row = self.store.tour(tour_id)
        if row is None:
            raise TourError(_("There is no tour number {id}").format(id=tour_id))
        return self._tour(row)

    def define(self, session: Session, camera_id: str, name: str,
               stops: Sequence[tuple[str, float]]) -> Tour:  # fmt: skip
        """A tour over the camera's approved presets, given by name with dwell seconds."""
        require(session, Permission.DEFINE_PRESETS, self.audit, camera_id)
        name = name.strip()
        if not name:
            raise TourError(_("name: a tour needs a name"))
        if any(t.name == name for t in self.tours(camera_id)):
            raise TourError(_("name: camera {camera} already has a tour named {name}").format(
                camera=camera_id, name=name))  # fmt: skip
        if not 2 <= len(stops) <= MAX_STOPS:
            raise TourError(_("stops: a tour visits 2 to {max} presets, got {n}").format(
                max=MAX_STOPS, n=len(stops)))  # fmt: skip
        approved = {p.name: p for p in self.presets.approved(camera_id)}
        resolved: list[tuple[int, float]] = []
        for i, (preset_name, dwell) in enumerate(stops):
            preset = approved.get(preset_name)
            if preset is None:
                raise TourError(_("stops[{i}]: {name} is not an approved preset of camera "
                                  "{camera}").format(i=i, name=preset_name, camera=camera_id))
            if not MIN_DWELL_S <= dwell <= MAX_DWELL_S:
                raise TourError(_("stops[{i}].dwell_s: {dwell} is not between {lo} and {hi} "
                                  "seconds").format(i=i, dwell=dwell, lo=MIN_DWELL_S,
                                                    hi=MAX_DWELL_S))  # fmt: skip
            resolved.append((preset.id, float(dwell)))
        tour_id = self.store.add_tour(camera_id, name, session.username, self.clock(), resolved)
        self.audit.append(session.username, TOUR_DEFINED, camera_id, {
            "tour": name, "stops": ", ".join(f"{n}:{d:g}s" for n, d in stops)})  # fmt: skip
        return self.get(tour_id)

    # -- requests (consoles) ---------------------------------------------------------------

    def request_start(self, session: Session, camera_id: str, tour_id: int) -> int:
        require(session, Permission.PTZ, self.audit, camera_id)
        tour = self.get(tour_id)
        if tour.camera_id != camera_id:
            raise TourError(_("tour {name} belongs to camera {other}, not {camera}").format(
                name=tour.name, other=tour.camera_id, camera=camera_id))  # fmt: skip
        command = self.store.add_tour_command(camera_id, "start", tour_id, session.username,
                                              self.clock())  # fmt: skip
        self.audit.append(session.username, TOUR_START_REQUESTED, camera_id,
                          {"tour": tour.name, "request": str(command)})  # fmt: skip
        return command

    def request_stop(self, session: Session, camera_id: str) -> int:
        require(session, Permission.PTZ, self.audit, camera_id)
        command = self.store.add_tour_command(camera_id, "stop", None, session.username,
                                              self.clock())  # fmt: skip
        self.audit.append(session.username, TOUR_STOP_REQUESTED, camera_id,
                          {"request": str(command)})  # fmt: skip
        return command

    def pending(self, camera_id: str | None = None) -> list[TourCommandRow]:
        return self.store.pending_tour_commands(camera_id)

    def command(self, command_id: int) -> TourCommandRow | None:
        return self.store.tour_command(command_id)

    # -- run state ---------------------------------------------------------------------------

    def _run(self, row: TourRunRow) -> TourRun:
        return TourRun(row.camera_id, self.get(row.tour_id), row.state, row.stop_index,
                       row.started_by, row.started_at, row.updated_at, row.detail)  # fmt: skip

    def run(self, camera_id: str) -> TourRun | None:
        row = self.store.tour_run(camera_id)
        return self._run(row) if row is not None else None

    def runs(self) -> list[TourRun]:
        return [self._run(r) for r in self.store.tour_runs()]


class _StepAuditor:
    """The runner's auditor: tour steps are not audited one by one (see the module doc)."""

    def __init__(self, audit: Auditor) -> None:
        self.audit = audit

    def append(self, actor: str, action: str, target: str = "",
               details: dict[str, str] | None = None) -> object:  # fmt: skip
        if actor == SYSTEM_USER and action == PTZ_GOTO_PRESET:
            return None
        return self.audit.append(actor, action, target, details)


def quiet_steps(audit: Auditor) -> Auditor:
    """The auditor to give the recorder's PTZ controls (their GotoPresets are tour steps)."""
    return _StepAuditor(audit)


class TourRunner:
    """Carries out tour requests and runs the tours; lives in the PTZ runtime's event loop.

    ``control(camera_id)`` gives the camera's :class:`PtzControl` (listener: its mask state
    machine). Run state survives a restart of the service: rows found at start resume.
    """

    def __init__(
        self,
        book: TourBook,
        leases: LeaseBook,
        control: Callable[[str], PtzControl],
        camera_ids: Sequence[str],
        *,
        poll_s: float = 0.5,
        verify_s: float = 15.0,
        retry_s: float = 5.0,
    ) -> None:
        self.book = book
        self.leases = leases
        self.control = control
        self.camera_ids = set(camera_ids)
        self.poll_s = poll_s
        self.verify_s = verify_s
        self.retry_s = retry_s
        self.session = system_session()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: GotoPreset steps sent, per camera (tests and the benchmark read it)
        self.steps: dict[str, int] = {}

    @property
    def audit(self) -> Auditor:
        return self.book.audit

    def _now(self) -> datetime:
        return self.book.clock()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: poll requests, keep one task per running tour."""
        try:
            while not stop.is_set():
                try:
                    self._tick()
                except CentraleError as exc:  # a busy database: next tick retries
                    log.error("tour runner: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)
        finally:
            for task in self._tasks.values():
                task.cancel()
            for task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._tasks.clear()

    def _tick(self) -> None:
        for command in self.book.pending():
            if command.camera_id not in self.camera_ids:
                continue  # another service's camera, or not a PTZ camera here
            result = self._carry_out(command)
            self.book.store.finish_tour_command(command.id, self._now(), result)
        runs = {r.camera_id: r for r in self.book.store.tour_runs()}
        for camera_id, task in list(self._tasks.items()):
            if camera_id not in runs or task.done():
                task.cancel()
                del self._tasks[camera_id]
        for camera_id, row in runs.items():
            if camera_id in self.camera_ids and camera_id not in self._tasks:
                self._tasks[camera_id] = asyncio.create_task(
                    self._tour(camera_id, row.tour_id, row.stop_index), name=f"tour-{camera_id}")

    def _carry_out(self, command: TourCommandRow) -> str:
        cam = command.camera_id
        if command.action == "stop":
            run = self.book.store.tour_run(cam)
            if run is None:
                return "not running"
            self._cancel(cam)
            self.book.store.delete_tour_run(cam)
            row = self.book.store.tour(run.tour_id)
            self.audit.append(command.requested_by, TOUR_STOPPED, cam, {
                "tour": row.name if row else str(run.tour_id), "request": str(command.id)})
            return "ok"
        assert command.tour_id is not None
        try:
            tour = self.book.get(command.tour_id)
            self._presets(tour)
        except CentraleError as exc:
            self.audit.append(command.requested_by, TOUR_FAILED, cam,
                              {"request": str(command.id), "error": exc.message})  # fmt: skip
            return exc.message
        self._cancel(cam)
        self.book.store.put_tour_run(cam, tour.id, command.requested_by, self._now())
        self.audit.append(command.requested_by, TOUR_STARTED, cam,
                          {"tour": tour.name, "request": str(command.id)})  # fmt: skip
        return "ok"

    def _cancel(self, camera_id: str) -> None:
        task = self._tasks.pop(camera_id, None)
        if task is not None:
            task.cancel()

    def _presets(self, tour: Tour) -> list[Preset]:
        """The tour's presets as they are now: each must still be approved."""
        out = []
        for stop in tour.stops:
            try:
                preset = self.book.presets.get(stop.preset_id)
            except PresetError:
                preset = None
            if preset is None or not preset.approved:
                raise TourError(_("tour {tour}: preset {preset} is no longer approved").format(
                    tour=tour.name, preset=stop.preset_name))  # fmt: skip
            out.append(preset)
        return out

    def _set(self, camera_id: str, state: str, index: int, detail: str = "") -> None:
        self.book.store.update_tour_run(camera_id, state, index, self._now(), detail)

    async def _held(self, camera_id: str, index: int, paused: bool) -> bool:
        """Wait while someone holds the camera's lease; True if the tour was paused."""
        lease = self.leases.current(camera_id)
        if lease is None:
            return paused
        self._set(camera_id, PAUSED, index, lease.holder)
        self.audit.append(SYSTEM_USER, TOUR_PAUSED, camera_id, {"by": lease.holder})
        while lease is not None:
            await asyncio.sleep(self.poll_s)
            lease = self.leases.current(camera_id)
        self.audit.append(SYSTEM_USER, TOUR_RESUMED, camera_id)
        return True

    async def _tour(self, camera_id: str, tour_id: int, index: int) -> None:
        control = self.control(camera_id)
        while True:
            try:
                tour = self.book.get(tour_id)
                presets = self._presets(tour)
            except CentraleError as exc:
                self.audit.append(SYSTEM_USER, TOUR_FAILED, camera_id, {"error": exc.message})
                self.book.store.delete_tour_run(camera_id)
                return
            index %= len(presets)
            if await self._held(camera_id, index, False):
                index = (index + 1) % len(presets)  # the camera was moved: on to the next stop
            preset, stop = presets[index], tour.stops[index]
            self._set(camera_id, RUNNING, index, preset.name)
            try:
                await control.goto_preset(self.session, preset.token, preset.position,
                                          label=preset.name, verify_s=self.verify_s)
                self.steps[camera_id] = self.steps.get(camera_id, 0) + 1
            except CentraleError as exc:
                log.warning("%s: tour step to %s failed: %s", camera_id, preset.name,
                            exc.message)  # fmt: skip
                self._set(camera_id, RUNNING, index, exc.message)
                await asyncio.sleep(self.retry_s)
                continue
            deadline = asyncio.get_running_loop().time() + stop.dwell_s
            interrupted = False
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(min(self.poll_s, left))
                if self.leases.current(camera_id) is not None:
                    interrupted = True
                    break
            if not interrupted:
                index = (index + 1) % len(presets)
