"""cameras.device against the real ipycam peer: each exception mapping proved on the wire."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from peers import IpycamPeer, free_port

from cameras.device import DeviceInfo, OnvifDevice, StreamUris, resolve_stream_uris
from cameras.errors import CameraAuthError, CameraUnreachable

pytestmark = pytest.mark.peers


async def test_right_password_gives_device_info_and_uris(ipycam: IpycamPeer) -> None:
    dev = OnvifDevice("cam1", ipycam.address, ipycam.username, ipycam.password, timeout_s=5)
    try:
        info = await dev.connect()
        uris = await dev.stream_uris()
    finally:
        await dev.close()
    assert info == DeviceInfo(
        manufacturer="PythonCam", model="VirtualCam-1", firmware="1.3.0",
        serial=f"PY-{ipycam.onvif_port}",
    )  # fmt: skip
    assert uris == StreamUris(
        main=ipycam.main_url,  # kept as the device returned it
        sub=ipycam.sub_url,
        main_profile="Profile_Main",
        sub_profile="Profile_Sub",
        main_size=ipycam.main_size,
        sub_size=ipycam.sub_size,
    )


async def test_wrong_password_is_auth_error_not_offline(ipycam: IpycamPeer) -> None:
    dev = OnvifDevice("cam1", ipycam.address, ipycam.username, "wrong", timeout_s=5)
    with pytest.raises(CameraAuthError) as info:
        await dev.connect()
    await dev.close()
    assert info.value.title == "Authentication failed"
    assert "cam1" in info.value.message
    assert "wrong" not in info.value.message  # never the password


async def test_missing_credentials_is_auth_error(ipycam: IpycamPeer) -> None:
    dev = OnvifDevice("cam1", ipycam.address, None, None, timeout_s=5)
    with pytest.raises(CameraAuthError):
        await dev.connect()
    await dev.close()


async def test_closed_port_is_unreachable_within_timeout(ipycam: IpycamPeer) -> None:
    dev = OnvifDevice("cam1", f"127.0.0.1:{free_port()}", "op", "secret", timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(CameraUnreachable) as info:
        await dev.connect()
    assert time.monotonic() - t0 < 1.0  # refused at once, not after the timeout
    assert info.value.title == "Camera offline"
    await dev.close()


async def test_frozen_camera_is_unreachable_after_timeout(ipycam: IpycamPeer) -> None:
    ipycam.freeze()  # the port accepts (kernel backlog) but nothing answers
    dev = OnvifDevice("cam1", ipycam.address, ipycam.username, ipycam.password, timeout_s=1.5)
    t0 = time.monotonic()
    with pytest.raises(CameraUnreachable):
        await dev.connect()
    elapsed = time.monotonic() - t0
    await dev.close()
    assert 1.4 < elapsed < 2.5


async def test_killed_camera_is_unreachable(ipycam: IpycamPeer) -> None:
    dev = OnvifDevice("cam1", ipycam.address, ipycam.username, ipycam.password, timeout_s=3)
    await dev.connect()
    ipycam.kill()
    with pytest.raises(CameraUnreachable):
        await dev.stream_uris()
    await dev.close()
    ipycam.restart()  # same port: the same object reconnects
    await dev.connect()
    assert (await dev.stream_uris()).sub == ipycam.sub_url
    await dev.close()


def test_resolve_stream_uris_from_threads(ipycam: IpycamPeer) -> None:
    # the sync helper runs its own event loop: usable from several reader threads at once
    results: list[object] = []

    def work(password: str) -> None:
        try:
            results.append(resolve_stream_uris("cam1", ipycam.address, "op", password, timeout_s=5))
        except CameraAuthError as exc:
            results.append(exc)

    threads = [threading.Thread(target=work, args=(pw,)) for pw in ("secret", "secret", "bad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sum(isinstance(r, StreamUris) and r.main == ipycam.main_url for r in results) == 2
    assert sum(isinstance(r, CameraAuthError) for r in results) == 1


async def test_resolve_helper_refuses_a_running_loop(ipycam: IpycamPeer) -> None:
    with pytest.raises(RuntimeError):
        resolve_stream_uris("cam1", ipycam.address, "op", "secret")
    await asyncio.sleep(0)
