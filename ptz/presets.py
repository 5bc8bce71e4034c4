"""Approved presets and privacy masks of each camera (R7, R8).

The responsabile (``define_presets``) moves a PTZ camera, saves the view as a named preset
(SetPreset on the device, with the position GetStatus reports) and approves it; then draws
its masks. Operators see and use only approved presets. A fixed camera has one mask set.
Every change is audited. The masks of all of a camera's views can be exported to JSON and
imported back (validated as a whole, applied in one transaction: a bad file changes nothing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cameras.masks import NO_MASKS, MaskError, MaskSet
from ptz.control import DevicePreset, PtzControl, PtzPosition
from registry.clock import Clock, utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.roles import Permission
from registry.session import Auditor, Session, require
from registry.store_ptz import PresetRow, PtzStore

#: Format tag of exported mask files.
MASKS_FORMAT: Final = "centrale-masks/1"

# Audit actions.
PRESET_DEFINED = "preset.defined"
PRESET_APPROVED = "preset.approved"
PRESET_REMOVED = "preset.removed"
MASKS_CHANGED = "masks.changed"
MASKS_IMPORTED = "masks.imported"


class PresetError(CentraleError):
    title = N_("Preset")


@dataclass(frozen=True)
class Preset:
    """A stored preset of a PTZ camera."""

    id: int
    camera_id: str
    name: str
    token: str
    position: PtzPosition
    masks: MaskSet
    defined_by: str
    defined_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


def _preset(row: PresetRow) -> Preset:
    return Preset(
        id=row.id, camera_id=row.camera_id, name=row.name, token=row.token,
        position=PtzPosition(row.pan, row.tilt, row.zoom),
        masks=MaskSet.loads(row.masks, f"preset {row.name}"),
        defined_by=row.defined_by, defined_at=row.defined_at,
        approved_by=row.approved_by, approved_at=row.approved_at,
    )  # fmt: skip


class PresetBook:
    """Presets and masks of every camera, in the store, with permission checks and audit.

    ``on_change(camera_id)`` is called after any change, so the camera's mask state machine
    can reload its presets (``MaskStateMachine.set_presets``) and fixed gates their masks.
    """

    def __init__(
        self,
        store: PtzStore,
        audit: Auditor,
        clock: Clock = utc_now,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.on_change = on_change

    def _changed(self, camera_id: str) -> None:
        if self.on_change is not None:
            self.on_change(camera_id)

    # -- reading -------------------------------------------------------------------------

    def approved(self, camera_id: str) -> list[Preset]:
        """What operators see and may go to."""
        return [_preset(r) for r in self.store.presets(camera_id, approved_only=True)]

    def all(self, session: Session, camera_id: str) -> list[Preset]:
        """Approved and pending presets (for whoever defines them)."""
        require(session, Permission.DEFINE_PRESETS, self.audit, camera_id)
        return [_preset(r) for r in self.store.presets(camera_id, approved_only=False)]

    def visible_to(self, session: Session, camera_id: str) -> list[Preset]:
        """Pending presets too for ``define_presets``, approved ones only for everyone else."""
        if session.allows(Permission.DEFINE_PRESETS):
            return self.all(session, camera_id)
        return self.approved(camera_id)

    def get(self, preset_id: int) -> Preset:
        row = self.store.preset(preset_id)
        if row is None or row.removed_at is not None:
            raise PresetError(_("There is no preset number {id}").format(id=preset_id))
        return _preset(row)

    def named(self, camera_id: str, name: str) -> Preset:
        row = self.store.preset_named(camera_id, name)
        if row is None:
            raise PresetError(
                _("Camera {camera} has no preset named {name}").format(camera=camera_id,
                                                                      name=name)
            )  # fmt: skip
        return _preset(row)

    def fixed_masks(self, camera_id: str) -> MaskSet:
        text = self.store.fixed_masks(camera_id)
        return MaskSet.loads(text, f"camera {camera_id}") if text else NO_MASKS

    def all_fixed_masks(self) -> dict[str, MaskSet]:
        return {cam: MaskSet.loads(text, f"camera {cam}")
                for cam, text in self.store.all_fixed_masks().items()}  # fmt: skip

    # -- defining ------------------------------------------------------------------------

    async def define(
        self, session: Session, control: PtzControl, name: str, *, approve: bool = False
    ) -> Preset:
        """Save where the camera stands as preset ``name`` (device token as returned)."""
        require(session, Permission.DEFINE_PRESETS, self.audit, control.camera_id)
        name = name.strip()
        if not name:
            raise PresetError(_("A preset needs a name"))
        camera_id = control.camera_id
        if self.store.preset_named(camera_id, name) is not None:
            raise PresetError(
                _("Camera {camera} already has a preset named {name}").format(
                    camera=camera_id, name=name
                )
            )
        device: DevicePreset = await control.set_preset(session, name)
        if device.position is None:
            raise PresetError(
                _("The camera {camera} did not report its position: preset not saved").format(
                    camera=camera_id
                )
            )
        pos = device.position
        now = self.clock()
        preset_id = self.store.add_preset(
            camera_id, name, device.token, (pos.pan, pos.tilt, pos.zoom), session.username, now
        )
        self.audit.append(session.username, PRESET_DEFINED, camera_id, {
            "preset": name, "token": device.token,
            "position": json.dumps(pos.to_json(), sort_keys=True),
        })  # fmt: skip
        if approve:
            return self.approve(session, preset_id)
        self._changed(camera_id)
        return self.get(preset_id)

    def approve(self, session: Session, preset_id: int) -> Preset:
        preset = self.get(preset_id)
        require(session, Permission.DEFINE_PRESETS, self.audit, preset.camera_id)
        self.store.approve_preset(preset_id, session.username, self.clock())
        self.audit.append(session.username, PRESET_APPROVED, preset.camera_id,
                          {"preset": preset.name, "token": preset.token})  # fmt: skip
        self._changed(preset.camera_id)
        return self.get(preset_id)

    def remove(self, session: Session, preset_id: int) -> None:
        preset = self.get(preset_id)
        require(session, Permission.DEFINE_PRESETS, self.audit, preset.camera_id)
        self.store.remove_preset(preset_id, session.username, self.clock())
        self.audit.append(session.username, PRESET_REMOVED, preset.camera_id,
                          {"preset": preset.name, "token": preset.token})  # fmt: skip
        self._changed(preset.camera_id)

    # -- masks ---------------------------------------------------------------------------

    def set_masks(self, session: Session, preset_id: int, masks: MaskSet) -> Preset:
        preset = self.get(preset_id)
        require(session, Permission.DEFINE_PRESETS, self.audit, preset.camera_id)
        self.store.set_preset_masks(preset_id, masks.dumps())
        self.audit.append(session.username, MASKS_CHANGED, preset.camera_id,
                          {"preset": preset.name, "masks": masks.dumps()})  # fmt: skip
        self._changed(preset.camera_id)
        return self.get(preset_id)

    def set_fixed_masks(self, session: Session, camera_id: str, masks: MaskSet) -> None:
        require(session, Permission.DEFINE_PRESETS, self.audit, camera_id)
        self.store.set_fixed_masks(camera_id, masks.dumps(), session.username, self.clock())
        self.audit.append(session.username, MASKS_CHANGED, camera_id,
                          {"preset": "", "masks": masks.dumps()})  # fmt: skip
        self._changed(camera_id)

    # -- export / import -------------------------------------------------------------------

    def export_masks(self, camera_id: str) -> dict[str, Any]:
        """All masks of a camera: its fixed set and one set per live preset."""
        presets = [_preset(r) for r in self.store.presets(camera_id, approved_only=False)]
        return {
            "format": MASKS_FORMAT,
            "camera": camera_id,
            "fixed": self.fixed_masks(camera_id).to_json(),
            "presets": {p.name: p.masks.to_json() for p in presets},
        }

    def import_masks(self, session: Session, camera_id: str, data: Any) -> dict[str, int]:
        """Replace the masks named in ``data``; all or nothing. Returns masks per view.

        Presets are matched by name and must exist (a file cannot create presets: their
        positions come from the camera). Views not named in the file keep their masks.
        """
        require(session, Permission.DEFINE_PRESETS, self.audit, camera_id)
        fixed, by_preset = parse_mask_file(data, camera_id)
        targets: list[tuple[Preset, MaskSet]] = []
        for name, masks in by_preset.items():
            row = self.store.preset_named(camera_id, name)
            if row is None:
                raise MaskError(
                    _("presets.{name}: camera {camera} has no preset with that name").format(
                        name=name, camera=camera_id
                    )
                )
            targets.append((_preset(row), masks))
        now = self.clock()
        counts: dict[str, int] = {}
        with self.store.store.transaction():  # the audit entry commits with the masks
            if fixed is not None:
                self.store.set_fixed_masks(camera_id, fixed.dumps(), session.username, now)
                counts[""] = len(fixed)
            for preset, masks in targets:
                self.store.set_preset_masks(preset.id, masks.dumps())
                counts[preset.name] = len(masks)
            self.audit.append(session.username, MASKS_IMPORTED, camera_id, {
                "views": json.dumps(counts, sort_keys=True),
            })  # fmt: skip
        self._changed(camera_id)
        return counts


def parse_mask_file(data: Any, camera_id: str) -> tuple[MaskSet | None, dict[str, MaskSet]]:
    """Validate a mask file's content; every error names the key that is wrong."""
    if not isinstance(data, dict):
        raise MaskError(_("the mask file must be a JSON object"))
    unknown = sorted(set(data) - {"format", "camera", "fixed", "presets"})
    if unknown:
        raise MaskError(_("unknown key {key} in the mask file").format(key=unknown[0]))
    if data.get("format") != MASKS_FORMAT:
        raise MaskError(
            _("format: expected {expected}, got {got}").format(
                expected=MASKS_FORMAT, got=repr(data.get("format"))
            )
        )
    if data.get("camera") != camera_id:
        raise MaskError(
            _("camera: the file is for {got}, not {camera}").format(
                got=repr(data.get("camera")), camera=camera_id
            )
        )
    fixed = MaskSet.from_json(data["fixed"], "fixed") if "fixed" in data else None
    presets = data.get("presets", {})
    if not isinstance(presets, dict):
        raise MaskError(_("presets: expected an object of preset name -> masks"))
    by_preset = {str(name): MaskSet.from_json(value, f"presets.{name}")
                 for name, value in presets.items()}  # fmt: skip
    return fixed, by_preset

