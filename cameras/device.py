"""One device object per ONVIF camera (onvif-zeep-async), returning our own dataclasses.

Modelled on Home Assistant's ONVIF integration: zeep objects never leave this module, and
library exceptions are translated at the boundary (:func:`translate_error`) into the
:mod:`cameras.errors` hierarchy, so that wrong credentials are never reported as a camera
that is merely offline.

``onvif`` is imported lazily, inside functions: it calls ``logging.basicConfig`` at import
time, and the console configures logging first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cameras.errors import (
    CameraAuthError,
    CameraError,
    CameraProtocolError,
    CameraUnreachable,
    CameraUnsupported,
)
from registry.i18n import _

if TYPE_CHECKING:
    from onvif import ONVIFCamera

log = logging.getLogger(__name__)

#: SOAP fault subcodes (and fragments of fault texts) that mean "wrong credentials".
#: Many cameras send no proper subcode, hence the texts (ipycam: s:Receiver + "Sender not
#: authorized"); Home Assistant's ``is_auth_error`` does the same.
_AUTH_SUBCODES = (
    "NotAuthorized",
    "FailedAuthentication",
    "InvalidSecurity",
    "InvalidSecurityToken",
    "FailedCheck",
    "Unauthorized",
)
_AUTH_TEXTS = ("not authorized", "notauthorized", "unauthorized", "authenticat", "401")


@dataclass(frozen=True)
class StreamUris:
    """RTSP addresses of a camera's main (highest resolution) and sub (lowest) stream."""

    main: str
    sub: str | None
    main_profile: str
    sub_profile: str | None
    main_size: tuple[int, int] | None
    sub_size: tuple[int, int] | None


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str


# --------------------------------------------------------------------------------------
# Exception translation
# --------------------------------------------------------------------------------------


def _fault_texts(fault: Any) -> list[str]:
    """Code, subcodes, message and detail of a zeep Fault, as strings."""
    texts = [str(getattr(fault, "code", "") or ""), str(getattr(fault, "message", "") or "")]
    for sub in getattr(fault, "subcodes", None) or []:
        # QName objects: .localname / .text; plain strings otherwise
        texts.append(str(getattr(sub, "localname", None) or getattr(sub, "text", None) or sub))
    detail = getattr(fault, "detail", None)
    if detail is not None:
        with contextlib.suppress(TypeError, ValueError):
            texts.append("".join(detail.itertext()))
    return texts


def is_auth_fault(fault: Any) -> bool:
    """True if a SOAP fault says the credentials were refused."""
    texts = _fault_texts(fault)
    if any(code in text for text in texts for code in _AUTH_SUBCODES):
        return True
    return any(word in text.lower() for text in texts for word in _AUTH_TEXTS)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def translate_error(exc: BaseException, camera_id: str, address: str) -> CameraError | None:
    """Our error for a library exception, or ``None`` if it is none of the known kinds.

    Looks along the ``__cause__`` chain (``ONVIFError`` wraps the original error) and
    checks for authentication first, so a refused password is never taken for "offline".
    """
    import aiohttp
    import httpx
    import zeep.exceptions
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError

    where = f"{camera_id} ({address})"

    def auth(detail: str) -> CameraAuthError:
        return CameraAuthError(
            _("The camera {where} refused the user name or password: {detail}").format(
                where=where, detail=detail
            ),
            camera_id=camera_id,
        )

    def unreachable(detail: str) -> CameraUnreachable:
        return CameraUnreachable(
            _("The camera {where} does not answer: {detail}").format(where=where, detail=detail),
            camera_id=camera_id,
        )

    def protocol(detail: str) -> CameraProtocolError:
        return CameraProtocolError(
            _("The camera {where} gave an unexpected answer: {detail}").format(
                where=where, detail=detail
            ),
            camera_id=camera_id,
        )

    chain = list(_chain(exc))
    if isinstance(exc, CameraError):
        return exc
    # 1. authentication, anywhere in the chain
    for e in chain:
        if isinstance(e, ONVIFAuthError):
            return auth(str(e))
        if isinstance(e, zeep.exceptions.Fault) and is_auth_fault(e):
            return auth(e.message or str(e.code))
        if isinstance(e, zeep.exceptions.TransportError) and e.status_code in (401, 403):
            return auth(f"HTTP {e.status_code}")
        if isinstance(e, aiohttp.ClientResponseError) and e.status in (401, 403):
            return auth(f"HTTP {e.status}")
        if isinstance(e, httpx.HTTPStatusError) and e.response.status_code in (401, 403):
            return auth(f"HTTP {e.response.status_code}")
    # 2. no answer: refused, DNS, timeout, connection dropped
    for e in chain:
        if isinstance(e, ONVIFTimeoutError | TimeoutError | httpx.TimeoutException):
            return unreachable(_("no answer in time"))
        if isinstance(e, aiohttp.ClientConnectionError | httpx.TransportError | OSError):
            return unreachable(str(e) or type(e).__name__)
    # 3. it answered, but not as it should
    for e in chain:
        if isinstance(e, zeep.exceptions.Fault):
            return protocol(e.message or str(e.code))
        if isinstance(e, zeep.exceptions.TransportError):
            return protocol(f"HTTP {e.status_code}")
        if isinstance(e, zeep.exceptions.Error | aiohttp.ClientError | httpx.HTTPError):
            return protocol(str(e) or type(e).__name__)
    for e in chain:
        if isinstance(e, ONVIFError):
            text = str(e)
            if "support service" in text:
                return CameraUnsupported(
                    _("The camera {where} lacks an ONVIF service: {detail}").format(
                        where=where, detail=text
                    ),
                    camera_id=camera_id,
                )
            return protocol(text)
    return None


def _library_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that :func:`translate_error` knows (named tuple, HA style)."""
    import aiohttp
    import httpx
    import zeep.exceptions
    from onvif.exceptions import ONVIFError

    return (
        ONVIFError,
        zeep.exceptions.Error,
        aiohttp.ClientError,
        httpx.HTTPError,
        TimeoutError,
        OSError,
    )


# --------------------------------------------------------------------------------------
# The device
# --------------------------------------------------------------------------------------


def _split_address(address: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or ``http://host:port/...`` -> (host, port)."""
    from urllib.parse import urlsplit

    text = address.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if not parts.hostname:
        raise CameraError(_("Invalid camera address: {address}").format(address=address))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CameraError(_("Invalid camera address: {address}").format(address=address)) from exc
    return parts.hostname, port


def _resolution(profile: Any) -> tuple[int, int] | None:
    enc = getattr(profile, "VideoEncoderConfiguration", None)
    res = getattr(enc, "Resolution", None) if enc is not None else None
    if res is None:
        return None
    try:
        return int(res.Width), int(res.Height)
    except (AttributeError, TypeError, ValueError):
        return None


class OnvifDevice:
    """The ONVIF side of one camera: device information and stream addresses.

    Every public coroutine is bounded by ``timeout_s`` and raises only
    :class:`~cameras.errors.CameraError` subclasses for camera trouble.
    """

    def __init__(
        self,
        camera_id: str,
        address: str,
        username: str | None,
        password: str | None,
        *,
        timeout_s: float = 5.0,
        wsdl_dir: str | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.address = address
        self._host, self._port = _split_address(address)
        self._username = username
        self._password = password
        self._timeout_s = timeout_s
        self._wsdl_dir = wsdl_dir
        self._camera: ONVIFCamera | None = None
        self._media: Any = None
        self.info: DeviceInfo | None = None

    def __repr__(self) -> str:  # never the password
        return f"OnvifDevice({self.camera_id!r}, {self.address!r}, user={self._username!r})"

    @contextlib.asynccontextmanager
    async def _boundary(self, what: str) -> Any:
        """Time limit and exception translation for one operation."""
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except CameraError:
            raise
        except _library_errors() as exc:
            err = translate_error(exc, self.camera_id, self.address)
            if err is None:
                raise
            log.debug("%s: %s failed: %r -> %s", self.camera_id, what, exc, type(err).__name__)
            raise err from exc

    async def connect(self) -> DeviceInfo:
        """Discover the services, read the device information, create the media service."""
        from onvif import ONVIFCamera

        await self.close()
        kwargs: dict[str, Any] = {"no_cache": True}
        if self._wsdl_dir is not None:
            kwargs["wsdl_dir"] = self._wsdl_dir
        async with self._boundary("connect"):
            self._camera = ONVIFCamera(
                self._host, self._port, self._username or "", self._password or "", **kwargs
            )
            await self._camera.update_xaddrs()
            devicemgmt = await self._camera.create_devicemgmt_service()
            raw = await devicemgmt.GetDeviceInformation()
            self._media = await self._camera.create_media_service()
        self.info = DeviceInfo(
            manufacturer=str(getattr(raw, "Manufacturer", "") or ""),
            model=str(getattr(raw, "Model", "") or ""),
            firmware=str(getattr(raw, "FirmwareVersion", "") or ""),
            serial=str(getattr(raw, "SerialNumber", "") or ""),
        )
        return self.info

    async def stream_uris(self) -> StreamUris:
        """RTSP URIs of the highest-resolution (main) and lowest-resolution (sub) profile."""
        if self._media is None:
            await self.connect()
        media = self._media
        async with self._boundary("stream_uris"):
            profiles = list(await media.GetProfiles() or [])
            video = [(p, _resolution(p)) for p in profiles if _resolution(p) is not None]
            if not video:
                video = [(p, None) for p in profiles]
            if not video:
                raise CameraUnsupported(
                    _("The camera {camera} has no media profile").format(camera=self.camera_id),
                    camera_id=self.camera_id,
                )
            # stable: among equal sizes the device's own order wins
            by_size = sorted(video, key=lambda pr: -(pr[1][0] * pr[1][1]) if pr[1] else 0)
            main, main_size = by_size[0]
            sub, sub_size = by_size[-1]
            main_uri = await self._get_uri(media, main.token)
            sub_uri: str | None = None
            if sub.token != main.token:
                sub_uri = await self._get_uri(media, sub.token)
        return StreamUris(
            main=main_uri,
            sub=sub_uri,
            main_profile=str(main.token),
            sub_profile=str(sub.token) if sub_uri is not None else None,
            main_size=main_size,
            sub_size=sub_size if sub_uri is not None else None,
        )

    async def _get_uri(self, media: Any, token: str) -> str:
        req = media.create_type("GetStreamUri")
        req.ProfileToken = token
        req.StreamSetup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        result = await media.GetStreamUri(req)
        uri = getattr(result, "Uri", None)
        if not uri or not str(uri).lower().startswith(("rtsp://", "rtsps://")):
            raise CameraProtocolError(
                _("The camera {camera} returned no RTSP address for profile {profile}").format(
                    camera=self.camera_id, profile=token
                ),
                camera_id=self.camera_id,
            )
        return str(uri)

    def boundary(self, what: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Time limit and error translation, for other services of this camera (ptz)."""
        return self._boundary(what)  # type: ignore[no-any-return]

    async def ptz_service(self) -> tuple[Any, str]:
        """The ONVIF PTZ service and the token of the first profile that has PTZ.

        The zeep service goes only to ``ptz.control``, which turns its answers into our
        dataclasses. :class:`CameraUnsupported` when the camera has no PTZ.
        """
        if self._camera is None or self._media is None:
            await self.connect()
        assert self._camera is not None
        async with self._boundary("ptz_service"):
            profiles = list(await self._media.GetProfiles() or [])
            with_ptz = [p for p in profiles if getattr(p, "PTZConfiguration", None) is not None]
            if not with_ptz:
                raise CameraUnsupported(
                    _("The camera {camera} has no PTZ").format(camera=self.camera_id),
                    camera_id=self.camera_id,
                )
            service = await self._camera.create_ptz_service()
        return service, str(with_ptz[0].token)

    async def close(self) -> None:
        """Close the HTTP sessions; safe to call twice."""
        camera, self._camera, self._media = self._camera, None, None
        if camera is not None:
            with contextlib.suppress(OSError, TimeoutError):
                await camera.close()

    async def __aenter__(self) -> OnvifDevice:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def resolve_stream_uris(
    camera_id: str,
    address: str,
    username: str | None,
    password: str | None,
    timeout_s: float = 5.0,
) -> StreamUris:
    """Blocking: connect, read the stream URIs, close; in a fresh event loop.

    For threads without an event loop (the recorder, stream readers). Do not call it from a
    coroutine: it would block that loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("resolve_stream_uris() blocks: await OnvifDevice in a coroutine")

    async def run() -> StreamUris:
        device = OnvifDevice(camera_id, address, username, password, timeout_s=timeout_s)
        try:
            await device.connect()
            return await device.stream_uris()
        finally:
            await device.close()

    return asyncio.run(run())
