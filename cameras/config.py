"""Camera sections of ``config.toml``: ``[streams]`` and each ``[[cameras]]`` entry.

Pydantic models that reject unknown keys. Passwords never live here: a camera has a
``username`` and its password is read from the keyring or the environment
(:mod:`cameras.credentials`). Validation messages are marked for translation; custom errors
carry a ``field`` in their context so that the loader can point at the offending key.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from registry.i18n import _

CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_CAMERA_ID = re.compile(CAMERA_ID_PATTERN)
ONVIF_DEVICE_PATH = "/onvif/device_service"
STREAM_SCHEMES = ("rtsp", "rtsps")
#: R16: footage is kept at most 7 days; a longer keep is only ever a hold (footage/holds.py).
MAX_RETENTION_DAYS = 7

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraKind(StrEnum):
    FIXED = "fixed"
    PTZ = "ptz"
    PLATE = "plate"


class StreamSettings(StrictModel):
    """How stream readers open and keep RTSP connections (section ``[streams]``)."""

    open_timeout_s: float = Field(
        default=5.0,
        ge=1,
        le=60,
        title="Open timeout (s)",
        description="Seconds to wait for a stream to open before giving up and retrying.",
    )
    read_timeout_s: float = Field(
        default=5.0,
        ge=1,
        le=60,
        title="Read timeout (s)",
        description="Seconds without packets after which a stream counts as lost.",
    )
    reconnect_min_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        title="First reconnect delay (s)",
        description="Delay before the first reconnection attempt; doubles on each failure.",
    )
    reconnect_max_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        title="Longest reconnect delay (s)",
        description="Upper bound of the reconnection backoff.",
    )
    analyzeduration_us: int = Field(
        default=100_000,
        ge=0,
        title="Analyse duration (µs)",
        description=(
            "FFmpeg analyzeduration: how long to probe a stream before decoding. 0.1 s "
            "opens 16 RTSP sub-streams in 0.66 s against 0.97 s with 0.5 s (benchmarks.md)."
        ),
    )
    probesize: int = Field(
        default=500_000,
        ge=32,
        title="Probe size (bytes)",
        description="FFmpeg probesize: bytes read to detect the stream format.",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise PydanticCustomError(
                "backoff_order",
                _("reconnect_max_s must not be smaller than reconnect_min_s"),
                {"field": "reconnect_max_s"},
            )
        return self


def _has_url_scheme(value: str) -> bool:
    """True for ``scheme://…`` and ``file:…``; False for plain (also Windows) paths."""
    scheme = urlsplit(value).scheme
    return len(scheme) > 1


def is_file_source(url: str) -> bool:
    """True when ``url`` names a local file (a plain path or a ``file:`` URL)."""
    return not _has_url_scheme(url) or urlsplit(url).scheme.lower() == "file"


def _refuse_password(value: str) -> None:
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password is not None:
        raise PydanticCustomError(
            "password_in_url",
            _(
                "the URL contains a password; remove it and store the password with "
                "`centrale camera set-password ID` (the user name goes in `username`)"
            ),
        )


class CameraConfig(StrictModel):
    """One ``[[cameras]]`` entry."""

    id: str = Field(
        json_schema_extra={"pattern": CAMERA_ID_PATTERN},
        title="Identifier",
        description="Short stable id: lowercase letters, digits, '-' and '_', up to 32 chars.",
    )
    name: NonEmptyStr = Field(
        title="Name",
        description="Name shown to operators on tiles and lists.",
    )
    place: NonEmptyStr = Field(
        title="Place",
        description="Street or piazza the camera watches; used in export file names.",
    )
    kind: CameraKind = Field(
        default=CameraKind.FIXED,
        title="Kind",
        description="fixed, ptz (pan-tilt-zoom dome) or plate (plate-reading camera).",
    )
    onvif: str | None = Field(
        default=None,
        title="ONVIF device service",
        description="Device service URL (http://host/onvif/device_service) or host:port; "
        "stream URLs and PTZ are then discovered over ONVIF.",
    )
    username: str | None = Field(
        default=None,
        title="User name",
        description="Camera account name. The password is kept in the keyring, never here.",
    )
    main_url: str | None = Field(
        default=None,
        title="Main stream",
        description="rtsp:// or rtsps:// URL of the full-resolution stream, or a local file.",
    )
    sub_url: str | None = Field(
        default=None,
        title="Sub stream",
        description="Low-resolution stream for the grid; the main stream is used if absent.",
    )
    anonymous: bool = Field(
        default=False,
        title="Anonymous (traffic only)",
        description="Traffic-monitoring camera: wide shots only, zoom is refused (R5).",
    )
    allow_off_preset: bool = Field(
        default=False,
        title="Show off preset",
        description="PTZ cameras only: show the picture (unmasked) when the camera stands "
        "away from every approved preset, for manual viewing of public areas. Default: the "
        "picture is blanked until the camera is at an approved preset (R7).",
    )
    enabled: bool = Field(
        default=True, title="Enabled", description="Disabled cameras are ignored."
    )
    record: bool = Field(
        default=True, title="Record", description="The recorder records this camera."
    )
    retention_days: int = Field(
        default=MAX_RETENTION_DAYS,
        ge=1,
        title="Retention (days)",
        description="Days the footage is kept before it is deleted unrecoverably; at most 7 "
        "(R16). Longer only under a hold with a legal ground (centrale holds add).",
    )
    loop: bool = Field(
        default=False,
        title="Loop file",
        description="File sources only: start again at the end of the file (demo).",
    )

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _CAMERA_ID.fullmatch(value):
            raise PydanticCustomError(
                "camera_id",
                _(
                    "invalid camera id {value}: use up to 32 lowercase letters, digits, "
                    "'-' or '_', starting with a letter or digit"
                ),
                {"value": repr(value)},
            )
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention_ceiling(cls, value: int) -> int:
        if value > MAX_RETENTION_DAYS:
            raise PydanticCustomError(
                "retention_ceiling",
                _(
                    "retention_days {value} is above the legal ceiling of {max} days (R16): "
                    "a longer keep is only ever a hold with its legal ground "
                    "(centrale holds add)"
                ),
                {"value": value, "max": MAX_RETENTION_DAYS},
            )
        return value

    @field_validator("onvif")
    @classmethod
    def _normalise_onvif(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        _refuse_password(value)
        url = value if "://" in value else f"http://{value}"
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            parts = parts._replace(netloc="")
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError(
                "onvif_url",
                _("expected http://host[:port]/onvif/device_service or host:port"),
            )
        if parts.path in ("", "/"):
            parts = parts._replace(path=ONVIF_DEVICE_PATH)
        return parts.geturl()

    @field_validator("main_url", "sub_url")
    @classmethod
    def _check_stream_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise PydanticCustomError("empty_url", _("the URL is empty"))
        _refuse_password(value)
        if _has_url_scheme(value):
            scheme = urlsplit(value).scheme.lower()
            if scheme not in (*STREAM_SCHEMES, "file"):
                raise PydanticCustomError(
                    "stream_scheme",
                    _("unsupported scheme {scheme}: use rtsp://, rtsps://, file: or a path"),
                    {"scheme": f"{scheme!r}"},
                )
            return value
        # A plain path: relative paths are relative to the configuration file.
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        path = Path(value).expanduser()
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path)

    @model_validator(mode="after")
    def _check_sources(self) -> Self:
        if self.onvif is not None and self.main_url is not None:
            raise PydanticCustomError(
                "camera_source",
                _("set either onvif or main_url, not both"),
                {"field": "main_url"},
            )
        if self.onvif is None and self.main_url is None:
            if self.sub_url is not None:
                raise PydanticCustomError(
                    "camera_source",
                    _("sub_url needs main_url: set main_url too"),
                    {"field": "sub_url"},
                )
            raise PydanticCustomError(
                "camera_source",
                _("no video source: set onvif (ONVIF device) or main_url (RTSP URL or file)"),
            )
        if self.onvif is not None and self.sub_url is not None:
            raise PydanticCustomError(
                "camera_source",
                _("sub_url needs main_url: with onvif the streams are discovered"),
                {"field": "sub_url"},
            )
        if self.allow_off_preset and self.kind is not CameraKind.PTZ:
            raise PydanticCustomError(
                "camera_off_preset",
                _("allow_off_preset is only for PTZ cameras (kind = \"ptz\")"),
                {"field": "allow_off_preset"},
            )
        if self.loop and not (self.main_url is not None and is_file_source(self.main_url)):
            raise PydanticCustomError(
                "camera_loop",
                _("loop is only for file sources"),
                {"field": "loop"},
            )
        return self

    def stream_url(self, which: Literal["main", "sub"]) -> str | None:
        """Configured URL of the main or sub stream; the sub stream falls back to main.

        ``None`` for ONVIF cameras, whose stream URLs are discovered from the device.
        """
        if which == "sub" and self.sub_url is not None:
            return self.sub_url
        return self.main_url

    @property
    def is_file(self) -> bool:
        """True when the camera plays a local file (demo)."""
        return self.main_url is not None and is_file_source(self.main_url)

    @property
    def is_ptz(self) -> bool:
        return self.kind is CameraKind.PTZ
