"""The system keyring, only when it can answer without asking anybody anything.

``keyring.get_keyring()`` may hand back a backend that prompts on the terminal for a
master password: keyrings.alt's ``EncryptedKeyring`` does, and the test tools install it. In
the console that prompt would appear under (or instead of) the user interface, and in the
recorder service there is nobody to answer it. So every use of the keyring in Centrale goes
through :func:`system_keyring`, which drops such backends (from a chain of backends too) and
returns ``None`` when nothing non-interactive is left; callers then fall back to their
documented alternative (key file, environment variable) and say so.
"""

from __future__ import annotations

import contextlib

import keyring
import keyring.backend
from keyring.backends import chainer, fail

#: backends that ask for a password on the terminal when first used
_INTERACTIVE = frozenset({"keyrings.alt.file.EncryptedKeyring"})


def _name(backend: keyring.backend.KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _works(backend: keyring.backend.KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring) or _name(backend) in _INTERACTIVE:
        return False
    with contextlib.suppress(Exception):  # some backends compute their priority lazily
        return float(backend.priority) > 0
    return False


def system_keyring(
    backend: keyring.backend.KeyringBackend | None = None,
) -> keyring.backend.KeyringBackend | None:
    """The keyring to use (*backend* or the configured one), or ``None`` when there is none
    that works without prompting."""
    chosen = keyring.get_keyring() if backend is None else backend
    if isinstance(chosen, chainer.ChainerBackend):
        usable = [b for b in chosen.backends if _works(b)]
        if not usable:
            return None
        if len(usable) == len(chosen.backends):
            return chosen
        first: keyring.backend.KeyringBackend = usable[0]  # the chain is by priority
        return first
    return chosen if _works(chosen) else None


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    return _name(backend)
