"""Errors of the camera layer.

Library exceptions (onvif, zeep, httpx, PyAV, sockets) are translated into these at the
boundary of ``cameras/``. The distinction that matters to an operator is kept strict: wrong
credentials are a :class:`CameraAuthError`, never a :class:`CameraUnreachable`.
"""

from __future__ import annotations

from registry.errors import CentraleError
from registry.i18n import N_


class CameraError(CentraleError):
    """Something went wrong talking to a camera."""

    title = N_("Camera error")

    def __init__(
        self, message: str, *, camera_id: str | None = None, title: str | None = None
    ) -> None:
        super().__init__(message, title=title)
        self.camera_id = camera_id


class CameraAuthError(CameraError):
    """The camera refused the credentials (HTTP 401, ONVIF NotAuthorized, RTSP 401)."""

    title = N_("Authentication failed")


class CameraUnreachable(CameraError):
    """No answer: connection refused, unknown host, timeout, connection dropped."""

    title = N_("Camera offline")


class CameraProtocolError(CameraError):
    """The camera answered, but not with what ONVIF or RTSP says it should."""

    title = N_("Camera error")


class CameraUnsupported(CameraError):
    """The camera lacks a service or a feature that the operation needs."""

    title = N_("Feature not supported")
