"""Shared fixtures.

Real peers (tests marked ``@pytest.mark.peers``): ``ipycam``, ``gst_rtsp`` and
``gst_rtsp_auth`` start one peer each per session on free 127.0.0.1 ports (see
``tests/peers.py``) and stop it, children included, at the end. A test that kills or freezes
a peer need not clean up: after every test the started peers are healed (thawed, restarted).

Without the peer environment a peers test fails and says to run ``scripts/setup-peers.sh``;
with ``CENTRALE_SKIP_PEERS=1`` it is skipped instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from peers import (
    SETUP_HINT,
    GstRtspPeer,
    IpycamPeer,
    environment_problems,
    make_window_video,
    start_gst_rtsp,
    start_ipycam,
)

from registry.i18n import set_language
from registry.store import Store

# --------------------------------------------------------------------------------------
# Language
# --------------------------------------------------------------------------------------


@pytest.fixture
def english() -> Iterator[None]:
    """English messages (the message ids the tests assert), and English again after.

    Not autouse: a module asks for it with ``pytestmark = pytest.mark.usefixtures("english")``.
    """
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def italian() -> Iterator[None]:
    """Italian, the console's default language, for snapshots; English (the process default
    that other modules' tests expect) after."""
    set_language("it")
    yield
    set_language("en")


# --------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in ``tmp_path`` (migrated), closed after the test.

    Modules that want it elsewhere (``tmp_path / "data"``) define their own ``store``.
    """
    s = Store.open(tmp_path)
    yield s
    s.close()


# --------------------------------------------------------------------------------------
# Real peers
# --------------------------------------------------------------------------------------

_started: list[IpycamPeer | GstRtspPeer] = []
PeerT = TypeVar("PeerT", IpycamPeer, GstRtspPeer)


def _skip_peers() -> bool:
    return os.environ.get("CENTRALE_SKIP_PEERS", "") not in ("", "0")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("peers") is None:
        return
    if _skip_peers():
        pytest.skip("CENTRALE_SKIP_PEERS is set")
    problems = environment_problems()
    if problems:
        pytest.fail(
            "camera peers are not installed: " + "; ".join(problems) + f". To fix: {SETUP_HINT}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _heal_peers() -> Iterator[None]:
    """After each test, bring back any peer that the test killed or froze."""
    yield
    for peer in _started:
        peer.heal()


def _tracked(peer: PeerT) -> Iterator[PeerT]:
    """Keep ``peer`` healed between tests and stop it, children included, at the end."""
    _started.append(peer)
    try:
        yield peer
    finally:
        _started.remove(peer)
        peer.stop()


@pytest.fixture(scope="session")
def ipycam() -> Iterator[IpycamPeer]:
    """ipycam camera: ONVIF auth op/secret, RTSP (no auth) playing car-detection.mp4."""
    yield from _tracked(start_ipycam(username="op", password="secret"))


@pytest.fixture(scope="session")
def ipycam_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpycamPeer]:
    """ipycam for PTZ tests (they move it): plays a grey street with a magenta window.

    Its own camera, so moving and zooming never disturb the tests that share ``ipycam``.
    """
    video = make_window_video(tmp_path_factory.mktemp("window") / "window.mp4")
    yield from _tracked(start_ipycam(username="op", password="secret", source=video,
                                     name="ipycam-window"))


@pytest.fixture(scope="session")
def gst_rtsp() -> Iterator[GstRtspPeer]:
    """GStreamer RTSP server without authentication."""
    yield from _tracked(start_gst_rtsp(name="gst"))


@pytest.fixture(scope="session")
def gst_rtsp_auth() -> Iterator[GstRtspPeer]:
    """GStreamer RTSP server with RTSP Basic auth viewer/s3cret."""
    yield from _tracked(start_gst_rtsp(username="viewer", password="s3cret", name="gst-auth"))
