"""``centrale register export``: the access register of a period to CSV or PDF (R24, R25).

    centrale register export --from 2026-03-01 --to 2026-03-31 --format pdf \\
        --out registro-marzo.pdf --as s.neri [--password-stdin]

Only a person holding ``review_register`` (the responsabile) may export: the register names
third parties and their documents. The person signs in with their own password (audited
``login``/``logout``), a refusal is audited, and the export itself is audited
(``register_exported``, with the file's SHA-256). Days are inclusive and in the site's time
zone (``[site] timezone``, Europe/Rome without a configuration). Bad dates, format or output
path: a clear message and exit 2, before any password is asked.

The work is in :func:`export_register`, which takes an open store, trail and session, so it is
tested without the argument parser.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from console.cli import EXIT_OK, UsageError
from console.cli_admin import _acting_session, _config
from registry.audit import AuditTrail
from registry.clock import Clock, utc_now
from registry.i18n import _
from registry.register import AccessRegister
from registry.register_export import REGISTER_EXPORTED, export_period
from registry.session import Session
from registry.store import Store

FORMATS: Final = ("csv", "pdf")
DEFAULT_TIMEZONE: Final = "Europe/Rome"
__all__ = ["DEFAULT_TIMEZONE", "FORMATS", "REGISTER_EXPORTED", "add_commands", "check_arguments",
           "export_register", "parse_day"]


def add_commands(commands: Any, sub_common: argparse.ArgumentParser) -> None:
    """Add ``register export`` to the ``commands`` sub-parsers of console.cli."""
    register = commands.add_parser("register", parents=[sub_common],
                                   help=_("the access register"))
    actions = register.add_subparsers(dest="register_command", metavar="ACTION")
    actions.required = True
    export = actions.add_parser(
        "export", parents=[sub_common],
        help=_("write the access register of a period to a CSV or PDF file"),
    )  # fmt: skip
    export.add_argument("--from", dest="date_from", required=True, metavar="DATE",
                        help=_("first day, YYYY-MM-DD (site time zone)"))
    export.add_argument("--to", dest="date_to", required=True, metavar="DATE",
                        help=_("last day, YYYY-MM-DD, included"))
    # Checked by the handler, not by choices=, so that the message names the option.
    export.add_argument("--format", dest="fmt", required=True, metavar="csv|pdf",
                        help=_("csv (Excel, semicolons) or pdf (printable, A4 landscape)"))
    export.add_argument("--out", required=True, metavar="FILE", help=_("file to write"))
    export.add_argument(
        "--as", dest="as_user", metavar="USERNAME", required=True,
        help=_("who exports: signs in with their own password (needs review_register)"),
    )  # fmt: skip
    export.add_argument(
        "--password-stdin", action="store_true",
        help=_("read the password from the first line of standard input"),
    )  # fmt: skip
    export.set_defaults(handler=_register_export)


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def parse_day(text: str, option: str) -> date:
    value = text.strip()
    try:
        if len(value) == 10:  # fromisoformat would also take 20260331 or 2026-W13
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise UsageError(_("{option}: {value} is not a date: write it as YYYY-MM-DD, e.g. "
                       "2026-03-31").format(option=option, value=repr(text)))


def check_arguments(date_from: str, date_to: str, fmt: str, out: str
                    ) -> tuple[date, date, str, Path]:  # fmt: skip
    """The export's days, format and output file, or :class:`UsageError` naming the option."""
    first, last = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if last < first:
        raise UsageError(_("--to {last} comes before --from {first}").format(
            last=last.isoformat(), first=first.isoformat()))
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(_("--format: {value} is not one of {choices}").format(
            value=repr(fmt), choices=", ".join(FORMATS)))
    path = Path(out).expanduser()
    if path.is_dir():
        raise UsageError(_("--out: {path} is a directory: give a file name").format(path=path))
    if not path.parent.is_dir():
        raise UsageError(_("--out: the folder {dir} does not exist").format(dir=path.parent))
    return first, last, fmt, path


# --------------------------------------------------------------------------------------------
# The work
# --------------------------------------------------------------------------------------------


def _never_signs(session: Session, password: str) -> bool:
    return False  # exporting reads the register; it never signs an entry


def export_register(
    store: Store,
    audit: AuditTrail,
    session: Session,
    *,
    first: date,
    last: date,
    fmt: str,
    out: Path,
    tz: ZoneInfo,
    comune: str,
    control_room: str,
    clock: Clock = utc_now,
) -> int:
    """Write the register of ``first..last`` to *out*; audited. Returns the entries written."""
    register = AccessRegister(store, audit, _never_signs, clock)
    return export_period(register, audit, session, first=first, last=last, fmt=fmt, out=out,
                         tz=tz, comune=comune, control_room=control_room, clock=clock)


def _register_export(args: argparse.Namespace, data_dir: Path) -> int:
    first, last, fmt, out = check_arguments(args.date_from, args.date_to, args.fmt, args.out)
    config = _config(args)
    if config is None and fmt == "pdf":
        raise UsageError(_("the PDF names the comune: give the configuration file with "
                           "--config PATH"))
    tz = ZoneInfo(config.site.timezone if config else DEFAULT_TIMEZONE)
    comune = config.site.comune if config else ""
    control_room = config.site.control_room if config else ""
    with _acting_session(args, data_dir) as (services, session):
        count = export_register(services.store, services.audit, session, first=first,
                                last=last, fmt=fmt, out=out, tz=tz, comune=comune,
                                control_room=control_room)
    print(_("{count} register entries from {first} to {last} written to {path}").format(
        count=count, first=first.isoformat(), last=last.isoformat(), path=out))
    return EXIT_OK
