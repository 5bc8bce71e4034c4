"""Admin commands: ``centrale init``, ``centrale users …``, ``centrale audit verify``.

Everything is personal and audited: a command that changes or reads people names who acts
(``--as USERNAME``), signs that person in with their password (an audited ``login``) and
signs them out at the end. A maintenance-only account cannot act here (it needs an operator
present, R14).

Passwords are asked with ``getpass``. With ``--password-stdin`` they are read from standard
input, one per line, in this order:

- acting commands: the actor's password, then (``users add``, ``users enable``,
  ``users passwd`` of someone else) the new password;
- ``users passwd`` of oneself: the current password, then the new one;
- ``centrale init``: the first supervisor's password.

Without a password option, ``users add``, ``enable`` and a reset by someone else generate a
strong temporary password and print it once; the person changes it at the first sign-in.
``--ask-password`` asks for it twice instead.

Exit codes (see console/cli.py): 0 done, 1 refused or failed (wrong password, permission,
broken audit chain), 2 bad arguments (unknown person, invalid user name, rejected password).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.cli import EXIT_FAILURE, EXIT_OK, UsageError, _apply_language, _load
from console.config import CentraleConfig, ConfigNotFound
from console.paths import CONFIG_ENV
from console.services import Services, database_exists, key_dir, open_services
from registry.accounts import (
    InvalidFullName,
    InvalidUsername,
    UnknownPerson,
    UsernameTaken,
    generate_password,
)
from registry.audit_key import load_audit_key
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.passwords import PasswordRejected
from registry.people import DisabledReason, Outcome, Person
from registry.roles import DEFAULT_ROLES, Level, OperatorPresenceRequired, UnknownRole
from registry.session import Session

#: domain errors that mean "the arguments were wrong" (exit 2, not 1)
_BAD_INPUT = (InvalidUsername, InvalidFullName, UsernameTaken, UnknownPerson, UnknownRole,
              PasswordRejected)


class SignInFailed(CentraleError):
    title = N_("Sign-in failed")


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def add_commands(commands: Any, sub_common: argparse.ArgumentParser) -> None:
    """Add ``init``, ``users`` and ``audit`` to the ``commands`` sub-parsers of console.cli."""
    init = commands.add_parser(
        "init", parents=[sub_common],
        help=_("create the database and the first supervisor (interactive)"),
    )  # fmt: skip
    init.add_argument("--username", metavar="USERNAME", help=_("the supervisor's user name"))
    init.add_argument("--name", metavar="FULL_NAME", help=_("the supervisor's full name"))
    init.add_argument("--level", type=int, choices=[1, 2], default=1,
                      help=_("PTZ level: 1 municipal control room, 2 other forces"))
    _password_stdin(init)
    init.set_defaults(handler=_init)

    users = commands.add_parser("users", parents=[sub_common], help=_("people and passwords"))
    actions = users.add_subparsers(dest="users_command", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", parents=[sub_common], help=_("add a person"))
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--name", required=True, metavar="FULL_NAME", help=_("full name"))
    add.add_argument("--role", required=True, choices=list(DEFAULT_ROLES), help=_("role"))
    add.add_argument("--level", type=int, choices=[1, 2], default=1, help=_("PTZ level"))
    _acting(add, new_password=True)
    add.set_defaults(handler=_users_add)

    listing = actions.add_parser("list", parents=[sub_common], help=_("list people"))
    _acting(listing)
    listing.set_defaults(handler=_users_list)

    off = actions.add_parser("disable", parents=[sub_common], help=_("disable an account"))
    off.add_argument("username", metavar="USERNAME")
    off.add_argument("--reason", choices=[str(DisabledReason.REVOKED),
                                          str(DisabledReason.ROLE_LOST)],
                     default=str(DisabledReason.REVOKED), help=_("why (default: revoked)"))
    _acting(off)
    off.set_defaults(handler=_users_disable)

    on = actions.add_parser("enable", parents=[sub_common],
                            help=_("re-enable an account with a new password"))
    on.add_argument("username", metavar="USERNAME")
    _acting(on, new_password=True)
    on.set_defaults(handler=_users_enable)

    passwd = actions.add_parser(
        "passwd", parents=[sub_common],
        help=_("change your password, or (with --as) reset someone else's"),
    )  # fmt: skip
    passwd.add_argument("username", metavar="USERNAME")
    _acting(passwd, new_password=True, required=False)
    passwd.set_defaults(handler=_users_passwd)

    audit = commands.add_parser("audit", parents=[sub_common], help=_("the audit trail"))
    audit_actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_actions.required = True
    verify = audit_actions.add_parser(
        "verify", parents=[sub_common],
        help=_("check the hash chain: exit 0 when intact, 1 naming the first broken entry"),
    )  # fmt: skip
    verify.add_argument(
        "--json", action="store_true",
        help=_("print the result as one JSON object (for the console's review screen)"),
    )  # fmt: skip
    verify.set_defaults(handler=_audit_verify)


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true",
        help=_("read passwords from standard input, one per line (see the documentation "
               "for the order)"),
    )  # fmt: skip


def _acting(parser: argparse.ArgumentParser, *, new_password: bool = False,
            required: bool = True) -> None:
    parser.add_argument(
        "--as", dest="as_user", metavar="USERNAME", required=required,
        help=_("who acts: signs in with their own password (everything is audited)"),
    )  # fmt: skip
    _password_stdin(parser)
    if new_password:
        parser.add_argument(
            "--ask-password", action="store_true",
            help=_("ask for the new password instead of generating a temporary one"),
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Passwords, configuration, the acting person
# --------------------------------------------------------------------------------------------


class PasswordSource:
    """getpass prompts, or one line of stdin per password with ``--password-stdin``."""

    def __init__(self, from_stdin: bool) -> None:
        self.from_stdin = from_stdin

    def read(self, prompt: str, *, confirm: bool = False) -> str:
        if self.from_stdin:
            line = sys.stdin.readline()
            if not line:
                raise UsageError(_("--password-stdin: standard input ended before the "
                                   "password for: {what}").format(what=prompt.strip(" :")))
            return line.rstrip("\r\n")
        try:
            first = getpass.getpass(prompt)
            if not first:
                raise UsageError(_("empty password: nothing done"))
            if confirm and getpass.getpass(_("Repeat the password: ")) != first:
                raise UsageError(_("the passwords do not match: nothing done"))
        except EOFError:
            raise UsageError(_("no password given (input ended): nothing done")) from None
        return first

    def new(self, args: argparse.Namespace, username: str,
            generate: Callable[[], str]) -> tuple[str, bool]:
        """The new password for *username* and whether it was generated (print it once)."""
        if self.from_stdin or args.ask_password:
            prompt = _("New password for {user}: ").format(user=username)
            return self.read(prompt, confirm=True), False
        return generate(), True


def _config(args: argparse.Namespace) -> CentraleConfig | None:
    """The configuration when there is one; the strict defaults when none was found and
    none was asked for (``centrale init`` on a fresh machine)."""
    try:
        config = _load(args)[1]
    except ConfigNotFound:
        if args.config or os.environ.get(CONFIG_ENV):
            raise
        return None
    _apply_language(args.lang or config.site.language)
    return config


@contextmanager
def _services(args: argparse.Namespace, data_dir: Path, *, create: bool = False
              ) -> Iterator[Services]:
    config = _config(args)
    if not create and not database_exists(data_dir):
        raise UsageError(_("there is no database in {dir}: run 'centrale init' first").format(
            dir=data_dir))
    services = open_services(data_dir, config)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def _signed_in(services: Services, args: argparse.Namespace,
               source: PasswordSource) -> Iterator[Session]:
    """The actor's own session for the length of one command."""
    username = args.as_user
    password = source.read(_("Password for {user}: ").format(user=username))
    result = services.accounts.sign_in(username, password)
    if result.session is None:
        message = result.message
        if result.cosigner_required:
            message = _("a maintenance account cannot use the admin commands")
        elif result.outcome is Outcome.MUST_CHANGE_PASSWORD:
            message += " " + _("Use: centrale users passwd {user}").format(user=username)
        raise SignInFailed(message)
    try:
        yield result.session
    finally:
        services.accounts.sign_out(result.session)


@contextmanager
def _acting_session(args: argparse.Namespace, data_dir: Path) -> Iterator[tuple[Services, Session]]:
    """The services and the actor's own session (``--as``, ``--password-stdin``) for the
    length of one command: what most commands that change or read protected data open."""
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir) as services, _signed_in(services, args, source) as session:
        yield services, session


@contextmanager
def _bad_input_is_usage() -> Iterator[None]:
    try:
        yield
    except _BAD_INPUT as exc:
        raise UsageError(exc.message, title=exc.title) from None


def _print_generated(username: str, password: str) -> None:
    print(_("Temporary password for {user} (shown only now; to be changed at the first "
            "sign-in): {password}").format(user=username, password=password))


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _init(args: argparse.Namespace, data_dir: Path) -> int:
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir, create=True) as services:
        if services.accounts.people_store.count():
            raise UsageError(_("{dir} already has people: sign in and use 'centrale users "
                               "add' instead").format(dir=data_dir))
        if args.password_stdin and not (args.username and args.name):
            raise UsageError(_("with --password-stdin, give --username and --name too"))
        username = args.username or _ask(_("User name of the first supervisor: "))
        full_name = args.name or _ask(_("Full name: "))
        with _bad_input_is_usage():
            password = source.read(_("Password for {user}: ").format(user=username),
                                   confirm=True)
            person = services.accounts.bootstrap_supervisor(username, full_name, password,
                                                            Level(args.level))
        found = load_audit_key(data_dir, key_dir(), create=False)
    print(_("Database ready in {dir}; first supervisor: {user} ({name}).").format(
        dir=data_dir, user=person.username, name=person.full_name))
    where = {"env": _("the CENTRALE_AUDIT_KEY variable"), "keyring": _("the system keyring"),
             "file": str(key_dir() / "audit.key")}[found.source]
    print(_("The audit trail's key is in {where}: back it up apart from the data; without it "
            "the trail cannot be verified.").format(where=where))
    return EXIT_OK


def _ask(prompt: str) -> str:
    try:
        return input(prompt).strip()
    except EOFError:
        raise UsageError(_("input ended: nothing done")) from None


def _users_add(args: argparse.Namespace, data_dir: Path) -> int:
    source = PasswordSource(args.password_stdin)
    with _services(args, data_dir) as services, _signed_in(services, args, source) as actor:
        accounts = services.accounts
        with _bad_input_is_usage():
            password, generated = source.new(
                args, args.username, lambda: generate_password(services.policy, args.username))
            person = accounts.add_person(actor, args.username, args.name, args.role,
                                         args.level, password)
    print(_("Added {user} ({name}), role {role}, level {level}.").format(
        user=person.username, name=person.full_name, role=person.role, level=int(person.level)))
    if generated:
        _print_generated(person.username, password)
    return EXIT_OK


def _users_list(args: argparse.Namespace, data_dir: Path) -> int:
    with _acting_session(args, data_dir) as (services, actor):
        people = services.accounts.people(actor)
        now = services.accounts.clock()
        policy = services.policy
        zone = (zoneinfo.ZoneInfo(services.config.site.timezone) if services.config
                else UTC)
    headers = [_("user"), _("name"), _("role"), _("level"), _("state"), _("last sign-in"),
               _("password expires")]
    rows = [[p.username, p.full_name, p.role, str(int(p.level)), _state(p, now),
             _when(p.last_login_at, zone), _when(policy.expires_at(p.password_changed_at), zone)]
            for p in people]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _state(person: Person, now: datetime) -> str:
    if not person.active:
        reason = person.disabled_reason.display_title if person.disabled_reason else "-"
        return _("disabled ({reason})").format(reason=reason)
    if person.locked_until is not None and now < person.locked_until:
        return _("locked")
    if person.must_change_password:
        return _("must change password")
    return _("active")


def _when(at: datetime | None, zone: zoneinfo.ZoneInfo | Any) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else _("never")


def _users_disable(args: argparse.Namespace, data_dir: Path) -> int:
    source = PasswordSource(args.password_stdin)
    with (_services(args, data_dir) as services,
          _signed_in(services, args, source) as actor, _bad_input_is_usage()):
        services.accounts.disable(actor, args.username, DisabledReason(args.reason))
    print(_("Disabled {user}; their open sessions have ended.").format(user=args.username))
    return EXIT_OK


def _users_enable(args: argparse.Namespace, data_dir: Path) -> int:
    source = PasswordSource(args.password_stdin)
    with (_services(args, data_dir) as services,
          _signed_in(services, args, source) as actor, _bad_input_is_usage()):
        password, generated = source.new(
            args, args.username, lambda: generate_password(services.policy, args.username))
        services.accounts.enable(actor, args.username, password)
    print(_("Enabled {user}.").format(user=args.username))
    if generated:
        _print_generated(args.username, password)
    return EXIT_OK


def _users_passwd(args: argparse.Namespace, data_dir: Path) -> int:
    source = PasswordSource(args.password_stdin)
    if args.as_user and args.as_user != args.username:
        with (_services(args, data_dir) as services,
              _signed_in(services, args, source) as actor, _bad_input_is_usage()):
            password, generated = source.new(
                args, args.username, lambda: generate_password(services.policy, args.username))
            services.accounts.reset_password(actor, args.username, password)
        print(_("New password set for {user}, to be changed at the next sign-in.").format(
            user=args.username))
        if generated:
            _print_generated(args.username, password)
        return EXIT_OK
    with _services(args, data_dir) as services:
        current = source.read(_("Current password for {user}: ").format(user=args.username))
        new = source.read(_("New password: "), confirm=True)
        with _bad_input_is_usage():
            try:
                session = services.accounts.change_expired_password(args.username, current,
                                                                    new)
            except OperatorPresenceRequired:
                session = None  # a technician: changed, no session opened here
        if session is not None:
            services.accounts.sign_out(session)
    print(_("Password changed for {user}.").format(user=args.username))
    return EXIT_OK


def _audit_verify(args: argparse.Namespace, data_dir: Path) -> int:
    with _services(args, data_dir) as services:
        started = time.perf_counter()
        result = services.audit.verify()
        elapsed = max(time.perf_counter() - started, 1e-9)
    rate = result.checked / elapsed
    if getattr(args, "json", False):
        print(json.dumps({"ok": result.ok, "checked": result.checked,
                          "first_bad_id": result.first_bad_id, "reason": result.reason,
                          "seconds": round(elapsed, 3)}))
        return EXIT_OK if result.ok else EXIT_FAILURE
    if result.ok:
        print(_("Audit trail intact: {n} entries checked in {s:.2f} s ({rate:,.0f} "
                "entries/s).").format(n=result.checked, s=elapsed, rate=rate))
        return EXIT_OK
    where = (_("entry {id}").format(id=result.first_bad_id) if result.first_bad_id is not None
             else _("the head mirror"))
    print(_("Audit trail BROKEN at {where}: {reason}").format(where=where,
                                                               reason=result.reason),
          file=sys.stderr)
    print(_("{n} entries checked before it ({s:.2f} s, {rate:,.0f} entries/s).").format(
        n=result.checked, s=elapsed, rate=rate), file=sys.stderr)
    return EXIT_FAILURE
