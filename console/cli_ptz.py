"""``centrale presets``, ``masks``, ``tours`` and ``ptz open|close`` (R7, R8, R9).

    centrale presets list CAMERA --as s.neri [--password-stdin]
    centrale masks export CAMERA FILE.json --as s.neri
    centrale masks import CAMERA FILE.json --as s.neri
    centrale tours define CAMERA NAME --stop PRESET:DWELL_S --stop … --as s.neri
    centrale tours list CAMERA --as s.neri
    centrale tours start CAMERA [TOUR] --as a.bianchi      (TOUR may be left out: the only one)
    centrale tours stop CAMERA --as a.bianchi
    centrale ptz open CAMERA --until 2026-03-01T18:00 --as s.neri   (local time of the site)
    centrale ptz close CAMERA --as s.neri

Tours are started and stopped by the recorder service (``centrale recorder``): these
commands write the request, as the console does, and the service carries it out. Opening a
camera lets second-level control rooms drive it until the given time; only a first-level
supervisor may open or close (``ptz.leases``).

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
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from cameras.config import CAMERA_ID_PATTERN, CameraConfig
from cameras.masks import MaskError
from console.cli import EXIT_OK, UsageError
from console.cli_admin import _acting_session, _config
from ptz.leases import LeaseBook, LeaseRefused
from ptz.presets import Preset, PresetBook
from ptz.tours import Tour, TourBook, TourError
from registry.audit import AuditTrail
from registry.clock import Clock, utc_now
from registry.i18n import _
from registry.session import Session
from registry.store import Store
from registry.store_ptz import PtzControlStore, PtzStore

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

    tours = commands.add_parser("tours", parents=[sub_common],
                                help=_("tours of PTZ cameras over approved presets"))
    tour_actions = tours.add_subparsers(dest="tours_command", metavar="ACTION")
    tour_actions.required = True
    define = tour_actions.add_parser(
        "define", parents=[sub_common],
        help=_("define a tour over approved presets (needs define_presets)"),
    )  # fmt: skip
    identity(define)
    define.add_argument("name", metavar="NAME", help=_("the tour's name"))
    define.add_argument("--stop", dest="stops", action="append", required=True,
                        metavar="PRESET:DWELL_S",
                        help=_("a preset and the seconds to stay there; repeat, in order"))
    define.set_defaults(handler=_tours_define)
    tour_list = tour_actions.add_parser("list", parents=[sub_common],
                                        help=_("list a camera's tours and the one running"))
    identity(tour_list)
    tour_list.set_defaults(handler=_tours_list)
    start = tour_actions.add_parser(
        "start", parents=[sub_common],
        help=_("ask the recorder service to start a tour (needs ptz)"),
    )  # fmt: skip
    identity(start)
    start.add_argument("tour", metavar="TOUR", nargs="?",
                       help=_("the tour's name (may be left out when the camera has one)"))
    start.set_defaults(handler=_tours_start)
    stop = tour_actions.add_parser(
        "stop", parents=[sub_common],
        help=_("ask the recorder service to stop the camera's tour (needs ptz)"),
    )  # fmt: skip
    identity(stop)
    stop.set_defaults(handler=_tours_stop)

    ptz = commands.add_parser("ptz", parents=[sub_common],
                              help=_("open PTZ cameras to second-level control rooms"))
    ptz_actions = ptz.add_subparsers(dest="ptz_command", metavar="ACTION")
    ptz_actions.required = True
    opening = ptz_actions.add_parser(
        "open", parents=[sub_common],
        help=_("let second-level control rooms drive the camera until a time "
               "(first-level supervisors)"),
    )  # fmt: skip
    identity(opening)
    opening.add_argument("--until", required=True, metavar="ISO_TIME",
                         help=_("end of the opening, e.g. 2026-03-01T18:00 (site time)"))
    opening.set_defaults(handler=_ptz_open)
    closing = ptz_actions.add_parser(
        "close", parents=[sub_common],
        help=_("end the camera's openings to second-level control rooms now"),
    )  # fmt: skip
    identity(closing)
    closing.set_defaults(handler=_ptz_close)


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


def parse_stops(values: Sequence[str]) -> list[tuple[str, float]]:
    """``PRESET:DWELL_S`` arguments as (preset name, seconds); an error names the bad one."""
    stops: list[tuple[str, float]] = []
    for n, value in enumerate(values, start=1):
        name, sep, dwell = value.rpartition(":")
        try:
            seconds = float(dwell) if sep and name.strip() else float("nan")
        except ValueError:
            seconds = float("nan")
        if seconds != seconds:  # NaN: not PRESET:SECONDS
            raise UsageError(_("--stop {value} (stop {n}): expected PRESET:DWELL_S, e.g. "
                               "nord:20").format(value=repr(value), n=n))  # fmt: skip
        stops.append((name.strip(), seconds))
    return stops


def parse_until(text: str, timezone: str, clock: Clock = utc_now) -> datetime:
    """``--until`` as an aware time; a time without an offset is the site's local time."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(_("--until: {value} is not a date and time (e.g. "
                           "2026-03-01T18:00)").format(value=repr(text))) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(timezone))
    if at <= clock():
        raise UsageError(_("--until: {value} is not in the future").format(value=repr(text)))
    return at


def _tour_books(store: Store, audit: AuditTrail) -> TourBook:
    return TourBook(PtzControlStore(store), PresetBook(PtzStore(store), audit), audit)


def define_tour(store: Store, audit: AuditTrail, session: Session, camera_id: str, name: str,
                stops: Sequence[tuple[str, float]]) -> Tour:  # fmt: skip
    """Define a tour; a bad preset, dwell or name is bad input (exit 2), nothing stored."""
    try:
        return _tour_books(store, audit).define(session, camera_id, name, stops)
    except TourError as exc:
        raise UsageError(exc.message, title=exc.title) from None


def format_tours(book: TourBook, camera_id: str) -> list[str]:
    run = book.run(camera_id)
    lines = []
    for tour in book.tours(camera_id):
        stops = ", ".join(f"{s.preset_name} {s.dwell_s:g}s" for s in tour.stops)
        state = ""
        if run is not None and run.tour.id == tour.id:
            state = "\t" + (_("paused by {who}").format(who=run.detail) if run.paused
                            else _("running"))  # fmt: skip
        lines.append(f"{tour.name}\t{stops}{state}")
    return lines


def pick_tour(book: TourBook, camera_id: str, name: str | None) -> Tour:
    """The tour named ``name``, or the camera's only tour when no name is given."""
    tours = book.tours(camera_id)
    if name is None:
        if len(tours) == 1:
            return tours[0]
        if not tours:
            raise UsageError(_("camera {camera} has no tours").format(camera=camera_id))
        raise UsageError(_("TOUR: camera {camera} has {n} tours, name one: {names}").format(
            camera=camera_id, n=len(tours), names=", ".join(t.name for t in tours)))
    for tour in tours:
        if tour.name == name:
            return tour
    raise UsageError(_("TOUR: camera {camera} has no tour named {name}").format(
        camera=camera_id, name=repr(name)))  # fmt: skip


def _lease_book(store: Store, audit: AuditTrail, timezone: str) -> LeaseBook:
    return LeaseBook(PtzControlStore(store), audit, timezone=timezone)


def open_camera(store: Store, audit: AuditTrail, session: Session, camera_id: str,
                until: datetime, timezone: str) -> int:  # fmt: skip
    try:
        return _lease_book(store, audit, timezone).open_camera(session, camera_id, until)
    except LeaseRefused as exc:  # an end in the past (raced the check): bad input
        raise UsageError(exc.message, title=exc.title) from None


def close_camera(store: Store, audit: AuditTrail, session: Session, camera_id: str,
                 timezone: str) -> int:  # fmt: skip
    return _lease_book(store, audit, timezone).close_camera(session, camera_id)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _cameras(args: argparse.Namespace) -> list[CameraConfig] | None:
    config = _config(args)
    return list(config.cameras) if config is not None else None


def _presets_list(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    with _acting_session(args, data_dir) as (services, session):
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
    with _acting_session(args, data_dir) as (services, session):
        data = export_masks_file(services.store, services.audit, session, args.camera_id, path)
    print(_("Masks of {camera} ({n} presets) written to {path}").format(
        camera=args.camera_id, n=len(data["presets"]), path=path))  # fmt: skip
    return EXIT_OK


def _masks_import(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(_("FILE.json: {path} does not exist").format(path=path))
    with _acting_session(args, data_dir) as (services, session):
        try:
            counts = import_masks_file(services.store, services.audit, session,
                                       args.camera_id, path)  # fmt: skip
        except MaskError as exc:  # a bad file is bad input: exit 2, nothing changed
            raise UsageError(exc.message, title=exc.title) from None
    for view, n in sorted(counts.items()):
        print(_("{view}: {n} masks").format(view=view or _("fixed camera"), n=n))
    return EXIT_OK


def _timezone(args: argparse.Namespace) -> str:
    config = _config(args)
    return config.site.timezone if config is not None else "Europe/Rome"


def _tours_define(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    stops = parse_stops(args.stops)
    with _acting_session(args, data_dir) as (services, session):
        tour = define_tour(services.store, services.audit, session, args.camera_id, args.name,
                           stops)  # fmt: skip
    print(_("Tour {name} of {camera} defined: {n} stops").format(
        name=tour.name, camera=args.camera_id, n=len(tour.stops)))  # fmt: skip
    return EXIT_OK


def _tours_list(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    with _acting_session(args, data_dir) as (services, _session):
        lines = format_tours(_tour_books(services.store, services.audit), args.camera_id)
    if not lines:
        print(_("Camera {camera} has no tours.").format(camera=args.camera_id))
    for line in lines:
        print(line)
    return EXIT_OK


def _tours_start(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    with _acting_session(args, data_dir) as (services, session):
        book = _tour_books(services.store, services.audit)
        tour = pick_tour(book, args.camera_id, args.tour)
        book.request_start(session, args.camera_id, tour.id)
    print(_("Tour {name} of {camera} requested: the recorder service starts it").format(
        name=tour.name, camera=args.camera_id))  # fmt: skip
    return EXIT_OK


def _tours_stop(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    with _acting_session(args, data_dir) as (services, session):
        _tour_books(services.store, services.audit).request_stop(session, args.camera_id)
    print(_("Tour stop of {camera} requested: the recorder service stops it").format(
        camera=args.camera_id))  # fmt: skip
    return EXIT_OK


def _ptz_open(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    timezone = _timezone(args)
    until = parse_until(args.until, timezone)
    with _acting_session(args, data_dir) as (services, session):
        open_camera(services.store, services.audit, session, args.camera_id, until, timezone)
    local = until.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    print(_("Camera {camera} is open to second-level control rooms until {until}").format(
        camera=args.camera_id, until=local))  # fmt: skip
    return EXIT_OK


def _ptz_close(args: argparse.Namespace, data_dir: Path) -> int:
    check_camera(args.camera_id, _cameras(args))
    timezone = _timezone(args)
    with _acting_session(args, data_dir) as (services, session):
        closed = close_camera(services.store, services.audit, session, args.camera_id, timezone)
    print(_("Camera {camera} closed to second-level control rooms ({n} openings ended)").format(
        camera=args.camera_id, n=closed))  # fmt: skip
    return EXIT_OK
