"""The peer harness itself: processes die with their children, come back on the same
ports, and a missing peer environment fails loudly (or skips when asked to)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import av
import pytest
from peers import REPO, IpycamPeer, group_members, group_states, port_open, wait_until


@pytest.mark.peers
def test_kill_takes_the_ffmpeg_children_and_restart_reuses_ports(ipycam: IpycamPeer) -> None:
    pgid = ipycam.process.pid
    assert pgid is not None
    # a client makes ipycam start an ffmpeg encoder in the same process group
    with av.open(ipycam.sub_url, options={"rtsp_transport": "tcp"}, timeout=(5, 5)) as c:
        next(c.demux(c.streams.video[0]))
        assert wait_until(lambda: len(group_members(pgid)) >= 2, 5) is not None
        ipycam.kill()
    assert wait_until(lambda: not group_members(pgid), 5) is not None
    assert not port_open(ipycam.onvif_port) and not port_open(ipycam.rtsp_port)

    t0 = time.monotonic()
    ipycam.restart()
    assert time.monotonic() - t0 < 10
    assert ipycam.alive() and ipycam.process.pid != pgid
    assert port_open(ipycam.onvif_port) and port_open(ipycam.rtsp_port)


@pytest.mark.peers
def test_freeze_stops_the_whole_group(ipycam: IpycamPeer) -> None:
    ipycam.freeze()
    pgid = ipycam.process.pid
    assert pgid is not None
    states = group_states(pgid)
    assert len(states) >= 1 and set(states.values()) == {"T"}, states
    ipycam.thaw()
    assert wait_until(lambda: port_open(ipycam.onvif_port), 2) is not None


def _run_peer_test(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_device_peers.py", "-k", "right_password"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_missing_peer_environment_fails_with_the_fix() -> None:
    res = _run_peer_test({"CENTRALE_PEERS_VENV": "/nonexistent/venv", "CENTRALE_SKIP_PEERS": ""})
    assert res.returncode == 1, res.stdout
    assert "scripts/setup-peers.sh" in res.stdout
    assert "/nonexistent/venv does not exist" in res.stdout


def test_missing_peer_environment_skips_when_asked() -> None:
    res = _run_peer_test({"CENTRALE_PEERS_VENV": "/nonexistent/venv", "CENTRALE_SKIP_PEERS": "1"})
    assert res.returncode == 0, res.stdout
    assert "1 skipped" in res.stdout
