"""The root configuration model and the loader of ``config.toml``.

``console`` is the only reader of the file. :func:`load_config` turns every problem into a
:class:`ConfigIssue` with the key path and the line it is on, so that ``centrale check-config``
can print all of them at once::

    cameras[1].kind (line 14): Input should be 'fixed', 'ptz' or 'plate'
    site.colour (line 3): unknown key

tomllib gives no positions, so :func:`locate_keys` scans the TOML text to map key paths to
lines.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from cameras.config import CameraConfig, StreamSettings, StrictModel
from console.tomlpos import KeyPath, locate_keys
from registry.errors import ConfigError
from registry.i18n import N_, _, ngettext

# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class SiteConfig(StrictModel):
    """Who runs this console (section ``[site]``)."""

    comune: str = Field(
        min_length=1,
        title="Comune",
        description="Municipality that owns the system.",
    )
    control_room: str = Field(
        default="Centrale operativa",
        min_length=1,
        title="Control room",
        description="Name of this control room, shown in the header and on exports.",
    )
    timezone: str = Field(
        default="Europe/Rome",
        title="Time zone",
        description="IANA time zone for clocks, timestamps and export names.",
    )
    language: Literal["it", "en"] | None = Field(
        default=None,
        title="Language",
        description="Interface language; unset means --lang, CENTRALE_LANG, locale, Italian.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                _("unknown time zone {value}: use an IANA name such as 'Europe/Rome'"),
                {"value": repr(value)},
            ) from None
        return value


class UiConfig(StrictModel):
    """Console preferences (section ``[ui]``)."""

    grid_layout: Literal[1, 4, 9, 16] = Field(
        default=4,
        title="Grid layout",
        description="Tiles in the live grid at start-up: 1, 4, 9 or 16.",
    )
    idle_lock_minutes: int = Field(
        default=5,
        ge=1,
        le=120,
        title="Idle lock (minutes)",
        description="Minutes without input after which the console locks.",
    )
    clock_format: str = Field(
        default="%d/%m/%Y %H:%M:%S",
        min_length=1,
        title="Clock format",
        description="strftime format of the clock in the header.",
    )

    @field_validator("clock_format")
    @classmethod
    def _valid_format(cls, value: str) -> str:
        try:
            datetime(2000, 1, 2, 3, 4, 5).strftime(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "clock_format",
                _("invalid strftime format: {reason}"),
                {"reason": str(exc)},
            ) from None
        return value


class CentraleConfig(StrictModel):
    """The whole ``config.toml``."""

    site: SiteConfig = Field(title="Site", description="Comune and control room.")
    ui: UiConfig = Field(default_factory=UiConfig, title="Console", description="Console UI.")
    streams: StreamSettings = Field(
        default_factory=StreamSettings,
        title="Streams",
        description="Timeouts and reconnection of video streams.",
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list,
        title="Cameras",
        description="One [[cameras]] table per camera.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, int] = {}
        for index, camera in enumerate(self.cameras):
            if camera.id in seen:
                raise PydanticCustomError(
                    "duplicate_camera_id",
                    _("duplicate camera id {id}: already used by cameras[{first}]"),
                    {
                        "id": repr(camera.id),
                        "first": seen[camera.id],
                        "field": ("cameras", index, "id"),
                    },
                )
            seen[camera.id] = index
        return self

    def camera(self, camera_id: str) -> CameraConfig | None:
        """The camera with ``camera_id``, or ``None``."""
        return next((c for c in self.cameras if c.id == camera_id), None)

    @property
    def enabled_cameras(self) -> list[CameraConfig]:
        return [c for c in self.cameras if c.enabled]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration file."""

    path: str
    line: int | None
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = _("line {line}").format(line=self.line)
            if self.column is not None:
                where += ", " + _("column {column}").format(column=self.column)
        if self.path and where:
            return f"{self.path} ({where}): {self.message}"
        if self.path or where:
            return f"{self.path or where}: {self.message}"
        return self.message


class ConfigNotFound(ConfigError):
    """The configuration file does not exist."""

    title = N_("Configuration not found")


class ConfigInvalid(ConfigError):
    """The file was read but its content is not a valid configuration."""

    def __init__(self, path: Path, issues: list[ConfigIssue]) -> None:
        self.path = path
        self.issues = issues
        count = ngettext("{n} problem", "{n} problems", len(issues)).format(n=len(issues))
        lines = "\n".join(str(issue) for issue in issues)
        super().__init__(f"{path}: {count}\n{lines}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_config(path: str | Path) -> CentraleConfig:
    """Read and validate ``path``.

    Raises :class:`ConfigNotFound` when the file is missing, :class:`ConfigError` when it
    cannot be read, and :class:`ConfigInvalid` (with every issue) when it is not valid.
    Relative file paths of cameras are taken relative to the file's directory.
    """
    path = Path(path).expanduser()
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigInvalid(path, [_syntax_issue(exc, text)]) from None
    if not data:
        raise ConfigInvalid(
            path,
            [ConfigIssue("", None, _("the file is empty: at least the [site] table is needed"))],
        )
    try:
        return CentraleConfig.model_validate(data, context={"base_dir": path.parent.absolute()})
    except ValidationError as exc:
        raise ConfigInvalid(path, issues_from_validation(exc, data, text)) from None


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigNotFound(_("configuration file not found: {path}").format(path=path)) from None
    except IsADirectoryError:
        raise ConfigError(
            _("{path} is a directory: give the path of config.toml").format(path=path)
        ) from None
    except PermissionError:
        raise ConfigError(_("cannot read {path}: permission denied").format(path=path)) from None
    except OSError as exc:
        raise ConfigError(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigInvalid(
            path, [ConfigIssue("", line, _("the file is not valid UTF-8 text"))]
        ) from None


def _syntax_issue(exc: tomllib.TOMLDecodeError, text: str) -> ConfigIssue:
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    else:
        line, column = text.count("\n") + 1, None
        message = _TOML_END.sub("", message)
    return ConfigIssue("", line, _("TOML syntax error: {reason}").format(reason=message), column)


def issues_from_validation(
    exc: ValidationError, data: dict[str, Any], text: str
) -> list[ConfigIssue]:
    """Turn pydantic errors into issues with display key paths and line numbers."""
    lines = locate_keys(text)
    issues = []
    for error in exc.errors():
        loc = _data_loc(error, data)
        issues.append(ConfigIssue(format_key_path(loc), _line_of(loc, lines), _message(error)))
    return issues


def _data_loc(error: ErrorDetails, data: Any) -> KeyPath:
    """The error location as a path in the TOML data, without pydantic's union tags."""
    loc: list[str | int] = list(error["loc"])
    extra = (error.get("ctx") or {}).get("field")
    if isinstance(extra, str):
        loc.append(extra)
    elif isinstance(extra, tuple):
        loc.extend(extra)
    result: list[str | int] = []
    node: Any = data
    for item in loc:
        if isinstance(node, dict) and isinstance(item, str):
            result.append(item)
            node = node.get(item)
            if node is None:
                break  # a missing key: nothing below it
        elif isinstance(node, list) and isinstance(item, int):
            result.append(item)
            node = node[item] if 0 <= item < len(node) else None
        else:
            break  # a scalar, or a tag such as 'function-after[...]'
    return tuple(result)


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _("unknown key")
    if kind == "missing":
        return _("missing required key")
    message = error["msg"]
    return message.removeprefix("Value error, ")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key_path(loc: Iterable[str | int]) -> str:
    """``('cameras', 1, 'kind')`` -> ``cameras[1].kind``."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
            continue
        key = item if _BARE_KEY.fullmatch(item) else '"' + item.replace('"', '\\"') + '"'
        out += f".{key}" if out else key
    return out


def _line_of(loc: KeyPath, lines: dict[KeyPath, int]) -> int | None:
    """Line of ``loc`` or of its nearest located parent (for a missing key: its table)."""
    for end in range(len(loc), 0, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None
