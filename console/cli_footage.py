"""Footage commands: ``centrale recorder``, ``retention run``, ``holds …``, ``footage erase``.

Wired into :mod:`console.cli` by :func:`add_commands`. The work is done in :mod:`footage`;
this module parses, opens the services (:mod:`console.services`) and prints. Holds act on
someone's behalf: ``--as USERNAME`` and that person's password (asked, or the first line of
standard input with ``--password-stdin``), checked by the accounts service like a sign-in.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
import zoneinfo
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from footage.holds import Ground, Holds
from footage.index import FootageIndex, RecorderLock
from footage.retention import Retention, RetentionError
from footage.service import RecorderService, ServiceSettings
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.session import Session
from registry.store_footage import FootageStore, HoldRow

EXIT_OK = 0


class FootageCommandError(CentraleError):
    """A footage command cannot run as asked."""

    title = N_("Error")


def add_commands(commands: Any, sub_common: argparse.ArgumentParser) -> None:
    """Add ``recorder``, ``retention`` and ``holds`` to the ``centrale`` sub-commands."""
    recorder = commands.add_parser(
        "recorder", parents=[sub_common],
        help=_("record every camera with record = true until stopped (the recorder service)"),
    )  # fmt: skip
    recorder.add_argument("--segment-seconds", type=float, default=60.0, metavar="S",
                          help=_("length of a segment (default 60)"))
    recorder.add_argument("--purge-interval", type=float, default=300.0, metavar="S",
                          help=_("seconds between purge passes (default 300)"))
    recorder.set_defaults(handler=_run_recorder)

    retention = commands.add_parser("retention", parents=[sub_common],
                                    help=_("footage retention"))
    retention_commands = retention.add_subparsers(dest="retention_command", metavar="ACTION")
    retention_commands.required = True
    run = retention_commands.add_parser(
        "run", parents=[sub_common], help=_("run one purge pass now"),
    )  # fmt: skip
    run.add_argument("--dry-run", action="store_true",
                     help=_("only list what would be deleted"))
    run.add_argument("--as-of", metavar="ISO-TIME",
                     help=_("purge as if it were this time (later than now: --dry-run only)"))
    run.set_defaults(handler=_run_retention)

    holds = commands.add_parser("holds", parents=[sub_common],
                                help=_("keep footage past its term under a legal ground"))
    hold_commands = holds.add_subparsers(dest="holds_command", metavar="ACTION")
    hold_commands.required = True
    identity = argparse.ArgumentParser(add_help=False)
    identity.add_argument("--as", dest="as_user", metavar="USERNAME", required=True,
                          help=_("who acts (a person with the hold permission)"))
    identity.add_argument("--password-stdin", action="store_true",
                          help=_("read the password from the first line of standard input"))
    add = hold_commands.add_parser("add", parents=[sub_common, identity], help=_("place a hold"))
    add.add_argument("--ground", required=True, choices=[g.value for g in Ground],
                     help=_("legal ground"))
    add.add_argument("--authority", required=True, help=_("authority that asked for it"))
    add.add_argument("--reference", required=True, help=_("reference number of the request"))
    add.add_argument("--camera", dest="cameras", action="append", required=True, metavar="ID",
                     help=_("camera id (repeat for several)"))
    add.add_argument("--from", dest="span_start", required=True, metavar="ISO-TIME",
                     help=_("start of the span to keep"))
    add.add_argument("--to", dest="span_end", required=True, metavar="ISO-TIME",
                     help=_("end of the span to keep"))
    add.add_argument("--expires", required=True, metavar="ISO-TIME",
                     help=_("when the hold ends"))
    add.add_argument("--note", default="", help=_("free note"))
    add.set_defaults(handler=_holds_add)
    listing = hold_commands.add_parser("list", parents=[sub_common, identity],
                                       help=_("list the holds"))
    listing.add_argument("--active", action="store_true", help=_("only holds in force"))
    listing.set_defaults(handler=_holds_list)
    extend = hold_commands.add_parser("extend", parents=[sub_common, identity],
                                      help=_("extend a hold (later expiry, wider span)"))
    extend.add_argument("hold_id", type=int, metavar="ID")
    extend.add_argument("--expires", metavar="ISO-TIME")
    extend.add_argument("--from", dest="span_start", metavar="ISO-TIME")
    extend.add_argument("--to", dest="span_end", metavar="ISO-TIME")
    extend.set_defaults(handler=_holds_extend)
    release = hold_commands.add_parser("release", parents=[sub_common, identity],
                                       help=_("release a hold"))
    release.add_argument("hold_id", type=int, metavar="ID")
    release.add_argument("--reason", required=True, help=_("why the hold ends"))
    release.set_defaults(handler=_holds_release)

    footage = commands.add_parser("footage", parents=[sub_common],
                                  help=_("recorded footage (the supervisor's erasure)"))
    footage_commands = footage.add_subparsers(dest="footage_command", metavar="ACTION")
    footage_commands.required = True
    erase = footage_commands.add_parser(
        "erase", parents=[sub_common, identity],
        help=_("erase a camera's footage of a span for a data subject's request "
               "(supervisor, register entry of kind erasure)"),
    )  # fmt: skip
    erase.add_argument("camera", metavar="CAMERA")
    erase.add_argument("--from", dest="span_start", required=True, metavar="ISO-TIME",
                       help=_("start of the span to erase"))
    erase.add_argument("--to", dest="span_end", required=True, metavar="ISO-TIME",
                       help=_("end of the span to erase"))
    erase.add_argument("--register-entry", dest="entry_id", type=int, required=True,
                       metavar="ID", help=_("the signed register entry of kind erasure"))
    erase.add_argument("--dry-run", action="store_true",
                       help=_("only show what would be erased"))
    erase.add_argument("--yes", action="store_true",
                       help=_("do not ask for confirmation (the deletion cannot be undone)"))
    erase.set_defaults(handler=_footage_erase)


# ------------------------------------------------------------------------------ helpers


def _config(args: argparse.Namespace) -> Any:
    from console.config import load_config
    from console.paths import resolve_config_path

    return load_config(resolve_config_path(args.config))


def _services(args: argparse.Namespace, data_dir: Path) -> Any:
    from console.services import open_services

    return open_services(data_dir, _config(args))


def parse_time(text: str, timezone: str, field: str) -> datetime:
    """ISO-8601; a time without offset is in the site's time zone."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FootageCommandError(
            _("{field}: {value} is not an ISO time such as 2025-01-31T14:30").format(
                field=field, value=repr(text))
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return at


@contextlib.contextmanager
def _signed_in(services: Any, args: argparse.Namespace) -> Iterator[Session]:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(_("Password for {user}: ").format(user=args.as_user))
    result = services.accounts.sign_in(args.as_user, password)
    if result.session is None:
        raise FootageCommandError(result.message)
    try:
        yield result.session
    finally:
        services.accounts.sign_out(result.session)


def _holds(services: Any) -> Holds:
    cams = [c.id for c in services.config.cameras] if services.config is not None else None
    return Holds(FootageStore(services.store), services.audit, known_cameras=cams)


def _print_hold(h: HoldRow, timezone: str) -> None:
    tz = zoneinfo.ZoneInfo(timezone)

    def local(at: datetime) -> str:
        return at.astimezone(tz).isoformat(timespec="minutes")

    state = _("released") if h.released_at else _("in force")
    print(f"#{h.id} [{state}] {Ground(h.ground).label} — {h.authority}, {h.reference}")
    print("    " + _("cameras {cams}; {start} → {end}; expires {exp}; placed by {who}").format(
        cams=", ".join(h.cameras), start=local(h.span_start), end=local(h.span_end),
        exp=local(h.expires_at), who=h.placed_by))
    if h.released_at:
        print("    " + _("released by {who} at {at}: {reason}").format(
            who=h.released_by, at=local(h.released_at), reason=h.release_reason))


# ------------------------------------------------------------------------------ commands


def _run_recorder(args: argparse.Namespace, data_dir: Path) -> int:
    from cameras.credentials import get_camera_password
    from footage.recorder import RecorderSettings

    config = _config(args)
    with _services(args, data_dir) as services:
        service = RecorderService(
            data_dir, config.cameras, FootageStore(services.store), services.audit,
            stream_settings=config.streams,
            settings=ServiceSettings(purge_interval_s=args.purge_interval,
                                     recorder=RecorderSettings(segment_s=args.segment_seconds)),
            password_for=get_camera_password,
        )  # fmt: skip
        service.run()
    return EXIT_OK


def _run_retention(args: argparse.Namespace, data_dir: Path) -> int:
    config = _config(args)
    as_of = (parse_time(args.as_of, config.site.timezone, "--as-of")
             if args.as_of else None)
    with _services(args, data_dir) as services:
        store = FootageStore(services.store)
        index = FootageIndex(data_dir, store)
        lock = RecorderLock(data_dir)
        # No recorder running: its half-written segments are ours to reconcile first.
        if not args.dry_run and lock.acquire():
            try:
                index.reconcile(services.audit)
            finally:
                lock.release()
        retention = Retention(index, services.audit,
                              {c.id: c.retention_days for c in config.cameras})
        try:
            report = retention.run(as_of=as_of, dry_run=args.dry_run,
                                   actor=f"system:{getpass.getuser()}")
        except RetentionError as exc:
            from console.cli import UsageError

            raise UsageError(exc.message) from None
    head = _("Dry run, nothing deleted") if args.dry_run else _("Purge pass done")
    print(_("{head} (as of {at}):").format(head=head, at=report.as_of.isoformat()))
    for c in report.cameras:
        print("  " + _("{cam}: {n} segments, {mb:.1f} MB older than {ceiling} "
                       "({days} days); {held} kept under a hold").format(
            cam=c.camera, n=c.segments, mb=c.bytes / 1e6, ceiling=c.ceiling.isoformat(),
            days=c.retention_days, held=c.held))
    print("  " + _("total: {n} segments, {mb:.1f} MB").format(
        n=report.segments, mb=report.bytes / 1e6))
    if report.receipt_id is not None:
        print("  " + _("receipt: audit entry {id}").format(id=report.receipt_id))
    return EXIT_OK


def _holds_add(args: argparse.Namespace, data_dir: Path) -> int:
    tz = _config(args).site.timezone
    start = parse_time(args.span_start, tz, "--from")
    end = parse_time(args.span_end, tz, "--to")
    expires = parse_time(args.expires, tz, "--expires")
    with _services(args, data_dir) as services, _signed_in(services, args) as session:
        hold = _holds(services).create(
            session, ground=args.ground, authority=args.authority, reference=args.reference,
            cameras=args.cameras, span_start=start, span_end=end, expires_at=expires,
            note=args.note,
        )  # fmt: skip
        print(_("Hold {id} placed.").format(id=hold.id))
        _print_hold(hold, services.config.site.timezone)
    return EXIT_OK


def _holds_list(args: argparse.Namespace, data_dir: Path) -> int:
    with _services(args, data_dir) as services, _signed_in(services, args) as session:
        rows = _holds(services).listing(session, active_only=args.active)
        if not rows:
            print(_("No holds."))
        for h in rows:
            _print_hold(h, services.config.site.timezone)
    return EXIT_OK


def _holds_extend(args: argparse.Namespace, data_dir: Path) -> int:
    tz = _config(args).site.timezone
    times = {name: parse_time(value, tz, flag) if value else None for name, value, flag in (
        ("expires_at", args.expires, "--expires"), ("span_start", args.span_start, "--from"),
        ("span_end", args.span_end, "--to"))}
    with _services(args, data_dir) as services, _signed_in(services, args) as session:
        hold = _holds(services).extend(session, args.hold_id, **times)
        _print_hold(hold, services.config.site.timezone)
    return EXIT_OK


def _holds_release(args: argparse.Namespace, data_dir: Path) -> int:
    with _services(args, data_dir) as services, _signed_in(services, args) as session:
        hold = _holds(services).release(session, args.hold_id, args.reason)
        _print_hold(hold, services.config.site.timezone)
    return EXIT_OK


def _footage_erase(args: argparse.Namespace, data_dir: Path) -> int:
    from footage.erasure import Erasure
    from registry.register import AccessRegister

    tz = _config(args).site.timezone
    start = parse_time(args.span_start, tz, "--from")
    end = parse_time(args.span_end, tz, "--to")
    with _services(args, data_dir) as services, _signed_in(services, args) as session:
        store = FootageStore(services.store)
        # reads entries only: an erasure entry is signed in the console's register
        register = AccessRegister(services.store, services.audit, lambda _s, _p: False)
        erasure = Erasure(FootageIndex(data_dir, store), register, services.audit)
        _entry, segs = erasure.plan(session, args.camera, start, end, args.entry_id)
        zone = zoneinfo.ZoneInfo(tz)
        if segs:
            first = min(s.start_at for s in segs).astimezone(zone).isoformat(timespec="seconds")
            last = max(s.end_at or s.start_at for s in segs).astimezone(zone).isoformat(
                timespec="seconds")
            print(_("{n} segments of {cam}, {mb:.1f} MB, from {first} to {last} (whole "
                    "segments: this may reach a little before and after the span asked).")
                  .format(n=len(segs), cam=args.camera, mb=sum(s.size for s in segs) / 1e6,
                          first=first, last=last))
        else:
            print(_("No footage of {cam} in that span.").format(cam=args.camera))
        if args.dry_run:
            print(_("Dry run: nothing erased."))
            return EXIT_OK
        if not args.yes:
            if not sys.stdin.isatty():
                raise FootageCommandError(_("--yes: the erasure cannot be undone; confirm it "
                                            "with --yes when not asked at a terminal"))
            answer = input(_("Erase them for good? Type yes: "))
            if answer.strip().lower() not in ("yes", _("yes"), "si"):  # "sì" typed without accent
                print(_("Nothing erased."))
                return EXIT_OK
        receipt = erasure.erase(session, args.camera, start, end, args.entry_id)
    print(_("Erased {n} segments ({mb:.1f} MB) of {cam}; receipt: audit entry {id}.").format(
        n=receipt.segments, mb=receipt.bytes / 1e6, cam=receipt.camera, id=receipt.audit_id))
    return EXIT_OK
