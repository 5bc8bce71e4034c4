"""Command line: ``centrale [--demo]``, ``centrale check-config``, ``centrale camera …``;
``centrale init``, ``centrale users …`` and ``centrale audit verify`` are in
:mod:`console.cli_admin`.

Parsing and dispatch only; the work is done in :mod:`console.config`, :mod:`console.paths`,
:mod:`console.logsetup` and :mod:`cameras.credentials`. Exit codes: 0 success, 1 unexpected
failure (details in the log file), 2 bad usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cameras.credentials import (
    CredentialError,
    check_credential_store,
    password_env_var,
    set_camera_password,
)
from console.config import CentraleConfig, ConfigInvalid, ConfigNotFound, load_config
from console.logsetup import configure_logging, log_path
from console.paths import resolve_config_path, resolve_data_dir
from registry.errors import CentraleError, ConfigError
from registry.i18n import N_, SUPPORTED, _, ngettext, pick_language, set_language

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace, Path], int]


class UsageError(CentraleError):
    """The command cannot run as asked (exit code 2)."""

    title = N_("Error")


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the sub-command.

    Sub-parsers use SUPPRESS as default, so that a value given before the sub-command is not
    overwritten by the sub-parser's default.
    """
    parser = argparse.ArgumentParser(add_help=False)
    default = None if defaults else argparse.SUPPRESS
    parser.add_argument(
        "--config", metavar="PATH", default=default,
        help=_("configuration file (default: $CENTRALE_CONFIG, ./config.toml, user config)"),
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", metavar="DIR", default=default,
        help=_("data directory (default: $CENTRALE_DATA_DIR or the user data directory)"),
    )  # fmt: skip
    parser.add_argument(
        "--lang", choices=SUPPORTED, default=default,
        help=_("interface language (default: [site] language, $CENTRALE_LANG, locale)"),
    )  # fmt: skip
    return parser


def build_parser() -> argparse.ArgumentParser:
    sub_common = _global_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="centrale",
        description=_("Video-surveillance console for the Polizia Locale."),
        parents=[_global_options(defaults=True)],
    )
    parser.add_argument(
        "--demo", action="store_true",
        help=_("run the console on demo cameras (no configuration needed)"),
    )  # fmt: skip
    parser.set_defaults(handler=_run_console)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check-config", parents=[sub_common],
        help=_("validate the configuration file and list every problem"),
    )  # fmt: skip
    check.add_argument("path", nargs="?", metavar="PATH", help=_("file to check"))
    check.set_defaults(handler=_check_config)

    camera = commands.add_parser("camera", parents=[sub_common], help=_("camera credentials"))
    camera_commands = camera.add_subparsers(dest="camera_command", metavar="ACTION")
    camera_commands.required = True
    set_password = camera_commands.add_parser(
        "set-password", parents=[sub_common],
        help=_("store a camera's password in the system keyring"),
    )  # fmt: skip
    set_password.add_argument("camera_id", metavar="ID", help=_("camera id from config.toml"))
    set_password.set_defaults(handler=_set_camera_password)

    from console import cli_admin  # imported here: it builds on this module

    cli_admin.add_commands(commands, sub_common)
    from console import cli_footage  # recorder, retention, holds

    cli_footage.add_commands(commands, sub_common)
    from console import cli_register  # register export

    cli_register.add_commands(commands, sub_common)
    from console import cli_ptz  # presets and masks

    cli_ptz.add_commands(commands, sub_common)
    from console import cli_export  # clip export, verify, removable media

    cli_export.add_commands(commands, sub_common)
    return parser


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        data_dir = resolve_data_dir(args.data_dir)
        configure_logging(data_dir)
        _apply_language(args.lang)
        log.info("centrale %s", args.command or ("--demo" if args.demo else "console"))
        return handler(args, data_dir)
    except ConfigInvalid as exc:
        _print_invalid(exc)
        return EXIT_USAGE
    except (ConfigError, UsageError) as exc:
        _error(f"{exc.display_title}: {exc.message}")
        return EXIT_USAGE
    except CentraleError as exc:
        _error(f"{exc.display_title}: {exc.message}")
        return EXIT_USAGE if isinstance(exc, CredentialError) else EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception:  # last resort: no traceback on the operator's terminal
        log.exception("unexpected error")
        where = _log_file_hint(args)
        _error(_("Unexpected error; details in the log file {path}").format(path=where))
        return EXIT_FAILURE


def _apply_language(explicit: str | None) -> str:
    try:
        code = pick_language(explicit)
    except ValueError as exc:  # e.g. CENTRALE_LANG=de
        raise UsageError(str(exc)) from None
    try:
        set_language(code)
    except OSError:
        # No compiled catalogue for this language: English message ids are shown instead.
        log.warning("no translation catalogue for %r; using English", code)
        set_language("en")
    return code


def _error(text: str) -> None:
    print(text, file=sys.stderr)


def _log_file_hint(args: argparse.Namespace) -> str:
    try:
        return str(log_path(resolve_data_dir(args.data_dir)))
    except ConfigError:
        return "centrale.log"


def _print_invalid(exc: ConfigInvalid) -> None:
    _error(_("Invalid configuration: {path}").format(path=exc.path))
    for issue in exc.issues:
        _error(f"  {issue}")


def _load(args: argparse.Namespace, path: str | None = None) -> tuple[Path, CentraleConfig]:
    config_path = resolve_config_path(path or args.config)
    return config_path, load_config(config_path)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _run_console(args: argparse.Namespace, data_dir: Path) -> int:
    if args.demo:
        from console.demo import demo_config

        config = demo_config(data_dir, progress=_error)  # clip preparation, before the UI
        config_path: Path | None = None
    else:
        try:
            config_path, config = _load(args)
        except ConfigNotFound as exc:
            raise ConfigNotFound(
                exc.message
                + "\n"
                + _(
                    "Give one with --config PATH or CENTRALE_CONFIG, or try the demo: "
                    "centrale --demo"
                )
            ) from None
    language = _apply_language(args.lang or config.site.language)
    from console.app import run_console

    result: int = run_console(config=config, data_dir=data_dir, language=language,
                              demo=args.demo, config_path=config_path)
    return result


def _check_config(args: argparse.Namespace, data_dir: Path) -> int:
    path, config = _load(args, args.path)
    count = len(config.cameras)
    cameras = ngettext("{n} camera", "{n} cameras", count).format(n=count)
    disabled = count - len(config.enabled_cameras)
    if disabled:
        cameras += " " + ngettext("({n} disabled)", "({n} disabled)", disabled).format(n=disabled)
    print(_("Configuration OK: {path}").format(path=path))
    print(
        _("{comune}, {control_room}: {cameras}").format(
            comune=config.site.comune, control_room=config.site.control_room, cameras=cameras
        )
    )
    return EXIT_OK


def _set_camera_password(args: argparse.Namespace, data_dir: Path) -> int:
    path, config = _load(args)
    camera = config.camera(args.camera_id)
    if camera is None:
        known = ", ".join(c.id for c in config.cameras) or "-"
        raise UsageError(
            _("no camera with id {id} in {path} (cameras: {known})").format(
                id=repr(args.camera_id), path=path, known=known
            )
        )
    if camera.username is None:
        print(_("Note: camera {id} has no username in the configuration.").format(id=camera.id))
    backend = check_credential_store(camera.id)
    prompt = _("Password for camera {id}: ").format(id=camera.id)
    first = getpass.getpass(prompt)
    if not first:
        raise UsageError(_("empty password: nothing stored"))
    second = getpass.getpass(_("Repeat the password: "))
    if first != second:
        raise UsageError(_("the passwords do not match: nothing stored"))
    set_camera_password(camera.id, first)
    print(_("Password stored for camera {id} ({backend}).").format(id=camera.id, backend=backend))
    env_var = password_env_var(camera.id)
    if env_var in os.environ:
        print(_("Note: {var} is set and takes precedence over the keyring.").format(var=env_var))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
