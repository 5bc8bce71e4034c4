"""The PTZ machinery of one process (the console, or the recorder service), built in one call.

:func:`start_ptz_runtime` registers every camera's gate (fixed ones with their stored masks)
and, for each enabled PTZ camera with an ONVIF address:

- a :class:`~ptz.maskstate.MaskStateMachine` on the camera's gate, and a
  :class:`~ptz.maskstate.MaskStateWatcher` polling GetStatus (its own thread);
- a :class:`~ptz.control.PtzControl` whose listener is that machine, living in the runtime's
  event loop (one thread): the console's screens call :meth:`PtzRuntime.call` or
  :meth:`PtzRuntime.submit` from worker threads, never from the UI thread.

The :class:`~ptz.presets.PresetBook` it makes calls :meth:`PtzRuntime.reload` on every change
made in this process; changes made by *another* process (the supervisor's console while the
recorder runs) are picked up by a refresh every ``refresh_s`` seconds, which compares what is
stored with what the machines and fixed gates hold. Until a refresh, the other process keeps
the old masks: the design note (docs/design/masks.md) says why this is acceptable.

Only the recorder service records the mask-state timeline (``record_timeline``) and runs the
:class:`~ptz.tours.TourRunner` (``run_tours``): one timeline per camera, one runner per site.
Consoles take control leases (``take_leases``); the recorder, which drives only tours, does not
(a tour gives way to any lease instead).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from cameras.config import CameraConfig
from cameras.device import OnvifDevice
from cameras.errors import CameraUnreachable
from cameras.masks import GATES, MaskGates, MaskSet, Show, register_cameras
from ptz.control import PtzControl
from ptz.leases import DEFAULT_IDLE_S, LeaseBook
from ptz.maskstate import POLL_S, SETTLE_S, MaskStateMachine, MaskStateWatcher, record_to
from ptz.presets import Preset, PresetBook
from ptz.tours import TourBook, TourRunner, quiet_steps
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import _
from registry.session import Auditor
from registry.store import Store
from registry.store_ptz import PtzControlStore, PtzStore

log = logging.getLogger(__name__)

T = TypeVar("T")
PasswordLookup = Callable[[str], "str | None"]


class PtzRuntime:
    """See the module docstring. Build with :func:`start_ptz_runtime`; ``close()`` once."""

    def __init__(
        self,
        cameras: Iterable[CameraConfig],
        store: Store,
        audit: Auditor,
        *,
        password_for: PasswordLookup,
        clock: Clock = utc_now,
        take_leases: bool = True,
        record_timeline: bool = False,
        run_tours: bool = False,
        settle_s: float = SETTLE_S,
        poll_s: float = POLL_S,
        refresh_s: float = 5.0,
        lease_idle_s: float = DEFAULT_IDLE_S,
        timeout_s: float = 5.0,
        timezone: str = "Europe/Rome",
        workstation: str = "",
        gates: MaskGates = GATES,
    ) -> None:
        self.all_cameras = [c for c in cameras if c.enabled]
        self.cameras: dict[str, CameraConfig] = {
            c.id: c for c in self.all_cameras if c.is_ptz and c.onvif}  # fmt: skip
        self.audit = audit
        self.clock = clock
        self.ptz_store = PtzStore(store)
        self.control_store = PtzControlStore(store)
        self.presets = PresetBook(self.ptz_store, audit, clock, on_change=self.reload)
        self.leases = LeaseBook(self.control_store, audit, clock, idle_s=lease_idle_s,
                                timezone=timezone, workstation=workstation)  # fmt: skip
        self.tours = TourBook(self.control_store, self.presets, audit, clock)
        self._password_for = password_for
        self._take_leases = take_leases
        self._record = record_timeline
        self._run_tours = run_tours
        self._settle_s = settle_s
        self._poll_s = poll_s
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s
        self._gates = gates
        self.machines: dict[str, MaskStateMachine] = {}
        self.watchers: dict[str, MaskStateWatcher] = {}
        self._controls: dict[str, PtzControl] = {}
        self._fixed: dict[str, MaskSet] = {}
        self._approved: dict[str, list[Preset]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ptz-runtime",
                                        daemon=True)  # fmt: skip
        self._stop: asyncio.Event | None = None
        self._background: list[concurrent.futures.Future[None]] = []
        self.runner: TourRunner | None = None
        self._closed = False

    # -- start ---------------------------------------------------------------------------

    @property
    def fixed_masks(self) -> dict[str, MaskSet]:
        """The stored masks of the fixed cameras, as loaded at start and on each refresh."""
        return dict(self._fixed)

    def start(self) -> PtzRuntime:
        self._fixed = self.presets.all_fixed_masks()
        gates = register_cameras(self.all_cameras, self._fixed, self._gates)
        for cam in self.cameras.values():
            approved = self.presets.approved(cam.id)
            self._approved[cam.id] = approved
            machine = MaskStateMachine(
                cam.id, gates[cam.id], approved, allow_off_preset=cam.allow_off_preset,
                settle_s=self._settle_s,
                recorder=record_to(self.ptz_store, cam.id) if self._record else None,
                clock=self.clock,
            )  # fmt: skip
            self.machines[cam.id] = machine
            self.watchers[cam.id] = MaskStateWatcher(
                machine, functools.partial(self._new_control, cam, watcher=True),
                poll_s=self._poll_s,
            )
        self._thread.start()
        self._stop = self.run(self._make_stop_event())
        for watcher in self.watchers.values():
            watcher.start()
        self._background.append(self.submit(self._refresh_loop()))
        if self._run_tours and self.cameras:
            self.runner = TourRunner(self.tours, self.leases, self.control, list(self.cameras))
            self._background.append(self.submit(self.runner.run(self._stop)))
        return self

    async def _make_stop_event(self) -> asyncio.Event:
        return asyncio.Event()

    def _password(self, cam: CameraConfig) -> str | None:
        return self._password_for(cam.id) if cam.username else None

    def _new_control(self, cam: CameraConfig, *, watcher: bool = False) -> PtzControl:
        device = OnvifDevice(cam.id, cam.onvif or "", cam.username, self._password(cam),
                             timeout_s=self._timeout_s)  # fmt: skip
        if watcher:  # polls only: no listener, no leases
            return PtzControl(cam, device, self.audit)
        audit = quiet_steps(self.audit) if self._run_tours else self.audit
        return PtzControl(cam, device, audit, listener=self.machines[cam.id],
                          leases=self.leases if self._take_leases else None)  # fmt: skip

    # -- use -------------------------------------------------------------------------------

    def control(self, camera_id: str) -> PtzControl:
        """The camera's control (in the runtime loop: use it only in coroutines given to
        :meth:`submit`/:meth:`call`)."""
        control = self._controls.get(camera_id)
        if control is None:
            cam = self.cameras.get(camera_id)
            if cam is None:
                raise CameraUnreachable(
                    _("{camera} is not a PTZ camera with an ONVIF address").format(
                        camera=camera_id), camera_id=camera_id)  # fmt: skip
            control = self._controls[camera_id] = self._new_control(cam)
        return control

    def submit(self, coro: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` in the runtime loop; the future resolves in the caller's thread."""
        return asyncio.run_coroutine_threadsafe(_awaited(coro), self._loop)

    def run(self, coro: Awaitable[T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` in the runtime loop and wait for it (never from the loop itself)."""
        return self.submit(coro).result(timeout)

    def call(self, camera_id: str, action: Callable[[PtzControl], Awaitable[T]],
             timeout: float | None = 30.0) -> T:  # fmt: skip
        """``action(control)`` in the runtime loop, waited for: for worker threads."""

        async def go() -> T:
            return await action(self.control(camera_id))

        return self.run(go(), timeout)

    # -- presets and masks changed ------------------------------------------------------------

    def reload(self, camera_id: str) -> None:
        """Presets or masks of ``camera_id`` changed: the machine or the fixed gate follows."""
        machine = self.machines.get(camera_id)
        if machine is not None:
            approved = self.presets.approved(camera_id)
            self._approved[camera_id] = approved
            machine.set_presets(approved)
            return
        masks = self.presets.fixed_masks(camera_id)
        self._fixed[camera_id] = masks
        gate = self._gates.get(camera_id)
        if gate is not None and not any(c.id == camera_id and c.is_ptz
                                         for c in self.all_cameras):  # fmt: skip
            gate.set(Show(masks))

    def refresh(self) -> list[str]:
        """Follow changes another process stored; the cameras reloaded."""
        changed: list[str] = []
        for camera_id in self.machines:
            if self.presets.approved(camera_id) != self._approved.get(camera_id):
                self.reload(camera_id)
                changed.append(camera_id)
        stored: Mapping[str, MaskSet] = self.presets.all_fixed_masks()
        for camera_id in set(stored) | set(self._fixed):
            if camera_id in self.machines:
                continue
            if stored.get(camera_id) != self._fixed.get(camera_id):
                self.reload(camera_id)
                changed.append(camera_id)
        return changed

    async def _refresh_loop(self) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._refresh_s)
            if self._stop.is_set():
                return
            try:
                changed = self.refresh()
                if changed:
                    log.info("presets or masks changed elsewhere: %s", ", ".join(changed))
            except CentraleError as exc:
                log.error("PTZ refresh failed: %s", exc)

    # -- stop --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the tours, the watchers and the controls (cameras left as they are)."""
        if self._closed:
            return
        self._closed = True
        for watcher in self.watchers.values():
            watcher.stop()
        if self._thread.is_alive():
            stop = self._stop
            if stop is not None:
                self._loop.call_soon_threadsafe(stop.set)
            for fut in self._background:
                try:
                    fut.result(10)
                except (concurrent.futures.TimeoutError, CentraleError) as exc:
                    log.warning("PTZ background task: %s", exc)
                except concurrent.futures.CancelledError:
                    pass
            for control in list(self._controls.values()):
                try:
                    self.run(control.close(), 10)
                except (concurrent.futures.TimeoutError, CentraleError) as exc:
                    log.warning("%s: closing PTZ control: %s", control.camera_id, exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
        self._controls.clear()


async def _awaited(coro: Awaitable[T]) -> T:
    return await coro


def start_ptz_runtime(
    cameras: Iterable[CameraConfig],
    store: Store,
    audit: Auditor,
    *,
    password_for: PasswordLookup,
    **options: object,
) -> PtzRuntime:
    """Build and start the PTZ machinery (see :class:`PtzRuntime` for ``options``).

    Console: ``start_ptz_runtime(config.enabled_cameras, services.store, services.audit,
    password_for=get_camera_password, timezone=..., workstation=...)``. Recorder service:
    the same with ``record_timeline=True, run_tours=True, take_leases=False``.
    """
    return PtzRuntime(cameras, store, audit, password_for=password_for,
                      **options).start()  # type: ignore[arg-type]
