"""``centrale`` run as an operator types it, for the command tests of several modules
(tests/ is not a package: import it as ``from cli_support import ...``)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from console import cli, services
from registry.passwords import HashParameters

#: ``run(*argv, stdin=password)`` -> (exit code, stdout, stderr)
Run = Callable[..., tuple[int, str, str]]


def cli_with_supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str], config: str,
                        password: str) -> Run:  # fmt: skip
    """The CLI on ``tmp_path / "data"`` with *config* as its configuration file, after
    ``centrale init`` made the supervisor ``capo`` with *password*.

    Hashes are cheap, the audit key comes from the environment and the key directory is the
    test's own, so nothing reaches the machine's keyring or home.
    """
    monkeypatch.setattr(services, "HASHING",
                        HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1))
    monkeypatch.setenv("CENTRALE_AUDIT_KEY", "cd" * 32)
    monkeypatch.setenv("CENTRALE_KEY_DIR", str(tmp_path / "keys"))
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    base = ["--data-dir", str(tmp_path / "data"), "--config", str(config_file), "--lang", "en"]

    def run(*argv: str, stdin: str = password) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin + "\n"))
        code = cli.main([*base, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("init", "--username", "capo", "--name", "Capo Comando",
               "--password-stdin")[0] == 0
    return run
