"""``centrale recorder`` as a real process against the GStreamer peer: records, purges,
stops cleanly on SIGTERM, and refuses to run twice on one data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from peers import REPO, GstRtspPeer, wait_until

from footage.index import FootageIndex, RecorderLock, RecorderRunning
from footage.service import RecorderService
from registry.audit import AuditTrail
from registry.store import Store
from registry.store_footage import FootageStore

CONFIG = """
[site]
comune = "Valdemo"

[streams]
open_timeout_s = 2
read_timeout_s = 2

[[cameras]]
id = "piazza"
name = "Piazza"
place = "Piazza Grande"
main_url = "{url}"

[[cameras]]
id = "spenta"
name = "Not recorded"
place = "Via Roma"
main_url = "{url}"
record = false
"""


def segments(data: Path) -> int:
    with Store.open(data) as s:
        return len(FootageStore(s).segments())


@pytest.mark.peers
def test_recorder_process_records_purges_and_stops_cleanly_on_sigterm(
    gst_rtsp: GstRtspPeer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=gst_rtsp.main_url))
    env = {**os.environ, "CENTRALE_AUDIT_KEY": "ef" * 32, "CENTRALE_KEY_DIR": str(tmp_path),
           "CENTRALE_LANG": "en"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), "--config", str(config),
         "recorder", "--segment-seconds", "2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: (data / "centrale.db").exists() and segments(data) >= 2, 20)
        assert not RecorderLock(data).acquire()  # the running recorder holds the lock
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    with Store.open(data) as s:
        fs = FootageStore(s)
        assert fs.unfinished() == []  # the open segment was closed, not left half-written
        assert {seg.camera for seg in fs.segments()} == {"piazza"}  # record = false: nothing
        assert FootageIndex(data, fs).check() == []
        health = fs.health("piazza")
        assert health is not None and health.state == "stopped"
        assert fs.health("spenta") is None
        trail = AuditTrail(s, bytes.fromhex("ef" * 32))
        actions = [e.action for e in trail.entries()]
        assert actions[0] == "recorder.start" and actions[-1] == "recorder.stop"
        assert "retention.purge" in actions  # a pass at start: a receipt even when empty
        assert trail.verify().ok


def test_a_second_service_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        trail = AuditTrail(s, b"k" * 32)
        first = RecorderService(tmp_path, [], FootageStore(s), trail)
        first.start()
        try:
            second = RecorderService(tmp_path, [], FootageStore(s), trail)
            with pytest.raises(RecorderRunning):
                second.start()
        finally:
            first.stop()
        assert RecorderLock(tmp_path).acquire()
