"""Where Centrale keeps its data and finds its configuration."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from registry.errors import ConfigError
from registry.i18n import _

APP_NAME = "centrale"
DATA_DIR_ENV = "CENTRALE_DATA_DIR"
CONFIG_ENV = "CENTRALE_CONFIG"
CONFIG_NAME = "config.toml"


def resolve_data_dir(cli_value: str | None) -> Path:
    """The data directory: ``--data-dir``, else ``$CENTRALE_DATA_DIR``, else the user's.

    The directory is created (mode 0700: footage and the register are personal data) when it
    does not exist; an existing directory keeps its permissions.
    """
    value = cli_value or os.environ.get(DATA_DIR_ENV)
    path = Path(value) if value else platformdirs.user_data_path(APP_NAME, appauthor=False)
    path = path.expanduser().absolute()
    if path.is_dir():
        return path
    try:
        path.mkdir(mode=0o700, parents=True)
        path.chmod(0o700)  # mkdir's mode is subject to the umask
    except FileExistsError:
        raise ConfigError(
            _("the data directory {path} exists but is not a directory").format(path=path)
        ) from None
    except OSError as exc:
        raise ConfigError(
            _("cannot create the data directory {path}: {reason}").format(
                path=path, reason=exc.strerror or exc
            )
        ) from None
    return path


def resolve_config_path(cli_value: str | None) -> Path:
    """The configuration file: ``--config``, else ``$CENTRALE_CONFIG``, else ``./config.toml``
    when present, else ``config.toml`` in the user's configuration directory.

    The file is not required to exist: the loader reports a missing file.
    """
    value = cli_value or os.environ.get(CONFIG_ENV)
    if value:
        return Path(value).expanduser()
    local = Path.cwd() / CONFIG_NAME
    if local.is_file():
        return local
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / CONFIG_NAME
