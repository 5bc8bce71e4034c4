"""``centrale init``, ``centrale users …`` and ``centrale audit verify`` through
``console.cli.main`` on real database files, with the audit key in a key directory
(``CENTRALE_KEY_DIR``, no keyring) or in ``CENTRALE_AUDIT_KEY``.

Passwords come from patched ``getpass``/``input`` (the person typing) or from a patched
``sys.stdin`` (``--password-stdin``). Hashes use cheap argon2 parameters.
"""

from __future__ import annotations

import builtins
import getpass
import io
import logging
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from console import cli, services
from console.config import load_config
from console.services import open_services
from registry import i18n
from registry.audit import AuditEntry
from registry.audit_key import KEY_FILE
from registry.passwords import HashParameters
from registry.people import Outcome, Person

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
BOSS, BOSS_PW = "capo", "Primo-Comando-77"
NEW_PW = "Rosso-Primo-99x"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own data and key directories, no keyring, no config file, cheap hashes, English."""
    for name in ("CENTRALE_CONFIG", "CENTRALE_DATA_DIR", "CENTRALE_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CENTRALE_LANG", "en")
    monkeypatch.setenv("CENTRALE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(services, "HASHING", CHEAP)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    keyring.set_keyring(previous)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    i18n.set_language("en")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


class Run:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 data: Path) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.data = data
        self.prompts: list[str] = []

    def __call__(self, *argv: str, stdin: str | None = None,
                 typed: tuple[str, ...] = ()) -> tuple[int, str, str]:
        """Run ``centrale --data-dir DATA argv…``; *stdin* lines or *typed* answers to the
        prompts (getpass and input alike)."""
        answers = iter(typed)

        def answer(prompt: str = "", stream: object = None) -> str:
            self.prompts.append(prompt)
            return next(answers)

        self.monkeypatch.setattr(getpass, "getpass", answer)
        self.monkeypatch.setattr(builtins, "input", answer)
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        code = cli.main(["--data-dir", str(self.data), *argv])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        data: Path) -> Run:
    return Run(monkeypatch, capsys, data)


@pytest.fixture
def initialised(run: Run) -> Run:
    code, _out, _err = run("init", "--username", BOSS, "--name", "Capo Comando",
                           "--password-stdin", stdin=BOSS_PW + "\n")
    assert code == 0
    return run


def add(run: Run, username: str, role: str, password: str = NEW_PW) -> None:
    code, _out, err = run("users", "add", username, "--name", username.title(), "--role", role,
                          "--as", BOSS, "--password-stdin",
                          stdin=f"{BOSS_PW}\n{password}\n")
    assert code == 0, err


def person(data: Path, username: str) -> Person:
    with open_services(data, None) as s:
        found = s.accounts.people_store.get(username)
    assert found is not None
    return found


def trail(data: Path) -> list[AuditEntry]:
    with open_services(data, None) as s:
        return s.audit.entries()


# ---------------------------------------------------------------------- init


def test_init_interactive_creates_the_database_key_and_supervisor(
        run: Run, data: Path, tmp_path: Path) -> None:
    code, out, _err = run("init", typed=("capo", "Capo Comando", BOSS_PW, BOSS_PW))
    assert code == 0
    assert "first supervisor: capo (Capo Comando)" in out
    key = tmp_path / "keys" / KEY_FILE
    assert str(key) in out and "back it up" in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    boss = person(data, "capo")
    assert boss.role == "supervisore" and not boss.must_change_password
    entry = trail(data)[-1]
    assert (entry.actor, entry.action, entry.target) == ("centrale-init", "account_created",
                                                         "capo")


def test_init_refuses_when_people_exist(initialised: Run) -> None:
    code, _out, err = initialised("init", typed=("altro", "Altro Capo", BOSS_PW, BOSS_PW))
    assert code == 2 and "already has people" in err
    assert initialised.prompts == []  # refused before asking anything


@pytest.mark.parametrize(
    ("typed", "message"),
    [(("capo", "Capo Comando", BOSS_PW, "Altra-Parola-11"), "do not match"),
     (("Capo", "Capo Comando", BOSS_PW, BOSS_PW), "not a valid user name"),
     (("capo", "Capo Comando", "corta", "corta"), "at least 12 characters")],
)
def test_init_bad_input_exits_2_and_can_be_retried(run: Run, data: Path,
                                                   typed: tuple[str, ...],
                                                   message: str) -> None:
    code, _out, err = run("init", typed=typed)
    assert code == 2 and message in err
    assert run("init", "--username", BOSS, "--name", "Capo", "--password-stdin",
               stdin=BOSS_PW + "\n")[0] == 0


def test_init_password_stdin_needs_the_names(run: Run) -> None:
    code, _out, err = run("init", "--password-stdin", stdin=BOSS_PW + "\n")
    assert code == 2 and "--username and --name" in err


# ---------------------------------------------------------------------- users


def test_add_generates_a_temporary_password_shown_once(initialised: Run, data: Path) -> None:
    code, out, _err = initialised("users", "add", "m.rossi", "--name", "Mario Rossi",
                                  "--role", "operatore", "--level", "2", "--as", BOSS,
                                  typed=(BOSS_PW,))
    assert code == 0 and "Added m.rossi (Mario Rossi), role operatore, level 2." in out
    temporary = out.rsplit(": ", 1)[1].strip()
    assert len(temporary) == 16
    assert initialised.prompts == [f"Password for {BOSS}: "]
    with open_services(data, None) as s:
        first = s.accounts.sign_in("m.rossi", temporary)
    assert first.outcome is Outcome.MUST_CHANGE_PASSWORD
    actions = [(e.actor, e.action, e.target) for e in trail(data)]
    created = actions.index((BOSS, "account_created", "m.rossi"))
    assert actions[created - 1] == (BOSS, "login", BOSS)
    assert actions[created + 1] == (BOSS, "logout", BOSS)


def test_add_with_password_stdin_and_with_ask_password(initialised: Run, data: Path) -> None:
    add(initialised, "m.rossi", "operatore")
    with open_services(data, None) as s:
        assert s.accounts.sign_in("m.rossi", NEW_PW).outcome is Outcome.MUST_CHANGE_PASSWORD
    code, out, _err = initialised("users", "add", "l.neri", "--name", "Luca Neri", "--role",
                                  "operatore_esperto", "--as", BOSS, "--ask-password",
                                  typed=(BOSS_PW, NEW_PW, NEW_PW))
    assert code == 0 and "Temporary password" not in out
    assert person(data, "l.neri").role == "operatore_esperto"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("users", "add", "Mario", "--name", "M", "--role", "operatore"),
         "not a valid user name"),
        (("users", "add", "capo", "--name", "M", "--role", "operatore"), "already taken"),
        (("users", "disable", "nessuno"), "nobody called nessuno"),
    ],
)
def test_bad_arguments_exit_2(initialised: Run, argv: tuple[str, ...], message: str) -> None:
    code, _out, err = initialised(*argv, "--as", BOSS, "--password-stdin",
                                  stdin=f"{BOSS_PW}\n{NEW_PW}\n")
    assert code == 2 and message in err


@pytest.mark.parametrize(
    "argv",
    [
        ("users", "add", "m.rossi", "--name", "M", "--role", "capo", "--as", BOSS),
        ("users", "add", "m.rossi", "--role", "operatore", "--as", BOSS),
        ("users", "list"),
        ("users",),
        ("users", "frobnicate"),
        ("audit",),
        ("init", "--level", "3"),
    ],
)
def test_argparse_errors_exit_2(initialised: Run, argv: tuple[str, ...],
                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--data-dir", str(initialised.data), *argv])
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_password_stdin_with_too_few_lines(initialised: Run) -> None:
    code, _out, err = initialised("users", "add", "m.rossi", "--name", "M", "--role",
                                  "operatore", "--as", BOSS, "--password-stdin",
                                  stdin=BOSS_PW + "\n")
    assert code == 2 and "standard input ended" in err and "m.rossi" in err


def test_input_ended_at_a_prompt(initialised: Run,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def ended(prompt: str = "", stream: object = None) -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", ended)
    code = cli.main(["--data-dir", str(initialised.data), "users", "list", "--as", BOSS])
    assert code == 2


def test_wrong_actor_password_and_refusals_exit_1(initialised: Run, data: Path) -> None:
    code, _out, err = initialised("users", "list", "--as", BOSS, "--password-stdin",
                                  stdin="Sbagliata-000\n")
    assert code == 1 and "Sign-in failed" in err and "4 attempts left" in err
    add(initialised, "olga", "operatore")
    initialised("users", "passwd", "olga", "--password-stdin",
                stdin=f"{NEW_PW}\nTerza-Parola-2026x\n")
    code, _out, err = initialised("users", "add", "m.rossi", "--name", "M", "--role",
                                  "operatore", "--as", "olga", "--password-stdin",
                                  stdin=f"Terza-Parola-2026x\n{NEW_PW}\n")
    assert code == 1 and "Permission denied" in err
    assert any(e.action == "permission_refused" and e.actor == "olga" for e in trail(data))
    code, _out, err = initialised("users", "disable", BOSS, "--as", BOSS, "--password-stdin",
                                  stdin=BOSS_PW + "\n")
    assert code == 1 and "own account" in err


def test_maintenance_and_expired_accounts_cannot_act(initialised: Run) -> None:
    add(initialised, "tino", "tecnico")
    initialised("users", "passwd", "tino", "--password-stdin",
                stdin=f"{NEW_PW}\nSeconda-Parola-2026x\n")
    code, _out, err = initialised("users", "list", "--as", "tino", "--password-stdin",
                                  stdin="Seconda-Parola-2026x\n")
    assert code == 1 and "maintenance account" in err
    add(initialised, "amos", "amministratore")
    code, _out, err = initialised("users", "list", "--as", "amos", "--password-stdin",
                                  stdin=NEW_PW + "\n")
    assert code == 1 and "users passwd amos" in err


def test_list_shows_every_person_and_state(initialised: Run) -> None:
    add(initialised, "m.rossi", "operatore")
    add(initialised, "l.neri", "operatore_esperto")
    assert initialised("users", "disable", "l.neri", "--reason", "role_lost", "--as", BOSS,
                       "--password-stdin", stdin=BOSS_PW + "\n")[0] == 0
    code, out, _err = initialised("users", "list", "--as", BOSS, "--password-stdin",
                                  stdin=BOSS_PW + "\n")
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert header.split() == ["user", "name", "role", "level", "state", "last", "sign-in",
                              "password", "expires"]
    assert set(rule) <= {"-", " "}
    by_user = {row.split()[0]: row for row in rows}
    assert set(by_user) == {BOSS, "m.rossi", "l.neri"}
    assert "must change password" in by_user["m.rossi"] and "never" in by_user["m.rossi"]
    assert "disabled (the person no longer holds the role)" in by_user["l.neri"]
    assert "active" in by_user[BOSS] and "supervisore" in by_user[BOSS]


def test_disable_enable_and_passwords(initialised: Run, data: Path) -> None:
    add(initialised, "m.rossi", "operatore")
    code, out, _err = initialised("users", "disable", "m.rossi", "--as", BOSS,
                                  typed=(BOSS_PW,))
    assert code == 0 and "Disabled m.rossi" in out
    assert not person(data, "m.rossi").active
    code, out, _err = initialised("users", "enable", "m.rossi", "--as", BOSS,
                                  typed=(BOSS_PW,))
    assert code == 0 and "Temporary password for m.rossi" in out
    temporary = out.rsplit(": ", 1)[1].strip()
    assert person(data, "m.rossi").active
    # the person changes it themself (no --as): current, new, repeat
    code, out, _err = initialised("users", "passwd", "m.rossi",
                                  typed=(temporary, "Verde-Terza-11y", "Verde-Terza-11y"))
    assert code == 0 and "Password changed for m.rossi" in out
    assert not person(data, "m.rossi").must_change_password
    # a reset by the supervisor: to change again at the next sign-in
    code, _out, err = initialised("users", "passwd", "m.rossi", "--as", BOSS,
                                  "--password-stdin", stdin=f"{BOSS_PW}\n{NEW_PW}\n")
    assert code == 2 and "last 5 passwords" in err  # the history holds for resets too
    code, out, _err = initialised("users", "passwd", "m.rossi", "--as", BOSS,
                                  "--password-stdin", stdin=f"{BOSS_PW}\nQuarta-Parola-44z\n")
    assert code == 0 and "to be changed at the next sign-in" in out
    assert person(data, "m.rossi").must_change_password
    code, _out, err = initialised("users", "passwd", "m.rossi", "--password-stdin",
                                  stdin="Quarta-Parola-44z\nm.rossi-Password-1\n")
    assert code == 2 and "user name" in err
    code, _out, err = initialised("users", "passwd", "m.rossi", "--password-stdin",
                                  stdin=f"Sbagliata-000\n{NEW_PW}\n")
    assert code == 1 and "Wrong password" in err


def test_site_policy_from_config_applies(initialised: Run, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[site]\ncomune = "Lumezzane"\n[security]\nmin_length = 20\n',
                      encoding="utf-8")
    code, _out, err = initialised("--config", str(config), "users", "add", "m.rossi",
                                  "--name", "M", "--role", "operatore", "--as", BOSS,
                                  "--password-stdin", stdin=f"{BOSS_PW}\n{NEW_PW}\n")
    assert code == 2 and "at least 20 characters" in err
    code, _out, err = initialised("--config", str(tmp_path / "none.toml"), "users", "list",
                                  "--as", BOSS, "--password-stdin", stdin=BOSS_PW + "\n")
    assert code == 2 and "not found" in err  # an explicit config must exist


def test_commands_need_a_database(run: Run) -> None:
    for argv in (("audit", "verify"), ("users", "list", "--as", BOSS)):
        code, _out, err = run(*argv, stdin=BOSS_PW + "\n")
        assert code == 2 and "centrale init" in err


# ---------------------------------------------------------------------- audit verify


def tamper(data: Path, *statements: str) -> None:
    raw = sqlite3.connect(data / "centrale.db")
    raw.execute("DROP TRIGGER IF EXISTS audit_no_update")
    raw.execute("DROP TRIGGER IF EXISTS audit_delete_only_pruned")
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def test_audit_verify_intact_then_edited(initialised: Run, data: Path) -> None:
    add(initialised, "m.rossi", "operatore")
    code, out, _err = initialised("audit", "verify")
    count = len(trail(data))
    assert code == 0 and f"{count} entries checked" in out and "entries/s" in out
    tamper(data, "UPDATE audit SET actor = 'qualcuno' WHERE id = 3")
    code, _out, err = initialised("audit", "verify")
    assert code == 1 and "BROKEN at entry 3" in err and "altered" in err
    assert "2 entries checked before it" in err


def test_audit_verify_json_for_the_review_screen(initialised: Run, data: Path) -> None:
    import json

    code, out, _err = initialised("audit", "verify", "--json")
    result = json.loads(out)
    assert code == 0 and result["ok"] and result["checked"] == len(trail(data))
    tamper(data, "UPDATE audit SET action = 'x' WHERE id = 1")
    code, out, _err = initialised("audit", "verify", "--json")
    result = json.loads(out)
    assert code == 1 and not result["ok"] and result["first_bad_id"] == 1


def test_audit_verify_detects_a_deleted_entry(initialised: Run, data: Path) -> None:
    add(initialised, "m.rossi", "operatore")
    tamper(data, "DELETE FROM audit WHERE id = 2")
    code, _out, err = initialised("audit", "verify")
    assert code == 1 and "entry 2 is missing" in err


def test_audit_key_from_the_environment(monkeypatch: pytest.MonkeyPatch, run: Run,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("CENTRALE_AUDIT_KEY", "ab" * 32)
    assert run("init", "--username", BOSS, "--name", "Capo", "--password-stdin",
               stdin=BOSS_PW + "\n")[0] == 0
    assert not (tmp_path / "keys" / KEY_FILE).exists()
    assert run("audit", "verify")[0] == 0
    monkeypatch.setenv("CENTRALE_AUDIT_KEY", "cd" * 32)  # another key: nothing verifies
    code, _out, err = run("audit", "verify")
    assert code == 1 and "BROKEN at entry 1" in err and "another key" in err


def test_audit_verify_without_the_key_says_so(initialised: Run, tmp_path: Path) -> None:
    os.remove(tmp_path / "keys" / KEY_FILE)
    code, _out, err = initialised("audit", "verify")
    assert code == 1 and "no audit key" in err and "restore it from the backup" in err


def test_open_services_applies_the_configuration(tmp_path: Path, data: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[site]\ncomune = "Lumezzane"\n[security]\nmin_length = 16\n'
                           "[audit]\nretention_months = 12\n", encoding="utf-8")
    config = load_config(config_file)
    with open_services(data, config, workstation="ws-9") as s:
        assert s.policy.min_length == 16 and s.accounts.policy is s.policy
        assert s.policy.hashing == CHEAP
        assert s.audit.min_retention_months == 12
        assert s.accounts.workstation == "ws-9"
        assert s.data_dir == data and s.config is config
        s.audit.append("test", "probe")
    assert (tmp_path / "keys" / KEY_FILE).is_file()  # CENTRALE_KEY_DIR, no keyring
    with open_services(data, None) as s:  # the same key is found again
        assert s.audit.verify().ok and s.audit.min_retention_months == 6
