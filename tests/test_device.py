"""cameras.device without peers: lazy import of onvif, and the exception mapping."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest
import zeep.exceptions
from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError

from cameras.device import OnvifDevice, is_auth_fault, translate_error
from cameras.errors import (
    CameraAuthError,
    CameraError,
    CameraProtocolError,
    CameraUnreachable,
    CameraUnsupported,
)

REPO = Path(__file__).resolve().parents[1]


def test_importing_device_does_not_import_onvif() -> None:
    # onvif calls logging.basicConfig at import: it must wait until a camera is used
    code = (
        "import sys, logging, cameras.device; "
        "assert 'onvif' not in sys.modules, 'onvif imported'; "
        "assert not logging.getLogger().handlers, 'root logger configured'; "
        "print('ok')"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def _fault(message: str, code: str = "s:Sender", subcodes: list[str] | None = None) -> Exception:
    return zeep.exceptions.Fault(message, code=code, subcodes=subcodes or [])


def _chained(outer: Exception, inner: Exception) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_fault("Sender not authorized", code="s:Receiver"), CameraAuthError),  # ipycam
        (_fault("denied", subcodes=["ter:NotAuthorized"]), CameraAuthError),
        (_fault("The security token could not be authenticated"), CameraAuthError),
        (zeep.exceptions.TransportError("x", status_code=401), CameraAuthError),
        (ONVIFAuthError("bad password"), CameraAuthError),
        (_chained(ONVIFError("wrapped"), _fault("x", subcodes=["NotAuthorized"])), CameraAuthError),
        (ConnectionRefusedError(111, "refused"), CameraUnreachable),
        (OSError(-2, "Name or service not known"), CameraUnreachable),
        (TimeoutError(), CameraUnreachable),
        (ONVIFTimeoutError("slow"), CameraUnreachable),
        (aiohttp.ServerDisconnectedError(), CameraUnreachable),
        (httpx.ConnectError("refused"), CameraUnreachable),
        (httpx.ReadTimeout("slow"), CameraUnreachable),
        (_fault("Invalid argument", subcodes=["ter:InvalidArgVal"]), CameraProtocolError),
        (zeep.exceptions.TransportError("x", status_code=500), CameraProtocolError),
        (zeep.exceptions.XMLSyntaxError("bad xml"), CameraProtocolError),
        (ONVIFError("Device doesn`t support service: media"), CameraUnsupported),
        (ONVIFError("something odd"), CameraProtocolError),
    ],
)
def test_translate_error(exc: BaseException, expected: type[CameraError]) -> None:
    err = translate_error(exc, "cam1", "10.0.0.5:80")
    assert type(err) is expected
    assert err is not None and "cam1" in err.message and err.camera_id == "cam1"


def test_http_401_response_is_auth() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/onvif/device_service")
    response = httpx.Response(401, request=request)
    exc = httpx.HTTPStatusError("401", request=request, response=response)
    assert isinstance(translate_error(exc, "c", "a"), CameraAuthError)


def test_unknown_exception_is_not_swallowed() -> None:
    assert translate_error(ValueError("bug"), "c", "a") is None


def test_auth_fault_detection_does_not_flag_other_faults() -> None:
    assert not is_auth_fault(_fault("Profile token does not exist", subcodes=["ter:NoProfile"]))


def test_titles_are_distinct() -> None:
    assert CameraAuthError("x").title == "Authentication failed"
    assert CameraUnreachable("x").title == "Camera offline"
    assert CameraProtocolError("x").title == "Camera error"


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("10.0.0.5", "10.0.0.5", 80),
        ("10.0.0.5:8080", "10.0.0.5", 8080),
        ("http://cam.local:8000/onvif/device_service", "cam.local", 8000),
        ("[fe80::1]:81", "fe80::1", 81),
    ],
)
def test_address_forms(address: str, host: str, port: int) -> None:
    dev = OnvifDevice("c", address, "u", "p")
    assert (dev._host, dev._port) == (host, port)
    assert "p'" not in repr(dev)


async def test_closed_port_is_unreachable_quickly() -> None:
    import socket

    with socket.socket() as s:  # bound, never listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        dev = OnvifDevice("c", f"127.0.0.1:{port}", "u", "p", timeout_s=3)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(CameraUnreachable):
            await dev.connect()
        assert loop.time() - t0 < 3
        await dev.close()
