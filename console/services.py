"""The one place the console and the CLI open the database, the audit trail and the accounts.

``open_services(data_dir, config)`` gives a :class:`Services`; ``close()`` releases the
database. The audit trail's key lives outside the data directory (registry/audit_key.py):
``$CENTRALE_AUDIT_KEY``, the system keyring, or ``audit.key`` in the key directory, which is
``$CENTRALE_KEY_DIR`` or else the user's configuration directory (``~/.config/centrale``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import platformdirs

from console.config import AuditConfig, CentraleConfig, SecurityConfig
from console.paths import APP_NAME
from registry.accounts import Accounts
from registry.audit import AuditTrail, VerifyResult, open_audit_trail
from registry.audit_key import AuditKeyError
from registry.clock import utc_now
from registry.passwords import DEFAULT_HASHING, HashParameters, PasswordPolicy
from registry.store import DB_FILE, Store

KEY_DIR_ENV: Final = "CENTRALE_KEY_DIR"

#: argon2 cost of new hashes. Production keeps the default; the test suite lowers it here
#: (monkeypatch) so that CLI tests stay fast. Old hashes verify whatever this is.
HASHING: HashParameters = DEFAULT_HASHING


def key_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``audit.key`` and ``audit.head`` live when the keyring is not used."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_DIR_ENV)
    if value:
        return Path(value).expanduser().absolute()
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def database_exists(data_dir: Path) -> bool:
    return (Path(data_dir) / DB_FILE).is_file()


@dataclass
class Services:
    """What the console and the admin commands share, opened once, closed once."""

    store: Store
    audit: AuditTrail
    accounts: Accounts
    policy: PasswordPolicy
    data_dir: Path
    config: CentraleConfig | None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_services(
    data_dir: Path,
    config: CentraleConfig | None,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
    workstation: str | None = None,
) -> Services:
    """Open (creating and migrating if needed) the database in *data_dir*, its audit trail
    and the accounts service, with *config*'s ``[security]`` and ``[audit]`` (the strict
    defaults when there is no configuration file, e.g. at ``centrale init``).

    Raises :class:`~registry.store.StoreError` and
    :class:`~registry.audit_key.AuditKeyError` (no key for an existing trail).
    """
    security = config.security if config is not None else SecurityConfig()
    audit_config = config.audit if config is not None else AuditConfig()
    policy = security.policy(HASHING)
    keys = key_dir(environ)
    store = Store.open(data_dir)
    try:
        try:
            # The head mirror is written there even when the key comes from the environment.
            keys.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise AuditKeyError(f"cannot create the audit key directory {keys}: {e}") from e
        audit = open_audit_trail(store, data_dir, keys, environ=environ, clock=clock)
        # Never below the legal minimum: AuditTrail refuses that itself.
        audit.min_retention_months = max(audit.min_retention_months,
                                         audit_config.retention_months)
        accounts = Accounts(store, audit, policy, clock,
                            workstation=socket.gethostname() if workstation is None
                            else workstation)
    except BaseException:
        store.close()
        raise
    return Services(store, audit, accounts, policy, Path(data_dir), config)


def verify_in_subprocess(data_dir: Path, config_path: Path | None = None,
                         timeout_s: float = 600.0) -> VerifyResult:
    """Verify the audit chain in a separate process (``centrale audit verify --json``).

    Verifying is pure Python; in a thread of the console it holds the interpreter lock so
    often that keys took ~2 s to answer during a 1M-entry check. A child process finds the
    same key (same environment, keyring and key directory) and leaves the UI alone.
    """
    command = [sys.executable, "-m", "console.cli", "--data-dir", str(data_dir)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    command += ["audit", "verify", "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return _unverified(str(e))
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        return VerifyResult(bool(answer["ok"]), int(answer["checked"]),
                            answer["first_bad_id"], str(answer["reason"]))
    except (ValueError, KeyError, IndexError, TypeError):
        return _unverified(done.stderr.strip() or f"exit code {done.returncode}")


def _unverified(detail: str) -> VerifyResult:
    # Not knowing is not "intact": the screen shows the chain as unverified.
    return VerifyResult(False, 0, None, f"the check could not run: {detail}")
