"""The stream hub: opens a camera's stream only while somebody watches it.

Screens ask for ``(camera, "sub")`` in the grid and ``(camera, "main")`` in the single view;
the hub keeps one :class:`StreamReader` per (camera, stream) with a reference count, starts it
on the first :meth:`StreamHub.acquire` and stops it when the last holder releases it. Readers
are stopped in a background thread so that a release never waits for FFmpeg.

ONVIF cameras get their stream URIs from the device (GetProfiles/GetStreamUri) in the
reader thread, before each connection attempt, so an unreachable device never blocks the
caller and a camera that comes online later is picked up by the normal reconnect loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cameras.config import CameraConfig, StreamSettings, is_file_source
from cameras.credentials import CredentialError
from cameras.errors import CameraAuthError
from cameras.masks import MaskSet, register_cameras
from cameras.stream import StreamReader, StreamSource, StreamStatus

log = logging.getLogger(__name__)

Which = Literal["main", "sub"]
PasswordLookup = Callable[[str], str | None]


@dataclass
class StreamHandle:
    """What a consumer holds while it shows a stream."""

    camera_id: str
    which: Which
    reader: StreamReader
    _released: bool = field(default=False, repr=False)


def camera_source(cam: CameraConfig, which: Which, settings: StreamSettings,
                  password_for: PasswordLookup) -> StreamSource:  # fmt: skip
    """Where a camera's *which* stream comes from: the live view and the recorder alike.

    ONVIF cameras are asked for their stream URIs at every connection (they change with the
    device's configuration). No password to be had (no keyring backend, say): the source
    fails with the reason, shown in place of a picture, and the reader retries at its
    slowest pace.
    """
    try:
        password = password_for(cam.id) if cam.username else None
    except CredentialError as exc:
        message = exc.message

        def refuse() -> str:
            raise CameraAuthError(message)

        return StreamSource(cam.id, "", cam.username, None, resolver=refuse)
    if cam.onvif:
        address = cam.onvif

        def resolve() -> str:
            from cameras.device import resolve_stream_uris

            uris = resolve_stream_uris(cam.id, address, cam.username, password,
                                       timeout_s=settings.open_timeout_s)
            return (uris.sub or uris.main) if which == "sub" else uris.main

        return StreamSource(cam.id, "", cam.username, password, resolver=resolve)
    url = cam.stream_url(which)
    if url is None:
        raise ValueError(f"camera {cam.id} has no stream URL")
    return StreamSource(cam.id, url, cam.username, password, loop=cam.loop,
                        realtime=is_file_source(url))


class StreamHub:
    def __init__(
        self,
        cameras: Iterable[CameraConfig],
        settings: StreamSettings,
        password_for: PasswordLookup | None = None,
        fixed_masks: Mapping[str, MaskSet] | None = None,
    ) -> None:
        cameras = list(cameras)
        # Every camera gets its mask gate before any reader can exist: fixed cameras with
        # their stored masks (*fixed_masks*, from ptz.presets), PTZ cameras blank until their
        # mask state is known (cameras/masks.py). A camera without a gate would be blank.
        register_cameras(cameras, fixed_masks)
        self.cameras = {c.id: c for c in cameras}
        self.settings = settings
        self._password_for = password_for or (lambda _id: None)
        self._lock = threading.Lock()
        self._readers: dict[tuple[str, Which], StreamReader] = {}
        self._counts: dict[tuple[str, Which], int] = {}
        self._listeners: dict[tuple[str, Which], list[Callable[[], None]]] = {}

    def _source(self, cam: CameraConfig, which: Which) -> StreamSource:
        return camera_source(cam, which, self.settings, self._password_for)

    def acquire(
        self,
        camera_id: str,
        which: Which,
        on_frame: Callable[[], None] | None = None,
    ) -> StreamHandle:
        """Start (or share) the reader of ``camera_id``'s ``which`` stream."""
        cam = self.cameras[camera_id]
        key = (camera_id, which)
        with self._lock:
            reader = self._readers.get(key)
            if reader is None:
                listeners: list[Callable[[], None]] = []
                self._listeners[key] = listeners

                def fan_out() -> None:
                    for callback in tuple(listeners):
                        callback()

                reader = StreamReader(self._source(cam, which), settings=self.settings,
                                      on_frame=fan_out)
                self._readers[key] = reader
                self._counts[key] = 0
                reader.start()
            self._counts[key] += 1
            if on_frame is not None:
                self._listeners[key].append(on_frame)
        return StreamHandle(camera_id, which, reader)

    def release(self, handle: StreamHandle, on_frame: Callable[[], None] | None = None) -> None:
        """Give back a handle; the last one stops the reader (without waiting for it)."""
        if handle._released:
            return
        handle._released = True
        key = (handle.camera_id, handle.which)
        stopping: StreamReader | None = None
        with self._lock:
            if on_frame is not None and on_frame in self._listeners.get(key, []):
                self._listeners[key].remove(on_frame)
            self._counts[key] -= 1
            if self._counts[key] <= 0:
                stopping = self._readers.pop(key)
                del self._counts[key]
                del self._listeners[key]
        if stopping is not None:
            threading.Thread(target=stopping.stop, name="reader-stop", daemon=True).start()

    def open_streams(self) -> dict[tuple[str, Which], StreamStatus]:
        with self._lock:
            return {key: r.status for key, r in self._readers.items()}

    def close(self, timeout: float = 2.0) -> None:
        """Stop every reader; waits at most ``timeout`` seconds in all."""
        with self._lock:
            readers = list(self._readers.values())
            self._readers.clear()
            self._counts.clear()
            self._listeners.clear()
        for r in readers:
            r.stop(timeout=0)
        for r in readers:
            r.stop(timeout=timeout / max(1, len(readers)))
