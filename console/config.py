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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from cameras.config import CameraConfig, StreamSettings, StrictModel
from console.tomlpos import KeyPath, locate_keys
from registry.audit import LEGAL_MIN_RETENTION_MONTHS
from registry.errors import ConfigError
from registry.i18n import N_, _, ngettext
from registry.passwords import DEFAULT_HASHING, HashParameters, PasswordPolicy

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
        le=60,
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


def _within(value: int, low: int, high: int, why: str) -> int:
    """*value* when ``low <= value <= high``; otherwise an error that says which bound and
    why (the regulation's rule, or the project's strict default)."""
    if value < low:
        raise PydanticCustomError(
            "below_floor", _("must be at least {low}: {why}"), {"low": low, "why": _(why)}
        )
    if value > high:
        raise PydanticCustomError(
            "above_ceiling", _("must be at most {high}: {why}"), {"high": high, "why": _(why)}
        )
    return value


#: field -> (lowest, highest, why). Bounds the regulations set are never relaxed; a site may
#: only be stricter. Where the law gives no number, the floor is the project's default.
_SECURITY_BOUNDS: dict[str, tuple[int, int, str]] = {
    "min_length": (12, 128, N_(
        "passwords must be complex (R11); 12 characters is the least Centrale accepts")),
    "min_classes": (3, 4, N_(
        "passwords must be complex (R11): at least 3 kinds of characters")),
    "history": (5, 24, N_("the last 5 passwords may never be reused (R11)")),
    "max_age_days": (1, 90, N_("passwords expire at least every 3 months (R11)")),
    "max_failures": (3, 5, N_(
        "more than 5 attempts weakens the lockout; fewer than 3 locks people out on a typo")),
    "lockout_minutes": (15, 1440, N_("a lockout shorter than 15 minutes invites guessing")),
    "disable_unused_days": (1, 180, N_(
        "credentials unused for 6 months are disabled (R12)")),
}


class SecurityConfig(StrictModel):
    """Password and account rules (section ``[security]``, R11-R12).

    Only stricter than the defaults: every bound says why in ``_SECURITY_BOUNDS``.
    """

    min_length: int = Field(default=12, title="Minimum length",
                            description="Shortest password accepted (12-128).")
    min_classes: int = Field(
        default=3, title="Character kinds",
        description="How many of lower-case, upper-case, digits, symbols a password uses (3-4).",
    )
    history: int = Field(default=5, title="History",
                         description="A new password differs from the last N (5-24).")
    max_age_days: int = Field(default=90, title="Expiry (days)",
                              description="Days after which a password must be changed (1-90).")
    max_failures: int = Field(default=5, title="Failed attempts",
                              description="Wrong passwords in a row that lock the account (3-5).")
    lockout_minutes: int = Field(default=15, title="Lockout (minutes)",
                                 description="How long a locked account stays locked (15-1440).")
    disable_unused_days: int = Field(
        default=180, title="Disable when unused (days)",
        description="Days without a sign-in after which an account is disabled (1-180).",
    )

    @field_validator(*_SECURITY_BOUNDS)
    @classmethod
    def _bounded(cls, value: int, info: ValidationInfo) -> int:
        low, high, why = _SECURITY_BOUNDS[str(info.field_name)]
        return _within(value, low, high, why)

    def policy(self, hashing: HashParameters = DEFAULT_HASHING) -> PasswordPolicy:
        return PasswordPolicy(
            min_length=self.min_length,
            min_classes=self.min_classes,
            history=self.history,
            max_age=timedelta(days=self.max_age_days),
            max_failures=self.max_failures,
            lockout=timedelta(minutes=self.lockout_minutes),
            idle_limit=timedelta(days=self.disable_unused_days),
            hashing=hashing,
        )


class AuditConfig(StrictModel):
    """The audit trail (section ``[audit]``, R13)."""

    retention_months: int = Field(
        default=LEGAL_MIN_RETENTION_MONTHS, title="Retention (months)",
        description="Months the audit entries are kept at least (6-120).",
    )

    @field_validator("retention_months")
    @classmethod
    def _legal(cls, value: int) -> int:
        return _within(value, LEGAL_MIN_RETENTION_MONTHS, 120,
                       N_("sign-in and sign-out traces are kept at least 6 months (R13)"))


MAX_PURPOSE_LENGTH = 120


class RegisterConfig(StrictModel):
    """The access register (section ``[register]``, R24-R26)."""

    extra_purposes: list[str] = Field(
        default_factory=list, max_length=50, title="Extra purposes",
        description="Site-specific purposes offered besides the regulation's ones.",
    )

    @field_validator("extra_purposes")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        cleaned: list[str] = []
        for index, raw in enumerate(values):
            text = " ".join(raw.split())
            if not text or len(text) > MAX_PURPOSE_LENGTH:
                raise PydanticCustomError(
                    "purpose_length",
                    _("a purpose needs 1 to {n} characters"),
                    {"n": MAX_PURPOSE_LENGTH, "field": (index,)},
                )
            key = text.casefold()
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_purpose",
                    _("duplicate purpose {text}: already given as extra_purposes[{first}]"),
                    {"text": repr(text), "first": seen[key], "field": (index,)},
                )
            seen[key] = index
            cleaned.append(text)
        return cleaned


class CentraleConfig(StrictModel):
    """The whole ``config.toml``."""

    site: SiteConfig = Field(title="Site", description="Comune and control room.")
    ui: UiConfig = Field(default_factory=UiConfig, title="Console", description="Console UI.")
    security: SecurityConfig = Field(
        default_factory=SecurityConfig,
        title="Security",
        description="Password policy, lockout and disabling of unused accounts.",
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig, title="Audit trail", description="Audit retention."
    )
    # ``register`` would shadow pydantic's BaseModel.register: the file's key is an alias.
    access_register: RegisterConfig = Field(
        default_factory=RegisterConfig,
        alias="register",
        title="Access register",
        description="Purposes offered in the access register.",
    )
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
