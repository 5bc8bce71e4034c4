"""``centrale export``, ``export verify`` and ``media`` as an operator types them, on a real
recording: exit 0 with a package, 2 on bad input with nothing signed, verify 0/1, the
removable-media lifecycle."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import pyzipper
from cli_support import Run, cli_with_supervisor
from peers import GstRtspPeer
from test_export_support import record

from registry.store import Store
from registry.store_footage import FootageStore

pytestmark = pytest.mark.peers
PW = "Primo-Comando-77"
PACKAGE_PW = "Consegna-Procura-2026"
CONFIG = """
[site]
comune = "Lumezzane"
control_room = "Centrale operativa Polizia Locale"
timezone = "Europe/Rome"

[[cameras]]
id = "cam1"
name = "Piazza – dome"
place = "Piazza Università"
main_url = "rtsp://127.0.0.1:9/main"
"""


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:  # fmt: skip
    monkeypatch.setenv("CENTRALE_EXPORT_PASSWORD", PACKAGE_PW)
    return cli_with_supervisor(tmp_path, monkeypatch, capsys, CONFIG, PW)


def entries(data: Path) -> int:
    with Store.open(data) as s:
        return int(s.fetch_one("SELECT COUNT(*) FROM register_entry")[0])


def test_export_verify_and_media_from_the_command_line(
    run: Run, gst_rtsp: GstRtspPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    out.mkdir()
    record(gst_rtsp, data, ("cam1",), 2)
    with Store.open(data) as s:
        t0 = FootageStore(s).segments(camera="cam1")[0].start_at
    start, end = t0 + timedelta(seconds=1), t0 + timedelta(seconds=4)
    args = ["export", "cam1", "--from", start.isoformat(), "--to", end.isoformat(),
            "--purpose", "police_investigation", "--authorization", "Decreto PM 12/26",
            "--recipient", "judicial_authority", "--recipient-name", "Procura di Brescia",
            "--out", str(out), "--as", "capo", "--password-stdin"]  # fmt: skip

    # bad input: exit 2, a message naming the problem, nothing signed, nothing written
    def bad(*changes: str) -> str:
        argv = list(args)
        for i in range(0, len(changes), 2):
            if changes[i] in argv:
                j = argv.index(changes[i])
                del argv[j:j + 2]
            if changes[i + 1]:
                argv += [changes[i], changes[i + 1]]
        code, _out, err = run(*argv)
        assert code == 2, err
        return err

    err = run(*[a if a != "cam1" else "nowhere" for a in args])
    assert err[0] == 2 and "no configured camera nowhere" in err[2]
    assert "outside the recordings of cam1" in bad("--from", (t0 - timedelta(hours=3))
                                                   .isoformat(), "--to", (t0 - timedelta(
                                                       hours=2)).isoformat())  # fmt: skip
    assert "--recipient-name is required" in bad("--recipient-name", "")
    assert "--recipient: 'judge'" in bad("--recipient", "judge")
    assert "not a time" in bad("--from", "yesterday")
    assert "--out: the folder" in bad("--out", str(tmp_path / "missing"))
    assert entries(data) == 0 and list(out.iterdir()) == []

    code, stdout, err = run(*args)
    assert code == 0, err
    assert "Package written:" in stdout
    [package] = list(out.iterdir())
    assert package.name.endswith("_Piazza-Universita_cam1.zip")
    assert entries(data) == 1

    code, stdout, _err = run("export", "verify", str(package))
    assert code == 0 and "OK: the clip matches its manifest." in stdout
    assert "Camera: cam1 - Piazza – dome - Piazza Università" in stdout
    monkeypatch.setenv("CENTRALE_EXPORT_PASSWORD", "Not-The-Password-1")
    code, _out, err = run("export", "verify", str(package))
    assert code == 2 and "wrong password" in err
    monkeypatch.setenv("CENTRALE_EXPORT_PASSWORD", PACKAGE_PW)

    # a modified clip, repacked with the same manifest and password: verify says so
    forged = tmp_path / "forged.zip"
    with pyzipper.AESZipFile(package) as src, pyzipper.AESZipFile(
        forged, "w", compression=pyzipper.ZIP_STORED, encryption=pyzipper.WZ_AES
    ) as dst:  # fmt: skip
        src.setpassword(PACKAGE_PW.encode())
        dst.setpassword(PACKAGE_PW.encode())
        for name in src.namelist():
            body = bytearray(src.read(name))
            if name.endswith(".mp4"):
                body[len(body) // 2] ^= 0x01  # one bit of one picture
            dst.writestr(name, bytes(body))
    code, stdout, _err = run("export", "verify", str(forged))
    assert code == 1 and "the clip was changed" in stdout

    # removable media: listed on disk, copied, delivered; a delivered copy is final
    code, stdout, _err = run("media", "list", "--as", "capo", "--password-stdin")
    assert code == 0 and package.name in stdout and "on disk" in stdout
    assert run("media", "copied", "1", "--medium", "chiavetta USB n. 3", "--as", "capo",
               "--password-stdin")[0] == 0  # fmt: skip
    code, stdout, _err = run("media", "delivered", "1", "--to", "Isp. Verdi, Procura",
                             "--as", "capo", "--password-stdin")  # fmt: skip
    assert code == 0 and "delivered" in stdout
    code, _out, err = run("media", "destroyed", "1", "--note", "x", "--as", "capo",
                          "--password-stdin")  # fmt: skip
    assert code == 2 and "cannot become destroyed" in err
    code, stdout, _err = run("media", "list", "--all", "--as", "capo", "--password-stdin")
    assert "Isp. Verdi, Procura" in stdout
