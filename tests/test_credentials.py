"""Camera credentials against real keyring backends: a file keyring and the fail backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from keyrings.alt.file import PlaintextKeyring

from cameras.credentials import (
    KEYRING_SERVICE,
    CredentialError,
    CredentialStoreUnavailable,
    check_credential_store,
    get_camera_password,
    password_env_var,
    redact_url,
    set_camera_password,
    with_credentials,
)

CAMERA = "piazza-zanardelli"
ENV = "CENTRALE_CAMERA_PASSWORD_PIAZZA_ZANARDELLI"


def _file_keyring(path: Path) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(path)  # instance-level override, documented by keyrings.alt
    return backend


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv(ENV, raising=False)
    previous = keyring.get_keyring()
    path = tmp_path / "keyring.cfg"
    keyring.set_keyring(_file_keyring(path))
    yield path
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV, raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)


def test_env_var_name() -> None:
    assert password_env_var(CAMERA) == ENV
    assert password_env_var("cam_2") == "CENTRALE_CAMERA_PASSWORD_CAM_2"


def test_round_trip_through_a_file_keyring(file_keyring: Path) -> None:
    assert get_camera_password(CAMERA) is None
    set_camera_password(CAMERA, "pä$$:w@rd/1")
    assert get_camera_password(CAMERA) == "pä$$:w@rd/1"
    # Really on disk: a fresh backend on the same file reads it back.
    assert _file_keyring(file_keyring).get_password(KEYRING_SERVICE, CAMERA) == "pä$$:w@rd/1"
    assert get_camera_password("other-camera") is None
    assert "PlaintextKeyring" in check_credential_store(CAMERA)


def test_environment_wins_over_keyring(file_keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_camera_password(CAMERA, "from-keyring")
    monkeypatch.setenv(ENV, "from-env")
    assert get_camera_password(CAMERA) == "from-env"


def test_empty_password_refused(file_keyring: Path) -> None:
    with pytest.raises(CredentialError, match="empty"):
        set_camera_password(CAMERA, "")


def test_without_keyring_backend_the_error_says_what_to_do(no_keyring: None) -> None:
    with pytest.raises(CredentialStoreUnavailable) as caught:
        set_camera_password(CAMERA, "secret")
    assert ENV in caught.value.message
    assert "keyring" in caught.value.message
    assert caught.value.title == "No credential store"
    with pytest.raises(CredentialStoreUnavailable):
        get_camera_password(CAMERA)
    with pytest.raises(CredentialStoreUnavailable):
        check_credential_store(CAMERA)


def test_without_keyring_backend_the_environment_still_works(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "headless")
    assert get_camera_password(CAMERA) == "headless"


@pytest.mark.parametrize(
    ("url", "user", "password", "expected"),
    [
        ("rtsp://10.0.0.1:554/main", "admin", "s3cret", "rtsp://admin:s3cret@10.0.0.1:554/main"),
        (
            "rtsp://10.0.0.1/m?x=1",
            "ad min",
            "p@ss:/w",
            "rtsp://ad%20min:p%40ss%3A%2Fw@10.0.0.1/m?x=1",
        ),
        ("rtsp://old:pw@10.0.0.1/main", "new", "pw2", "rtsp://new:pw2@10.0.0.1/main"),
        ("rtsps://[fe80::1]:322/s", "u", None, "rtsps://u@[fe80::1]:322/s"),
        ("rtsp://10.0.0.1/main", None, "ignored", "rtsp://10.0.0.1/main"),
    ],
)
def test_with_credentials(url: str, user: str | None, password: str | None, expected: str) -> None:
    assert with_credentials(url, user, password) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtsp://admin:s3cret@10.0.0.1/main", "rtsp://admin:***@10.0.0.1/main"),
        ("rtsp://admin:p@ss@10.0.0.1/main", "rtsp://admin:***@10.0.0.1/main"),
        ("rtsp://viewer@10.0.0.1/main", "rtsp://viewer@10.0.0.1/main"),
        ("rtsp://10.0.0.1:554/main", "rtsp://10.0.0.1:554/main"),
        (
            "open rtsp://a:x@h1/1 then http://b:y%40z@h2:80/onvif failed",
            "open rtsp://a:***@h1/1 then http://b:***@h2:80/onvif failed",
        ),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


def test_redact_what_with_credentials_built() -> None:
    url = with_credentials("rtsp://10.0.0.1/main", "admin", "p@ss:/w rd")
    assert "p%40ss" in url
    assert redact_url(url) == "rtsp://admin:***@10.0.0.1/main"
