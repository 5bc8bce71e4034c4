"""PTZ over ONVIF for one camera: pulse moves, zoom, speed steps, home, presets, status.

A terminal sends no key-release, so a move is a *pulse*: ContinuousMove, then Stop after
:attr:`PtzControl.pulse_s`. A press while the camera is already moving the same way only
pushes the Stop back, so a held key (auto-repeat) moves smoothly with one command. The
ContinuousMove also carries an ONVIF ``Timeout`` a little longer than the pulse, so a camera
stops by itself if our Stop never arrives (console killed, network gone).

With a :class:`~ptz.leases.LeaseBook` (``leases``), every command sent on someone's behalf
first takes or renews the camera's control lease (R9): a refusal comes before any request
and before the picture is blanked. Tests of the control alone leave ``leases`` unset.

Before any command that moves the camera is sent, the :class:`MoveListener` (the camera's
mask state machine, :mod:`ptz.maskstate`) is told, so the picture is blanked before the view
can change. Every command sent on someone's behalf is checked (``registry.session.require``)
and audited: who, which camera, what. The automatic Stop at the end of a pulse belongs to the
audited move and is not audited again.

Device quirks handled here (../shared/peers/README.md): SetPreset may ignore the token we
ask for and return its own, so the returned token is the one kept; GotoPreset may report
success for a token it does not know, so :meth:`PtzControl.goto_preset` checks with GetStatus
that the camera really reached the stored position.

zeep objects stay in this module; callers get :class:`PtzStatus`, :class:`PtzPosition` and
:class:`DevicePreset`. Errors are :mod:`cameras.errors` (auth, offline, protocol,
unsupported) or :class:`PtzError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

from cameras.config import CameraConfig
from cameras.device import OnvifDevice
from cameras.errors import CameraError, CameraProtocolError, CameraUnsupported
from registry.i18n import N_, _
from registry.roles import Permission
from registry.session import Auditor, Session, require

if TYPE_CHECKING:
    from ptz.leases import LeaseBook

log = logging.getLogger(__name__)

#: Speed steps (fraction of the camera's top speed) the operator moves through.
SPEED_STEPS: Final = (0.1, 0.25, 0.5, 0.75, 1.0)
DEFAULT_SPEED_INDEX: Final = 2
#: How long one key press moves the camera.
PULSE_S: Final = 0.3
#: Position difference (ONVIF generic space: pan/tilt -1..1, zoom 0..1) still "the same place".
POSITION_TOLERANCE: Final = 0.01

#: Fault texts that mean "this camera does not do that".
_UNSUPPORTED_TEXTS = ("not supported", "notsupported", "actionnotsupported", "not implemented")

# Audit actions.
PTZ_MOVE = "ptz.move"
PTZ_ZOOM = "ptz.zoom"
PTZ_STOP = "ptz.stop"
PTZ_HOME = "ptz.home"
PTZ_GOTO_PRESET = "ptz.goto_preset"
PTZ_SET_PRESET = "ptz.set_preset"
PTZ_REMOVE_PRESET = "ptz.remove_preset"
PTZ_REFUSED = "ptz.refused"


class PtzError(CameraError):
    """A PTZ command was refused or did not have its effect."""

    title = N_("PTZ command failed")


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"

    @property
    def is_zoom(self) -> bool:
        return self in (Direction.ZOOM_IN, Direction.ZOOM_OUT)

    def velocity(self, speed: float) -> tuple[float, float, float]:
        """(pan, tilt, zoom) speeds; tilt up is positive in ONVIF's generic space."""
        return {
            Direction.UP: (0.0, speed, 0.0),
            Direction.DOWN: (0.0, -speed, 0.0),
            Direction.LEFT: (-speed, 0.0, 0.0),
            Direction.RIGHT: (speed, 0.0, 0.0),
            Direction.ZOOM_IN: (0.0, 0.0, speed),
            Direction.ZOOM_OUT: (0.0, 0.0, -speed),
        }[self]


@dataclass(frozen=True)
class PtzPosition:
    pan: float
    tilt: float
    zoom: float

    def distance(self, other: PtzPosition) -> float:
        """Largest difference on any axis."""
        return max(
            abs(self.pan - other.pan), abs(self.tilt - other.tilt), abs(self.zoom - other.zoom)
        )

    def near(self, other: PtzPosition, tolerance: float = POSITION_TOLERANCE) -> bool:
        return self.distance(other) <= tolerance

    def to_json(self) -> dict[str, float]:
        return {"pan": self.pan, "tilt": self.tilt, "zoom": self.zoom}


@dataclass(frozen=True)
class PtzStatus:
    """What GetStatus said: where the camera is and whether it is moving."""

    position: PtzPosition | None
    moving: bool
    #: the device's own error text, if it reported one
    error: str = ""


@dataclass(frozen=True)
class DevicePreset:
    """A preset as the camera holds it (not yet, or not necessarily, approved)."""

    token: str
    name: str
    position: PtzPosition | None


class MoveListener(Protocol):
    """Told before a command that moves the camera is sent (the mask state machine)."""

    def command_sent(self, what: str) -> None: ...

    def command_failed(self, what: str) -> None: ...


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _position(raw: Any) -> PtzPosition | None:
    if raw is None:
        return None
    pan_tilt = getattr(raw, "PanTilt", None)
    zoom = getattr(raw, "Zoom", None)
    pan = _float(getattr(pan_tilt, "x", None)) if pan_tilt is not None else None
    tilt = _float(getattr(pan_tilt, "y", None)) if pan_tilt is not None else None
    z = _float(getattr(zoom, "x", None)) if zoom is not None else None
    if pan is None and tilt is None and z is None:
        return None
    return PtzPosition(pan or 0.0, tilt or 0.0, z or 0.0)


def _is_moving(move_status: Any) -> bool:
    if move_status is None:
        return False
    parts = (getattr(move_status, "PanTilt", None), getattr(move_status, "Zoom", None))
    return any(str(p).upper() == "MOVING" for p in parts if p is not None)


def _unsupported_cause(exc: BaseException) -> bool:
    cur: BaseException | None = exc
    while cur is not None:
        text = " ".join(
            str(x) for x in (cur, getattr(cur, "message", ""), getattr(cur, "code", ""))
        ).lower()
        if any(t in text for t in _UNSUPPORTED_TEXTS):
            return True
        cur = cur.__cause__
    return False


class PtzControl:
    """Drives one PTZ camera; one per camera and console (see the module docstring)."""

    def __init__(
        self,
        camera: CameraConfig,
        device: OnvifDevice,
        audit: Auditor,
        *,
        listener: MoveListener | None = None,
        leases: LeaseBook | None = None,
        pulse_s: float = PULSE_S,
        tolerance: float = POSITION_TOLERANCE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera = camera
        self.device = device
        self.audit = audit
        self.listener = listener
        #: control leases (R9): when set, every command on someone's behalf takes the lease
        self.leases = leases
        self.pulse_s = pulse_s
        self.tolerance = tolerance
        self.speed_index = DEFAULT_SPEED_INDEX
        self._monotonic = monotonic
        self._service: Any = None
        self._profile = ""
        self._moving: tuple[float, float, float] | None = None
        self._deadline = 0.0
        self._stopper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # -- plumbing ------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        return self.camera.id

    @property
    def speed(self) -> float:
        return SPEED_STEPS[self.speed_index]

    async def _ptz(self) -> tuple[Any, str]:
        if self._service is None:
            self._service, self._profile = await self.device.ptz_service()
        return self._service, self._profile

    @contextlib.asynccontextmanager
    async def _call(self, what: str) -> AsyncIterator[None]:
        """The device's boundary, with "not supported" faults told apart."""
        try:
            async with self.device.boundary(what):
                yield
        except CameraProtocolError as exc:
            if _unsupported_cause(exc):
                raise CameraUnsupported(
                    _("The camera {camera} does not support {what}").format(
                        camera=self.camera_id, what=what
                    ),
                    camera_id=self.camera_id,
                ) from exc
            raise

    def _drive(self, session: Session, permission: Permission = Permission.PTZ) -> None:
        """Check the permission, then take (or renew) the lease: refused before any I/O."""
        require(session, permission, self.audit, self.camera_id)
        if self.leases is not None:
            self.leases.take(session, self.camera_id)

    def _moved(self, what: str) -> None:
        if self.listener is not None:
            self.listener.command_sent(what)

    def _failed(self, what: str) -> None:
        if self.listener is not None:
            self.listener.command_failed(what)

    def _audit(self, session: Session, action: str, details: dict[str, str] | None = None
               ) -> None:  # fmt: skip
        self.audit.append(session.username, action, self.camera_id, details or {})

    # -- speed ----------------------------------------------------------------------------

    def faster(self) -> float:
        self.speed_index = min(len(SPEED_STEPS) - 1, self.speed_index + 1)
        return self.speed

    def slower(self) -> float:
        self.speed_index = max(0, self.speed_index - 1)
        return self.speed

    # -- pulse moves ----------------------------------------------------------------------

    async def move(self, session: Session, direction: Direction) -> None:
        """One pulse in ``direction``; a repeat in the same direction extends it."""
        require(session, Permission.PTZ, self.audit, self.camera_id)
        if direction is Direction.ZOOM_IN and self.camera.anonymous:
            self._audit(session, PTZ_REFUSED, {"command": str(direction), "rule": "anonymous"})
            raise PtzError(
                _("{camera} is a traffic camera: zooming in is not allowed (R5)").format(
                    camera=self.camera.name
                ),
                camera_id=self.camera_id,
                title=N_("Zoom not allowed"),
            )
        if self.leases is not None:
            self.leases.take(session, self.camera_id)
        velocity = direction.velocity(self.speed)
        self._moved(str(direction))
        async with self._lock:
            self._deadline = self._monotonic() + self.pulse_s
            if self._moving == velocity:
                return  # held key: the stopper waits for the new deadline
            try:
                service, profile = await self._ptz()
                request: dict[str, Any] = {
                    "ProfileToken": profile,
                    "Velocity": {
                        "PanTilt": {"x": velocity[0], "y": velocity[1]},
                        "Zoom": {"x": velocity[2]},
                    },
                    "Timeout": dt.timedelta(seconds=max(1.0, self.pulse_s * 4)),
                }
                async with self._call("ContinuousMove"):
                    await service.ContinuousMove(request)
            except CameraError:
                self._moving = None
                self._failed(str(direction))
                raise
            self._moving = velocity
            action = PTZ_ZOOM if direction.is_zoom else PTZ_MOVE
            self._audit(session, action, {"direction": str(direction), "speed": f"{self.speed}"})
        if self._stopper is None or self._stopper.done():
            self._stopper = asyncio.create_task(self._stop_at_deadline())

    async def _stop_at_deadline(self) -> None:
        while True:
            delay = self._deadline - self._monotonic()
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        async with self._lock:
            if self._moving is None or self._deadline > self._monotonic():
                if self._moving is not None:  # extended while we waited for the lock
                    self._stopper = asyncio.create_task(self._stop_at_deadline())
                return
            try:
                await self._send_stop()
            except CameraError as exc:
                # Nobody awaits this task: the camera's own Timeout stops it; the failure
                # is logged and the next status poll shows the camera's state.
                log.warning("%s: stop after pulse failed: %s", self.camera_id, exc.message)
                self._failed("stop")

    async def _send_stop(self) -> None:
        service, profile = await self._ptz()
        async with self._call("Stop"):
            await service.Stop({"ProfileToken": profile, "PanTilt": True, "Zoom": True})
        self._moving = None

    async def stop(self, session: Session) -> None:
        """Stop now (an explicit stop, audited)."""
        self._drive(session)
        async with self._lock:
            self._deadline = 0.0
            await self._send_stop()
        self._audit(session, PTZ_STOP)

    async def home(self, session: Session) -> None:
        self._drive(session)
        self._moved("home")
        try:
            service, profile = await self._ptz()
            async with self._call("GotoHomePosition"):
                await service.GotoHomePosition({"ProfileToken": profile})
        except CameraError:
            self._failed("home")
            raise
        self._moving = None
        self._audit(session, PTZ_HOME)

    async def move_to(self, session: Session, position: PtzPosition) -> None:
        """AbsoluteMove (for the supervisor placing a camera precisely); needs define_presets."""
        self._drive(session, Permission.DEFINE_PRESETS)
        self._moved("absolute")
        try:
            service, profile = await self._ptz()
            async with self._call("AbsoluteMove"):
                await service.AbsoluteMove({
                    "ProfileToken": profile,
                    "Position": {"PanTilt": {"x": position.pan, "y": position.tilt},
                                 "Zoom": {"x": position.zoom}},
                })  # fmt: skip
        except CameraError:
            self._failed("absolute")
            raise
        self._moving = None
        self._audit(session, PTZ_MOVE, {"to": f"{position.to_json()}"})

    # -- status and presets -------------------------------------------------------------------

    async def status(self) -> PtzStatus:
        service, profile = await self._ptz()
        async with self._call("GetStatus"):
            raw = await service.GetStatus({"ProfileToken": profile})
        error = getattr(raw, "Error", None)
        return PtzStatus(
            position=_position(getattr(raw, "Position", None)),
            moving=_is_moving(getattr(raw, "MoveStatus", None)),
            error=str(error) if error else "",
        )

    async def presets(self) -> list[DevicePreset]:
        """The presets the camera holds (approved or not: see ``ptz.presets``)."""
        service, profile = await self._ptz()
        async with self._call("GetPresets"):
            raw = await service.GetPresets({"ProfileToken": profile})
        out = []
        for p in raw or []:
            token = getattr(p, "token", None)
            if token is None:
                continue
            out.append(DevicePreset(
                token=str(token), name=str(getattr(p, "Name", "") or ""),
                position=_position(getattr(p, "PTZPosition", None)),
            ))  # fmt: skip
        return out

    async def goto_preset(
        self, session: Session, token: str, expected: PtzPosition | None, *,
        label: str = "", verify_s: float = 3.0,
    ) -> PtzStatus:  # fmt: skip
        """GotoPreset, then wait until GetStatus shows the camera idle at ``expected``.

        Some cameras report success for a token they do not know: without the check the
        operator would believe the camera is at the preset. :class:`PtzError` when the camera
        does not get there within ``verify_s`` seconds.
        """
        self._drive(session)
        self._moved(f"preset {token}")
        try:
            service, profile = await self._ptz()
            async with self._call("GotoPreset"):
                await service.GotoPreset({"ProfileToken": profile, "PresetToken": token})
        except CameraError:
            self._failed(f"preset {token}")
            raise
        self._moving = None
        self._audit(session, PTZ_GOTO_PRESET, {"token": token, "preset": label or token})
        if expected is None:
            return await self.status()
        deadline = self._monotonic() + verify_s
        status = await self.status()
        while self._monotonic() < deadline:
            if not status.moving and status.position is not None and status.position.near(
                expected, self.tolerance
            ):
                return status
            await asyncio.sleep(0.1)
            status = await self.status()
        raise PtzError(
            _("The camera {camera} did not reach preset {preset}: it reported success but "
              "stands elsewhere").format(camera=self.camera.name, preset=label or token),
            camera_id=self.camera_id,
        )  # fmt: skip

    async def set_preset(self, session: Session, name: str) -> DevicePreset:
        """Save where the camera stands as a device preset; returns the device's token.

        The token we get back is the one kept (some devices ignore a requested token), and
        the position comes from GetStatus, so the preset can be recognised later.
        """
        self._drive(session, Permission.DEFINE_PRESETS)
        service, profile = await self._ptz()
        status = await self.status()
        if status.moving:
            raise PtzError(
                _("The camera {camera} is still moving: stop it before saving a preset").format(
                    camera=self.camera.name
                ),
                camera_id=self.camera_id,
            )
        async with self._call("SetPreset"):
            raw = await service.SetPreset({"ProfileToken": profile, "PresetName": name})
        token = getattr(raw, "PresetToken", raw)
        if not token:
            raise PtzError(
                _("The camera {camera} saved no preset (no token returned)").format(
                    camera=self.camera.name
                ),
                camera_id=self.camera_id,
            )
        preset = DevicePreset(str(token), name, status.position)
        self._audit(session, PTZ_SET_PRESET, {"token": preset.token, "name": name})
        return preset

    async def remove_preset(self, session: Session, token: str) -> None:
        self._drive(session, Permission.DEFINE_PRESETS)
        service, profile = await self._ptz()
        async with self._call("RemovePreset"):
            await service.RemovePreset({"ProfileToken": profile, "PresetToken": token})
        self._audit(session, PTZ_REMOVE_PRESET, {"token": token})

    async def close(self) -> None:
        """Cancel a pending pulse stop (stopping the camera first) and close the device."""
        stopper, self._stopper = self._stopper, None
        if stopper is not None and not stopper.done():
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError, CameraError):
                await stopper
        if self._moving is not None:
            with contextlib.suppress(CameraError):
                await self._send_stop()
        await self.device.close()
