"""Helpers of the PTZ tests (no tests here): sessions, an audit trail, a device for a peer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from peers import IpycamPeer

from cameras.config import CameraConfig
from cameras.device import OnvifDevice
from ptz.control import PtzControl
from registry.audit import AuditEntry, AuditTrail
from registry.people import Person
from registry.roles import Level, role_named
from registry.session import Session
from registry.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def session(username: str, role: str, *, level: Level = Level.FIRST, sid: int = 1) -> Session:
    person = Person(username=username, full_name=username.title(), role=role, level=level,
                    password_hash="not-used", password_changed_at=T0)
    return Session(id=sid, person=person, role=role_named(role), started_at=T0)


def supervisor() -> Session:
    return session("rossi", "supervisore", sid=1)


def operator() -> Session:
    return session("bianchi", "operatore", sid=2)


def watcher() -> Session:
    """Someone who may not move cameras (the maintenance technician's empty role)."""
    return session("verdi", "tecnico", sid=3)


def open_store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "data")


def audit_trail(store: Store) -> AuditTrail:
    return AuditTrail(store, b"k" * 32)


def actions(audit: AuditTrail, target: str | None = None) -> list[AuditEntry]:
    return [e for e in audit.entries() if target is None or e.target == target]


def camera_for(peer: IpycamPeer, camera_id: str = "dome", **extra: object) -> CameraConfig:
    return CameraConfig(id=camera_id, name=f"Dome {camera_id}", place="Piazza", kind="ptz",
                        onvif=peer.address, username=peer.username, **extra)  # type: ignore[arg-type]


def control_for(peer: IpycamPeer, audit: AuditTrail, *, password: str | None = None,
                camera: CameraConfig | None = None, **kwargs: object) -> PtzControl:
    cam = camera or camera_for(peer)
    device = OnvifDevice(cam.id, peer.address, peer.username,
                         peer.password if password is None else password, timeout_s=3.0)
    return PtzControl(cam, device, audit, **kwargs)  # type: ignore[arg-type]
