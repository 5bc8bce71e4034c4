"""Where the audit trail's HMAC key and its head mirror live: never in the database.

Someone who can write ``centrale.db`` must not be able to recompute the chain, so the key
is kept elsewhere (docs/design/audit-trail.md, "Key storage"). First match wins:

1. ``CENTRALE_AUDIT_KEY`` (hex, at least 32 bytes) — for services started by systemd or a
   container, with the secret in the unit's credentials; read-only, never created here.
2. The system keyring, service ``centrale-audit``, username = the data directory's absolute
   path, when it holds a key.
3. The key file ``audit.key`` (mode 0600) in the key directory passed in, when it exists.
4. Otherwise a new random key is created — in the keyring when a real keyring backend is
   usable, else in the key file — but only if the caller says the trail is empty
   (``create=True``): a new key for an existing trail would break its chain.

Next to the key sits the *head mirror*: the last entry's id and MAC, rewritten after every
append, so that removing the newest entries (and the ``audit_head`` row with them) shows.
With the keyring it is a second keyring item (username + ``#head``); otherwise the file
``audit.head`` in the key directory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail

from registry.errors import CentraleError
from registry.i18n import N_
from registry.keystore import system_keyring

KEYRING_SERVICE: Final = "centrale-audit"
KEY_ENV: Final = "CENTRALE_AUDIT_KEY"
KEY_FILE: Final = "audit.key"
HEAD_FILE: Final = "audit.head"
KEY_BYTES: Final = 32

KeySource = Literal["env", "keyring", "file"]


class AuditKeyError(CentraleError):
    """The audit key cannot be found, read or created."""

    title = N_("Audit key problem")


@dataclass(frozen=True, slots=True)
class MirroredHead:
    """The newest entry as last written outside the database."""

    last_id: int
    last_mac: str


class HeadMirror(Protocol):
    """A copy of the chain's head kept where the database's writer cannot reach."""

    def load(self) -> MirroredHead | None: ...

    def save(self, head: MirroredHead) -> None: ...


def _encode(head: MirroredHead) -> str:
    return f"{head.last_id}:{head.last_mac}"


def _decode(text: str | None) -> MirroredHead | None:
    if not text:
        return None
    last_id, _, mac = text.strip().partition(":")
    try:
        return MirroredHead(int(last_id), mac)
    except ValueError:
        return MirroredHead(-1, text.strip())  # unreadable: verify reports it


class FileHeadMirror:
    """The head in a small file (mode 0600), replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> MirroredHead | None:
        try:
            return _decode(self.path.read_text(encoding="ascii"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise AuditKeyError(f"cannot read the audit head mirror {self.path}: {e}") from e

    def save(self, head: MirroredHead) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(_encode(head))
            os.replace(tmp, self.path)
        except OSError as e:
            raise AuditKeyError(f"cannot write the audit head mirror {self.path}: {e}") from e


class KeyringHeadMirror:
    """The head as a second keyring item next to the key."""

    def __init__(self, backend: keyring.backend.KeyringBackend, username: str) -> None:
        self.backend = backend
        self.username = username

    def load(self) -> MirroredHead | None:
        try:
            return _decode(self.backend.get_password(KEYRING_SERVICE, self.username))
        except keyring.errors.KeyringError as e:
            raise AuditKeyError(f"cannot read the audit head from the keyring: {e}") from e

    def save(self, head: MirroredHead) -> None:
        try:
            self.backend.set_password(KEYRING_SERVICE, self.username, _encode(head))
        except keyring.errors.KeyringError as e:
            raise AuditKeyError(f"cannot write the audit head to the keyring: {e}") from e


@dataclass(frozen=True)
class AuditKey:
    """The key, where it came from, and the head mirror that goes with it."""

    key: bytes
    source: KeySource
    mirror: HeadMirror

    def __repr__(self) -> str:  # never print the key
        return f"AuditKey(source={self.source!r}, mirror={self.mirror!r})"


def keyring_usable(backend: keyring.backend.KeyringBackend) -> bool:
    """False for the "no backend" keyring, backends that refuse to work at all, and those
    that would prompt on the terminal."""
    return system_keyring(backend) is not None


def _parse_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as e:
        raise AuditKeyError(f"the audit key in {where} is not hexadecimal") from e
    if len(key) < KEY_BYTES:
        raise AuditKeyError(
            f"the audit key in {where} is too short: {len(key)} bytes, at least {KEY_BYTES}"
        )
    return key


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise AuditKeyError(
            f"the audit key file {path} can be read by other users (mode {mode & 0o777:o}): "
            f"run chmod 600 {path}"
        )
    return _parse_hex(path.read_text(encoding="ascii"), str(path))


def _create_key_file(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def load_audit_key(
    data_dir: Path,
    key_dir: Path,
    *,
    create: bool,
    environ: Mapping[str, str] | None = None,
    backend: keyring.backend.KeyringBackend | None = None,
) -> AuditKey:
    """Find (or, with *create*, make) the audit key for the database in *data_dir*.

    *key_dir* holds ``audit.key``/``audit.head`` when the keyring is not used; it must not
    be the data directory. *backend* defaults to the system keyring (registry/keystore.py).
    """
    data_dir = Path(data_dir).resolve()
    key_dir = Path(key_dir).resolve()
    if key_dir == data_dir:
        raise AuditKeyError(
            f"the audit key directory must not be the data directory ({data_dir}): whoever "
            "can write the database could then rewrite the chain"
        )
    env = os.environ if environ is None else environ
    username = str(data_dir)
    key_path = key_dir / KEY_FILE
    file_mirror = FileHeadMirror(key_dir / HEAD_FILE)

    if env.get(KEY_ENV):
        return AuditKey(_parse_hex(env[KEY_ENV], KEY_ENV), "env", file_mirror)

    found = system_keyring(backend)  # never one that would prompt on the terminal
    usable = found is not None
    kr: keyring.backend.KeyringBackend = (
        found if found is not None else fail.Keyring()  # type: ignore[no-untyped-call]
    )
    keyring_problem: Exception | None = None
    if usable:
        try:
            stored = kr.get_password(KEYRING_SERVICE, username)
        except keyring.errors.KeyringError as e:
            stored, keyring_problem = None, e
        if stored:
            return AuditKey(
                _parse_hex(stored, f"the keyring ({KEYRING_SERVICE})"), "keyring",
                KeyringHeadMirror(kr, username + "#head"),
            )

    try:
        if key_path.exists():
            return AuditKey(_read_key_file(key_path), "file", file_mirror)
        if keyring_problem is not None:
            raise AuditKeyError(
                f"the keyring cannot be read ({keyring_problem}) and there is no {key_path}: "
                "unlock the keyring or set " + KEY_ENV
            )
        if not create:
            raise AuditKeyError(
                f"no audit key for {data_dir}: not in the keyring ({KEYRING_SERVICE}), "
                f"not in {key_path}, and {KEY_ENV} is not set. Without the key the audit "
                "trail cannot be verified or extended; restore it from the backup."
            )
        if usable:
            key = secrets.token_bytes(KEY_BYTES)
            try:
                kr.set_password(KEYRING_SERVICE, username, key.hex())
            except keyring.errors.KeyringError:
                pass  # fall back to the key file below
            else:
                return AuditKey(key, "keyring", KeyringHeadMirror(kr, username + "#head"))
        return AuditKey(_create_key_file(key_path), "file", file_mirror)
    except OSError as e:
        raise AuditKeyError(f"cannot read or create the audit key {key_path}: {e}") from e
