"""``centrale presets list`` and ``centrale masks export|import`` (R7, R8).

    centrale presets list CAMERA --as s.neri [--password-stdin]
    centrale masks export CAMERA FILE.json --as s.neri
    centrale masks import CAMERA FILE.json --as s.neri

A mask file holds every mask of one camera (its fixed set and one set per preset, by preset
name), for backup, review and setting up many cameras alike. Import is validated as a whole
before anything changes (an error names the key: ``presets.nord[1]: …``), needs
``define_presets``, and is one transaction with its audit entry. Export is audited too.

Like the other admin commands, the person acting signs in with their own password
(``--as``). The work is in :func:`list_presets`, :func:`export_masks_file` and
:func:`import_masks_file`, tested without the argument parser.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from cameras.config import CAMERA_ID_PATTERN, CameraConfig
from cameras.masks import MaskError
from console.cli import EXIT_OK, UsageError
from console.cli_admin import PasswordSource, _config, _services, _signed_in
from ptz.presets import Preset, PresetBook
from registry.audit import AuditTrail
from registry.i18n import _
from registry.session import Session
from registry.store import Store
from registry.store_ptz import PtzStore

#: Audit action of a mask export.
MASKS_EXPORTED: Final = "masks.exported"


def add_commands(commands: Any, sub_common: argparse.ArgumentParser) -> None:
    """Add ``presets list`` and ``masks export|import`` to console.cli's sub-parsers."""

    def identity(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("camera_id", metavar="CAMERA", help=_("camera id from config.toml"))
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", required=True,
                            help=_("who acts: signs in with their own password"))
        parser.add_argument("--password-stdin", action="store_true",
                            help=_("read the password from the first line of standard input"))

    presets = commands.add_parser("presets", parents=[sub_common],
                                  help=_("approved presets of PTZ cameras"))
    preset_actions = presets.add_subparsers(dest="presets_command", metavar="ACTION")
    preset_actions.required = True
    listing = preset_actions.add_parser(
        "list", parents=[sub_common],
        help=_("list a camera's presets (pending ones too with define_presets)"),
    )  # fmt: skip
    identity(listing)
    listing.set_defaults(handler=_presets_list)

    masks = commands.add_parser("masks", parents=[sub_common], help=_("privacy masks"))
    mask_actions = masks.add_subparsers(dest="masks_command", metavar="ACTION")
    mask_actions.required = True
    export = mask_actions.add_parser("export", parents=[sub_common],
                                     help=_("write all masks of a camera to a JSON file"))
    identity(export)
    export.add_argument("file", metavar="FILE.json", help=_("file to write"))
    export.set_defaults(handler=_masks_export)
    imp = mask_actions.add_parser(
        "import", parents=[sub_common],
        help=_("replace a camera's masks from a JSON file (needs define_presets)"),
    )  # fmt: skip
    identity(imp)
    imp.add_argument("file", metavar="FILE.json", help=_("file to read"))
    imp.set_defaults(handler=_masks_import)


# --------------------------------------------------------------------------------------------
# The work
# --------------------------------------------------------------------------------------------


def check_camera(camera_id: str, cameras: list[CameraConfig] | None) -> None:
    """The camera must be configured (when a configuration is at hand) or at least valid."""
    import re

    if cameras is not None:
        known = {c.id for c in cameras}
        if camera_id not in known:
            raise UsageError(_("there is no camera {camera} in the configuration").format(
                camera=repr(camera_id)))  # fmt: skip
    elif not re.fullmatch(CAMERA_ID_PATTERN, camera_id):
        raise UsageError(_("{camera} is not a camera id").format(camera=repr(camera_id)))


def list_presets(store: Store, audit: AuditTrail, session: Session, camera_id: str
                 ) -> list[Preset]:  # fmt: skip
    """Approved presets, plus pending ones for whoever may define them."""
    return PresetBook(PtzStore(store), audit).visible_to(session, camera_id)


def format_presets(presets: list[Preset]) -> list[str]:
    lines = []
    for p in presets:
        state = _("approved") if p.approved else _("pending approval")
        lines.append(
            f"{p.name}\t{state}\t{p.position.pan:+.3f} {p.position.tilt:+.3f} "
            f"{p.position.zoom:.3f}\t" + _("{n} masks").format(n=len(p.masks))
        )
    return lines


def export_masks_file(store: Store, audit: AuditTrail, session: Session, camera_id: str,
                      path: Path) -> dict[str, Any]:  # fmt: skip
    """Write the camera's masks to *path* (audited); returns what was written."""
    data = PresetBook(PtzStore(store), audit).export_masks(camera_id)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    audit.append(session.username, MASKS_EXPORTED, camera_id, {
        "file": str(path.absolute()), "presets": len(data["presets"]),
    })  # fmt: skip
    return data


def import_masks_file(store: Store, audit: AuditTrail, session: Session, camera_id: str,
                      path: Path) -> dict[str, int]:  # fmt: skip
    """Read, validate and apply *path*; nothing changes unless all of it is valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(_("{path}: cannot read it: {error}").format(path=path, error=exc)
                         ) from exc  # fmt: skip
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MaskError(_("{path}: not valid JSON (line {line}): {error}").format(
            path=path.name, line=exc.lineno, error=exc.msg)) from exc  # fmt: skip
    return PresetBook(PtzStore(store), audit).import_masks(session, camera_id, data)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _cameras(args: argparse.Namespace) -> list[CameraConfig] | None:
    config = _config(args)
    return list(config.cameras) if config is not None else None


def _presets_list(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir) as services, \
            _signed_in(services, args, source) as session:  # fmt: skip
        presets = list_presets(services.store, services.audit, session, args.camera_id)
    if not presets:
        print(_("Camera {camera} has no presets.").format(camera=args.camera_id))
    for line in format_presets(presets):
        print(line)
    return EXIT_OK


def _masks_export(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    path = Path(args.file).expanduser()
    if path.is_dir() or not path.parent.is_dir():
        raise UsageError(_("FILE.json: {path} is not a file in an existing folder").format(
            path=path))  # fmt: skip
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir) as services, \
            _signed_in(services, args, source) as session:  # fmt: skip
        data = export_masks_file(services.store, services.audit, session, args.camera_id, path)
    print(_("Masks of {camera} ({n} presets) written to {path}").format(
        camera=args.camera_id, n=len(data["presets"]), path=path))  # fmt: skip
    return EXIT_OK


def _masks_import(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(_("FILE.json: {path} does not exist").format(path=path))
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir) as services, \
            _signed_in(services, args, source) as session:  # fmt: skip
        try:
            counts = import_masks_file(services.store, services.audit, session,
                                       args.camera_id, path)  # fmt: skip
        except MaskError as exc:  # a bad file is bad input: exit 2, nothing changed
            raise UsageError(exc.message, title=exc.title) from None
    for view, n in sorted(counts.items()):
        print(_("{view}: {n} masks").format(view=view or _("fixed camera"), n=n))
    return EXIT_OK
