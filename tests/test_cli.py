"""The command line, data/config paths and the log file.

``check-config`` runs both in process (``main()`` with capsys) and as the installed
``centrale`` script in a subprocess; keyrings are real backends (a file keyring, the fail
backend).
"""

from __future__ import annotations

import getpass
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from keyrings.alt.file import PlaintextKeyring

from cameras.credentials import KEYRING_SERVICE
from console import cli
from console.logsetup import configure_logging, log_path
from console.paths import resolve_config_path, resolve_data_dir
from registry import i18n

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "config"
SAMPLE = ROOT / "config.toml"
SCRIPT = Path(sys.executable).with_name("centrale")

# fixture -> (key path, line) of its first issue
INVALID = {
    "unknown_top_level_key": ("recording", 4),
    "unknown_site_key": ("site.colour", 3),
    "unknown_camera_key": ("cameras[1].zoom", 15),
    "wrong_type": ("ui.idle_lock_minutes", 6),
    "bad_kind": ("cameras[1].kind", 14),
    "missing_required_key": ("cameras[0].place", 4),
    "missing_site_comune": ("site.comune", 4),
    "duplicate_camera_id": ("cameras[2].id", 18),
    "onvif_and_main_url": ("cameras[0].main_url", 10),
    "no_source": ("cameras[0]", 4),
    "sub_url_without_main_url": ("cameras[0].sub_url", 8),
    "password_in_url": ("cameras[0].main_url", 9),
    "bad_timezone": ("site.timezone", 4),
    "grid_layout_not_allowed": ("ui.grid_layout", 6),
}

CENTRALE_VARS = ("CENTRALE_CONFIG", "CENTRALE_DATA_DIR", "CENTRALE_LANG")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own data dir, no CENTRALE_* variables, cwd without config.toml; logging restored."""
    for name in CENTRALE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CENTRALE_LANG", "en")  # messages asserted below are the English ids
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)
    i18n.set_language("en")


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# check-config
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(INVALID))
def test_check_config_reports_key_path_and_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--lang", "en", "check-config", str(FIXTURES / f"{name}.toml")])
    out, err = capsys.readouterr()
    key_path, line = INVALID[name]
    assert code == 2
    assert any(row.startswith(f"  {key_path} (line {line}): ") for row in err.splitlines())
    assert "Traceback" not in out + err
    assert out == ""


def test_check_config_lists_every_issue(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--lang", "en", "check-config", str(FIXTURES / "several_errors.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("several_errors.toml")
    assert [line.split(" (")[0].strip() for line in err[1:]] == [
        "site.timezone",
        "ui.grid_layout",
        "cameras[0].id",
        "cameras[0].main_url",
    ]


def test_check_config_syntax_error_as_a_subprocess() -> None:
    result = run_script("--lang", "en", "check-config", str(FIXTURES / "syntax_error.toml"))
    assert result.returncode == 2
    assert "line 5, column 15: TOML syntax error" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["empty", "only_comments"])
def test_check_config_empty_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--lang", "en", "check-config", str(FIXTURES / f"{name}.toml")]) == 2
    err = capsys.readouterr().err
    assert "the file is empty" in err
    assert "Traceback" not in err


def test_check_config_missing_file_as_a_subprocess(tmp_path: Path) -> None:
    result = run_script("check-config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "not found" in result.stderr
    assert str(tmp_path / "nope.toml") in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_check_config_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--lang", "en", "check-config", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_sample_config_passes_as_a_subprocess() -> None:
    result = run_script("--lang", "en", "check-config", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "Configuration OK" in result.stdout
    assert "Lumezzane" in result.stdout
    assert "4 cameras (1 disabled)" in result.stdout
    assert result.stderr == ""


def test_sample_config_passes_in_italian(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--lang", "it", "check-config", str(SAMPLE)]) == 0
    assert "Lumezzane" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", str(SAMPLE), "check-config"],
        ["check-config", "--config", str(SAMPLE)],
        ["--config", "/nonexistent.toml", "check-config", str(SAMPLE)],
    ],
)
def test_config_option_before_or_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 0
    assert str(SAMPLE) in capsys.readouterr().out


def test_config_from_environment_and_cwd(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CENTRALE_CONFIG", str(SAMPLE))
    assert cli.main(["check-config"]) == 0
    monkeypatch.delenv("CENTRALE_CONFIG")
    (isolated / "config.toml").write_text('[site]\ncomune = "Qui"\n')
    assert cli.main(["check-config"]) == 0
    assert "Qui" in capsys.readouterr().out


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["no-such-command"], ["--lang", "de", "check-config"], ["camera"]):
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_console_without_config_suggests_the_demo() -> None:
    result = run_script("--lang", "en")
    assert result.returncode == 2
    assert "centrale --demo" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------
# camera set-password
# --------------------------------------------------------------------------------------------


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _answers(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """The operator typing at the getpass prompts; returns the prompts shown."""
    prompts: list[str] = []
    replies = iter(answers)

    def fake_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    return prompts


def test_set_password_stores_in_the_keyring(
    file_keyring: PlaintextKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CENTRALE_CAMERA_PASSWORD_VIA_MONSUELLO", raising=False)
    prompts = _answers(monkeypatch, "Pa55word!", "Pa55word!")
    argv = ["--lang", "en", "--config", str(SAMPLE), "camera", "set-password", "via-monsuello"]
    assert cli.main(argv) == 0
    assert len(prompts) == 2 and "via-monsuello" in prompts[0]
    assert file_keyring.get_password(KEYRING_SERVICE, "via-monsuello") == "Pa55word!"
    out = capsys.readouterr().out
    assert "Password stored" in out and "Pa55word" not in out


@pytest.mark.parametrize(
    ("answers", "message"),
    [(("a", "b"), "do not match"), (("",), "empty password")],
)
def test_set_password_mismatch_or_empty(
    answers: tuple[str, ...],
    message: str,
    file_keyring: PlaintextKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _answers(monkeypatch, *answers)
    argv = ["--lang", "en", "--config", str(SAMPLE), "camera", "set-password", "via-monsuello"]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert file_keyring.get_password(KEYRING_SERVICE, "via-monsuello") is None


def test_set_password_unknown_camera(
    file_keyring: PlaintextKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(SAMPLE), "camera", "set-password", "nope"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "piazza-zanardelli" in err


def test_set_password_without_keyring_as_a_subprocess() -> None:
    result = run_script(
        "--lang", "en", "--config", str(SAMPLE), "camera", "set-password", "via-monsuello",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "No credential store" in result.stderr
    assert "CENTRALE_CAMERA_PASSWORD_VIA_MONSUELLO" in result.stderr
    assert "Password for camera" not in result.stderr + result.stdout  # no prompt first
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def test_data_dir_precedence(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = resolve_data_dir(None)
    assert default == isolated / "xdg-data" / "centrale"
    monkeypatch.setenv("CENTRALE_DATA_DIR", str(isolated / "from-env"))
    assert resolve_data_dir(None) == isolated / "from-env"
    assert resolve_data_dir(str(isolated / "from-cli")) == isolated / "from-cli"
    for path in (default, isolated / "from-env", isolated / "from-cli"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_data_dir_option_wins_in_the_cli(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTRALE_DATA_DIR", str(isolated / "from-env"))
    assert cli.main(["--data-dir", str(isolated / "from-cli"), "check-config", str(SAMPLE)]) == 0
    assert log_path(isolated / "from-cli").is_file()
    assert not (isolated / "from-env").exists()


def test_existing_data_dir_keeps_its_mode(isolated: Path) -> None:
    shared = isolated / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    assert resolve_data_dir(str(shared)) == shared
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750


def test_data_dir_that_is_a_file(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated / "afile").write_text("")
    assert (
        cli.main(
            ["--lang", "en", "--data-dir", str(isolated / "afile"), "check-config", str(SAMPLE)]
        )
        == 2
    )
    assert "not a directory" in capsys.readouterr().err


def test_config_path_precedence(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config_path(None) == isolated / "xdg-config" / "centrale" / "config.toml"
    (isolated / "config.toml").write_text("")
    assert resolve_config_path(None) == isolated / "config.toml"
    monkeypatch.setenv("CENTRALE_CONFIG", "/etc/centrale/config.toml")
    assert resolve_config_path(None) == Path("/etc/centrale/config.toml")
    assert resolve_config_path("other.toml") == Path("other.toml")


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


def test_log_goes_to_file_with_passwords_redacted(
    isolated: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = configure_logging(isolated / "data")
    assert path == isolated / "data" / "logs" / "centrale.log"
    log = logging.getLogger("cameras.test")
    log.warning("opening %s", "rtsp://admin:S3cret!@10.0.0.1:554/main")
    log.info("reconnect to rtsp://admin:S3cret!@10.0.0.1:554/sub failed")
    try:
        raise ConnectionError("cannot open rtsp://admin:S3cret!@10.0.0.1/main")
    except ConnectionError:
        log.exception("stream lost")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "S3cret" not in text
    assert text.count("admin:***@10.0.0.1") >= 3
    assert "ConnectionError" in text
    out, err = capfd.readouterr()
    assert out == err == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_onvif_import_after_setup_prints_nothing(isolated: Path) -> None:
    code = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from console.logsetup import configure_logging\n"
        "path = configure_logging(Path(sys.argv[1]))\n"
        "import onvif\n"
        "logging.getLogger('onvif').warning('hello rtsp://u:pw@h/x')\n"
        "print(path.read_text(), end='')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(isolated / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "hello rtsp://u:***@h/x" in result.stdout
