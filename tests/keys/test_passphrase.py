"""Passphrase sources and their order: file, OCISIGN_KEY_PASSPHRASE, COSIGN_PASSWORD, prompt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ocisign.errors import PassphraseError
from ocisign.keys import passphrase
from ocisign.keys.passphrase import read_passphrase
from tests.keys.conftest import write


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OCISIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_file_is_trimmed_and_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCISIGN_KEY_PASSPHRASE", "env")
    file = write(tmp_path / "pw", b"  correct horse \n\n")
    assert read_passphrase(file, key_path="k") == b"correct horse"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match=r"passphrase file .* does not exist"):
        read_passphrase(tmp_path / "nope", key_path="k")


def test_env_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "cosign")
    assert read_passphrase(None, key_path="k") == b"cosign"
    monkeypatch.setenv("OCISIGN_KEY_PASSPHRASE", "ocisign")
    assert read_passphrase(None, key_path="k") == b"ocisign"


def test_registry_password_is_never_a_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """OCISIGN_PASSWORD / NOTATION_PASSWORD are registry passwords only (issue 11, case 3)."""
    monkeypatch.setenv("OCISIGN_PASSWORD", "registry secret")
    monkeypatch.setenv("NOTATION_PASSWORD", "registry secret")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(PassphraseError, match="no terminal") as info:
        read_passphrase(None, key_path="cosign.key")
    assert info.value.hint and "OCISIGN_KEY_PASSPHRASE" in info.value.hint
    assert "registry password" in info.value.hint


def test_empty_env_is_an_empty_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr(passphrase.getpass, "getpass", lambda prompt: pytest.fail("prompted"))
    assert read_passphrase(None, key_path="k") == b""


def test_no_terminal_never_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("typed\n"))
    monkeypatch.setattr(passphrase.getpass, "getpass", lambda prompt: pytest.fail("prompted"))
    with pytest.raises(PassphraseError, match="no terminal") as info:
        read_passphrase(None, key_path="cosign.key")
    assert "cosign.key" in info.value.message
    assert info.value.hint and "--passphrase-file" in info.value.hint


def test_prompt_twice_when_confirming(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []
    answers = iter(["pw", "pw"])

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr(passphrase.getpass, "getpass", fake_getpass)
    assert read_passphrase(None, key_path="k", confirm=True) == b"pw"
    assert prompts == ["Enter password for private key: ", "Enter password for private key again: "]


def test_prompt_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr(passphrase.getpass, "getpass", lambda prompt: next(answers))
    with pytest.raises(PassphraseError, match="do not match"):
        read_passphrase(None, key_path="k", confirm=True)
