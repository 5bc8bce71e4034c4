"""Camera passwords: never in ``config.toml``.

A password comes from, first match wins:

1. the environment variable ``CENTRALE_CAMERA_PASSWORD_<ID>`` (id upper-cased, ``-`` becomes
   ``_``), for headless services (systemd ``Environment=`` or ``LoadCredential=``);
2. the system keyring, service ``centrale-camera``, user name = camera id.

``centrale camera set-password ID`` writes to the keyring. Without a usable keyring backend
:class:`CredentialStoreUnavailable` says what to do instead.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import quote, urlsplit, urlunsplit

import keyring
import keyring.backend
import keyring.errors

from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.keystore import system_keyring

log = logging.getLogger(__name__)

KEYRING_SERVICE = "centrale-camera"
ENV_PREFIX = "CENTRALE_CAMERA_PASSWORD_"

# scheme://user:password@  — the password may hold unencoded '@' (greedy up to the last '@'
# before the host part); only the password is replaced.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<password>[^/?#\s]*)@")


class CredentialError(CentraleError):
    """A camera credential could not be read or stored."""

    title = N_("Camera credentials")


class CredentialStoreUnavailable(CredentialError):
    """No usable keyring backend on this machine."""

    title = N_("No credential store")


def password_env_var(camera_id: str) -> str:
    """``CENTRALE_CAMERA_PASSWORD_<ID>`` for ``camera_id``."""
    return ENV_PREFIX + camera_id.upper().replace("-", "_")


def _unavailable(camera_id: str, reason: str | None = None) -> CredentialStoreUnavailable:
    message = _(
        "No usable keyring backend to keep camera passwords. Install and unlock a Secret "
        "Service (for example GNOME Keyring or KeePassXC), or, for headless services, set "
        "the environment variable {var}."
    ).format(var=password_env_var(camera_id))
    if reason:
        message += " (" + reason + ")"
    return CredentialStoreUnavailable(message)


def _usable_backend() -> keyring.backend.KeyringBackend | None:
    # never one that would prompt on the terminal (registry/keystore.py)
    return system_keyring()


def keyring_backend_name() -> str | None:
    """Name of the keyring backend in use, or ``None`` when there is none."""
    backend = _usable_backend()
    return None if backend is None else f"{type(backend).__module__}.{type(backend).__name__}"


def check_credential_store(camera_id: str) -> str:
    """Name of the usable keyring backend; :class:`CredentialStoreUnavailable` if none.

    For asking before prompting anybody for a password that could not be stored.
    """
    name = keyring_backend_name()
    if name is None:
        raise _unavailable(camera_id)
    return name


def get_camera_password(camera_id: str) -> str | None:
    """The password of ``camera_id``, or ``None`` when none is stored.

    Raises :class:`CredentialStoreUnavailable` when the environment has no password for the
    camera and no keyring backend can be asked (or it is locked).
    """
    from_env = os.environ.get(password_env_var(camera_id))
    if from_env:
        return from_env
    backend = _usable_backend()
    if backend is None:
        raise _unavailable(camera_id)
    try:
        return backend.get_password(KEYRING_SERVICE, camera_id)
    except keyring.errors.NoKeyringError:
        raise _unavailable(camera_id) from None
    except keyring.errors.KeyringError as exc:
        raise _unavailable(camera_id, str(exc) or type(exc).__name__) from None


def set_camera_password(camera_id: str, password: str) -> None:
    """Store the password of ``camera_id`` in the keyring."""
    if not password:
        raise CredentialError(_("The password is empty."))
    backend = _usable_backend()
    if backend is None:
        raise _unavailable(camera_id)
    try:
        backend.set_password(KEYRING_SERVICE, camera_id, password)
    except keyring.errors.NoKeyringError:
        raise _unavailable(camera_id) from None
    except keyring.errors.KeyringError as exc:
        raise _unavailable(camera_id, str(exc) or type(exc).__name__) from None
    log.info("password stored for camera %s in %s", camera_id, keyring_backend_name())


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """``url`` with ``username:password@`` (percent-encoded) in place of any user info."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def redact_url(url: str) -> str:
    """Replace the password of every URL in ``url`` (any text) with ``***``."""
    return _USERINFO.sub(r"\g<head>:***@", url)
