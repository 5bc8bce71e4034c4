"""The keyring is used only when it can answer without prompting anybody."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import chainer, fail
from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

from registry.audit_key import load_audit_key
from registry.keystore import system_keyring


def test_a_backend_that_would_prompt_is_never_used(tmp_path: Path) -> None:
    encrypted = EncryptedKeyring()
    encrypted.file_path = str(tmp_path / "crypted.cfg")  # type: ignore[misc]
    assert system_keyring(encrypted) is None
    assert system_keyring(fail.Keyring()) is None  # type: ignore[no-untyped-call]
    plain = PlaintextKeyring()
    assert system_keyring(plain) is plain


def test_a_chain_keeps_only_the_backends_that_answer_by_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, encrypted = PlaintextKeyring(), EncryptedKeyring()
    chain = chainer.ChainerBackend()
    monkeypatch.setattr(type(chain), "backends", property(lambda _self: [encrypted, plain]))
    assert system_keyring(chain) is plain
    monkeypatch.setattr(type(chain), "backends", property(lambda _self: [encrypted]))
    assert system_keyring(chain) is None


def test_the_audit_key_goes_to_a_file_instead_of_a_prompting_keyring(tmp_path: Path) -> None:
    encrypted = EncryptedKeyring()
    encrypted.file_path = str(tmp_path / "crypted.cfg")  # type: ignore[misc]
    key = load_audit_key(tmp_path / "data", tmp_path / "keys", create=True, environ={},
                         backend=encrypted)
    assert key.source == "file"
    assert (tmp_path / "keys" / "audit.key").exists()
    assert not (tmp_path / "crypted.cfg").exists()  # never asked for its master password
