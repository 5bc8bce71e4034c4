"""``centrale export …`` and ``centrale media …``: clips out of the recordings (issue 6).

    centrale export CAMERA --from ISO --to ISO --purpose TEXT --authorization TEXT \\
        --recipient KIND --recipient-name TEXT --out DIR --as USER [--password-stdin] \\
        [--redactions FILE] [--generate-password]
    centrale export verify FILE
    centrale media list [--all] [--open] --as USER
    centrale media copied ID --medium TEXT --as USER
    centrale media delivered ID --to TEXT --as USER
    centrale media destroyed ID --note TEXT [--delete-file] --as USER

The exporter signs in with their own password, which also signs the access-register entry
the command opens from ``--purpose`` (a purpose code, or free text for "other"),
``--authorization`` and ``--recipient-name`` (R24). The package password comes from
``$CENTRALE_EXPORT_PASSWORD``, or is asked twice, or with ``--generate-password`` is
generated and printed once; it is never stored or logged. Times without a zone are in the
site's time zone. Bad input (unknown camera, span outside the recordings or too long, missing
register data, weak package password) is reported with exit code 2 before the register is
signed. ``export verify`` exits 0 when the clip matches its manifest, 1 when it does not.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from console.cli import EXIT_FAILURE, EXIT_OK, UsageError
from console.cli_admin import PasswordSource, _acting_session, _config, _services, _signed_in
from console.services import Services
from footage.export import (
    ExportCamera,
    Exporter,
    ExportInputError,
    ExportRefused,
    ExportRequest,
    ExportSettings,
)
from footage.export_package import (
    PackageError,
    WeakPassword,
    check_password,
    generate_password,
)
from footage.index import FootageIndex
from footage.media import MediaError, MediaLog, state_label
from footage.redaction import NO_REDACTION, RecipientKind, RedactionError, RedactionPlan
from footage.verify import summary, verify_package
from registry.errors import CentraleError
from registry.i18n import _
from registry.register import AccessKind, AccessRegister, AccessRequest, RegisterIncomplete
from registry.session import Session
from registry.store_export import ExportStore
from registry.store_footage import FootageStore

PASSWORD_ENV: Final = "CENTRALE_EXPORT_PASSWORD"
DEFAULT_TIMEZONE: Final = "Europe/Rome"
_BAD_INPUT = (ExportInputError, ExportRefused, RedactionError, WeakPassword, RegisterIncomplete,
              MediaError)


def add_commands(commands: Any, sub_common: argparse.ArgumentParser) -> None:
    identity = argparse.ArgumentParser(add_help=False)
    identity.add_argument("--as", dest="as_user", metavar="USERNAME",
                          help=_("who acts: signs in with their own password"))
    identity.add_argument("--password-stdin", action="store_true",
                          help=_("read the passwords from standard input, one per line"))
    export = commands.add_parser(
        "export", parents=[sub_common, identity],
        help=_("export a clip as an encrypted package, or verify one (export verify FILE)"))
    export.add_argument("target", metavar="CAMERA|verify",
                        help=_("camera id, or 'verify' to check a package"))
    export.add_argument("file", nargs="?", metavar="FILE", help=_("package to verify"))
    export.add_argument("--from", dest="start", metavar="ISO-TIME", help=_("start of the span"))
    export.add_argument("--to", dest="end", metavar="ISO-TIME", help=_("end of the span"))
    export.add_argument("--purpose", help=_("purpose code (see the register) or free text"))
    export.add_argument("--authorization", help=_("reference of the authorization"))
    export.add_argument("--recipient", metavar="KIND",
                        help=_("one of: {kinds}").format(
                            kinds=", ".join(k.value for k in RecipientKind)))
    export.add_argument("--recipient-name", help=_("who receives the copy"))
    export.add_argument("--out", metavar="DIR", help=_("the control room's export folder"))
    export.add_argument("--redactions", metavar="FILE",
                        help=_("JSON file of redaction boxes (needs the redact permission)"))
    export.add_argument("--generate-password", action="store_true",
                        help=_("generate the package password and print it once"))
    export.set_defaults(handler=_export)

    media = commands.add_parser("media", parents=[sub_common],
                                help=_("exported packages on removable media (R23)"))
    actions = media.add_subparsers(dest="media_command", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", parents=[sub_common, identity],
                                 help=_("list exported packages and their state"))
    listing.add_argument("--all", action="store_true", help=_("everyone's (supervisor)"))
    listing.add_argument("--open", action="store_true",
                         help=_("only those not yet delivered or destroyed"))
    listing.set_defaults(handler=_media_list)
    for name, option, helptext in (
        ("copied", "--medium", _("the medium it was copied to")),
        ("delivered", "--to", _("who received it")),
        ("destroyed", "--note", _("what was destroyed and how")),
    ):
        cmd = actions.add_parser(name, parents=[sub_common, identity],
                                 help=_("record that a package was {state}").format(state=name))
        cmd.add_argument("package_id", type=int, metavar="ID")
        cmd.add_argument(option, dest="text", required=True, help=helptext)
        if name == "destroyed":
            cmd.add_argument("--delete-file", action="store_true",
                             help=_("also delete the package from the export folder"))
        cmd.set_defaults(handler=_media_move, media_action=name)


# ------------------------------------------------------------------------------ helpers


class _KeepingSource(PasswordSource):
    """Keeps the sign-in password for the register signature of the same command."""

    last = ""

    def read(self, prompt: str, *, confirm: bool = False) -> str:
        self.last = super().read(prompt, confirm=confirm)
        return self.last


@contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except _BAD_INPUT as exc:
        raise UsageError(exc.message, title=exc.title) from None


_DEST: Final = {"--from": "start", "--to": "end", "--as": "as_user"}


def _require(args: argparse.Namespace, *names: str) -> None:
    """Every option in *names* given and not blank; else a message naming the first one."""
    for name in names:
        dest = _DEST.get(name, name.lstrip("-").replace("-", "_"))
        if not (getattr(args, dest, None) or "").strip():
            raise UsageError(_("{option} is required").format(option=name))


def parse_time(text: str, option: str, tz: ZoneInfo) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(_("{option}: {value} is not a time: write it as "
                           "YYYY-MM-DDTHH:MM[:SS], e.g. 2026-03-14T09:30").format(
                               option=option, value=repr(text))) from None
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def _cameras(config: Any) -> dict[str, ExportCamera]:
    if config is None:
        return {}
    return {c.id: ExportCamera(c.id, c.name, c.place, str(c.kind) == "ptz")
            for c in config.cameras}  # fmt: skip


def _exporter(services: Services, config: Any, register: AccessRegister) -> Exporter:
    tz = ZoneInfo(config.site.timezone if config else DEFAULT_TIMEZONE)
    settings = ExportSettings(tz=tz, comune=config.site.comune if config else "",
                              control_room=config.site.control_room if config else "")
    index = FootageIndex(services.data_dir, FootageStore(services.store))
    return Exporter(index, services.store, services.audit, register, _cameras(config),
                    settings)  # fmt: skip


def _package_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated). Environment, generated, or asked twice."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env, False
    if args.generate_password:
        return generate_password(), True
    if args.password_stdin:
        first = sys.stdin.readline().rstrip("\r\n")
        second = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            first = getpass.getpass(_("Package password: "))
            second = getpass.getpass(_("Repeat the package password: "))
        except EOFError:
            raise UsageError(_("no package password given: nothing done")) from None
    check_password(first, second)
    return first, False


# ------------------------------------------------------------------------------ export


def _export(args: argparse.Namespace, data_dir: Path) -> int:
    if args.target == "verify":
        return _verify(args)
    _require(args, "--from", "--to", "--purpose", "--authorization", "--recipient",
             "--recipient-name", "--out", "--as")
    config = _config(args)
    tz = ZoneInfo(config.site.timezone if config else DEFAULT_TIMEZONE)
    start, end = parse_time(args.start, "--from", tz), parse_time(args.end, "--to", tz)
    try:
        recipient = RecipientKind(args.recipient.strip())
    except ValueError:
        raise UsageError(_("--recipient: {value} is not one of {kinds}").format(
            value=repr(args.recipient),
            kinds=", ".join(k.value for k in RecipientKind))) from None
    out = Path(args.out).expanduser()
    if not out.is_dir():
        raise UsageError(_("--out: the folder {dir} does not exist").format(dir=out))
    plan = NO_REDACTION
    if args.redactions:
        try:
            text = Path(args.redactions).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(_("--redactions: {error}").format(error=exc)) from None
        with _bad_input():
            plan = RedactionPlan.loads(text)
    request = ExportRequest(args.target, start, end, recipient, plan)
    source = _KeepingSource(args.password_stdin)
    with _services(args, data_dir) as services, _signed_in(services, args, source) as session:
        register = AccessRegister(services.store, services.audit,
                                  services.accounts.verify_signature)
        exporter = _exporter(services, config, register)
        with _bad_input():
            exporter.check(request, session)  # before anything is signed
            password, generated = _package_password(args)
            entry = register.open_entry(session, _access(args, request, register),
                                        source.last)
            result = exporter.export_clip(session, request, register_entry_id=entry.id,
                                          password=password, out_dir=out,
                                          progress=_progress())
    print(file=sys.stderr)
    print(_("Package written: {path}").format(path=result.path))
    print(_("SHA-256 of the package: {sha}").format(sha=result.sha256))
    print(_("SHA-256 of the clip: {sha}").format(sha=result.clip_sha256))
    print(_("Register entry {id}; removable-media list number {pkg}").format(
        id=entry.id, pkg=result.package_id))
    if generated:
        print(_("Package password (shown only now; give it separately from the package): "
                "{password}").format(password=password))
    return EXIT_OK


def _access(args: argparse.Namespace, request: ExportRequest,
            register: AccessRegister) -> AccessRequest:  # fmt: skip
    purpose = args.purpose.strip()
    text = ""
    if register.purpose(purpose) is None:
        purpose, text = "other", args.purpose.strip()
    return AccessRequest(
        kind=AccessKind.EXPORT, purpose=purpose, purpose_text=text, cameras=[request.camera],
        span_from=request.start, span_to=request.end,
        recipient=f"{args.recipient_name.strip()} ({request.recipient.legal_title})",
        observations=f"Autorizzazione: {args.authorization.strip()}",
    )  # fmt: skip


def _progress() -> Any:
    shown = [-1]

    def report(fraction: float) -> None:
        percent = int(fraction * 100)
        if percent != shown[0] and sys.stderr.isatty():
            shown[0] = percent
            print("\r" + _("Exporting") + f" {percent:3d}%", end="", file=sys.stderr,
                  flush=True)

    return report


def _verify(args: argparse.Namespace) -> int:
    if not args.file:
        raise UsageError(_("export verify: give the package FILE"))
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(_("export verify: {path} is not a file").format(path=path))
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            try:
                password = getpass.getpass(_("Package password: "))
            except EOFError:
                raise UsageError(_("no package password given")) from None
    try:
        result = verify_package(path, password)
    except PackageError as exc:
        raise UsageError(exc.message, title=exc.title) from None
    for line in summary(result):
        print(line)
    if result.ok:
        print(_("OK: the clip matches its manifest."))
        return EXIT_OK
    for problem in result.problems:
        print(_("PROBLEM: {problem}").format(problem=problem))
    return EXIT_FAILURE


# ------------------------------------------------------------------------------ media


def _media(services: Services) -> MediaLog:
    return MediaLog(ExportStore(services.store), services.audit)


def _signed(args: argparse.Namespace) -> None:
    _require(args, "--as")


def _media_list(args: argparse.Namespace, data_dir: Path) -> int:
    _signed(args)
    with _acting_session(args, data_dir) as (services, session):
        rows = _media(services).packages(session, everyone=args.all, open_only=args.open)
    if not rows:
        print(_("No exported packages."))
    for r in rows:
        where = {"copied": r.medium, "delivered": r.delivered_to,
                 "destroyed": r.note}.get(r.state) or ""  # fmt: skip
        print(f"{r.id:>5}  {r.created_at:%Y-%m-%d %H:%M}  {r.created_by:<12} "
              f"{state_label(r.state):<18} {r.file_name}  {where}")
    return EXIT_OK


def _media_move(args: argparse.Namespace, data_dir: Path) -> int:
    _signed(args)
    with _acting_session(args, data_dir) as (services, session):
        log = _media(services)
        with _bad_input():
            row = _move(log, session, args)
    print(_("Package {id} ({name}): {state}").format(id=row.id, name=row.file_name,
                                                     state=state_label(row.state)))
    return EXIT_OK


def _move(log: MediaLog, session: Session, args: argparse.Namespace) -> Any:
    action = args.media_action
    if action == "copied":
        return log.copied(session, args.package_id, args.text)
    if action == "delivered":
        return log.delivered(session, args.package_id, args.text)
    return log.destroyed(session, args.package_id, args.text, delete_file=args.delete_file)


__all__ = ["CentraleError", "add_commands", "parse_time"]
