"""cosign / sigstore encrypted keys: real upstream vectors, round trips, rejections."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ocisign.errors import KeyFileError, PassphraseError
from ocisign.keys import KEY_TYPES, cosign
from ocisign.keys.generate import generate_key
from ocisign.keys.pem import key_type_name, load_public_key, public_key_der
from tests.keys.conftest import SIGSTORE, sign, verify, write

HELLO = (SIGSTORE / "passphrase.txt").read_bytes()


def _doc(pem: bytes) -> dict[str, object]:
    body = b"".join(pem.split(b"\n")[1:-2])
    doc = json.loads(base64.b64decode(body))
    assert isinstance(doc, dict)
    return doc


def _rewrap(doc: dict[str, object], label: str = cosign.SIGSTORE_LABEL) -> bytes:
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


@pytest.mark.parametrize("name", ["sigstore-label-p256", "cosign-label-p256-n32768"])
def test_cosign_vectors_decrypt_and_match_their_public_key(name: str) -> None:
    assert HELLO == b"hello"
    pem = (SIGSTORE / f"{name}.key").read_bytes()
    assert cosign.is_cosign_key(pem)
    key = cosign.decrypt_private_key(pem, HELLO)
    public = load_public_key(SIGSTORE / f"{name}.pub")
    assert public_key_der(key) == public_key_der(public)
    verify(public, sign(key))


def test_skopeo_generated_key_decrypts_with_its_passphrase_file() -> None:
    from ocisign.keys.passphrase import read_passphrase

    pem = (SIGSTORE / "skopeo-generated.private").read_bytes()
    assert b"ENCRYPTED COSIGN PRIVATE KEY" in pem
    passphrase = read_passphrase(SIGSTORE / "skopeo-generated.passphrase", key_path="k")
    assert passphrase == b"interop-test-passphrase"  # trailing newline trimmed
    key = cosign.decrypt_private_key(pem, passphrase)
    assert public_key_der(key) == public_key_der(load_public_key(SIGSTORE / "skopeo-generated.pub"))


def test_sec1_inside_is_rejected_like_cosign() -> None:
    pem = (SIGSTORE / "cosign-label-sec1-n65536-rejected.key").read_bytes()
    with pytest.raises(KeyFileError, match="not PKCS#8") as info:
        cosign.decrypt_private_key(pem, HELLO)
    assert not isinstance(info.value, PassphraseError)


def test_wrong_passphrase() -> None:
    pem = (SIGSTORE / "sigstore-label-p256.key").read_bytes()
    with pytest.raises(PassphraseError, match="wrong passphrase") as info:
        cosign.decrypt_private_key(pem, b"goodbye", "my.key")
    assert "my.key" in info.value.message
    assert info.value.hint and "COSIGN_PASSWORD" in info.value.hint


@pytest.mark.parametrize("key_type", [*KEY_TYPES, "ed25519"])
def test_round_trip(key_type: str) -> None:
    if key_type == "ed25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key: object = ed25519.Ed25519PrivateKey.generate()
    else:
        key = generate_key(key_type)
    pem = cosign.encrypt_private_key(key, b"s3cret")  # type: ignore[arg-type]
    loaded = cosign.decrypt_private_key(pem, b"s3cret")
    assert key_type_name(loaded) == key_type
    verify(loaded.public_key(), sign(loaded))


def test_written_format_is_what_cosign_reads() -> None:
    pem = cosign.encrypt_private_key(generate_key("ecdsa-p256"), b"")
    lines = pem.decode().splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"
    assert lines[-1] == "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    doc = _doc(pem)
    assert doc["kdf"] == {
        "name": "scrypt",
        "params": {"N": 65536, "r": 8, "p": 1},
        "salt": doc["kdf"]["salt"],  # type: ignore[index]
    }
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32  # type: ignore[index]
    assert doc["cipher"]["name"] == "nacl/secretbox"  # type: ignore[index]
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24  # type: ignore[index]
    assert cosign.decrypt_private_key(pem, b"") is not None  # empty passphrase allowed


def test_fresh_salt_and_nonce_every_time() -> None:
    key = generate_key("ecdsa-p256")
    first, second = (
        _doc(cosign.encrypt_private_key(key, b"x")),
        _doc(cosign.encrypt_private_key(key, b"x")),
    )
    assert first["kdf"]["salt"] != second["kdf"]["salt"]  # type: ignore[index]
    assert first["cipher"]["nonce"] != second["cipher"]["nonce"]  # type: ignore[index]


def test_tampered_scrypt_parameters_are_refused() -> None:
    doc = _doc((SIGSTORE / "sigstore-label-p256.key").read_bytes())
    doc["kdf"]["params"]["N"] = 1 << 24  # type: ignore[index]
    with pytest.raises(KeyFileError, match="unsupported scrypt parameters N=16777216"):
        cosign.decrypt_private_key(_rewrap(doc), HELLO)


def test_cosign_label_accepted_for_our_own_key() -> None:
    key = generate_key("ecdsa-p256")
    doc = _doc(cosign.encrypt_private_key(key, b"x"))
    loaded = cosign.decrypt_private_key(_rewrap(doc, cosign.COSIGN_LABEL), b"x")
    assert public_key_der(loaded) == public_key_der(key)


def test_malformed_body() -> None:
    label = b"ENCRYPTED SIGSTORE PRIVATE KEY"
    pem = b"-----BEGIN " + label + b"-----\nbm90IGpzb24=\n-----END " + label + b"-----\n"
    with pytest.raises(KeyFileError, match="malformed encrypted key"):
        cosign.decrypt_private_key(pem, b"")


def test_not_a_cosign_key() -> None:
    pem = (SIGSTORE / "skopeo-generated.pub").read_bytes()
    assert not cosign.is_cosign_key(pem)
    with pytest.raises(KeyFileError, match="not a cosign/sigstore encrypted private key"):
        cosign.decrypt_private_key(pem, b"")


def test_load_signing_key_accepts_both_kinds(tmp_path: Path) -> None:
    from ocisign.keys.pem import private_key_pem

    asked: list[str] = []

    def getter() -> bytes:
        asked.append("yes")
        return HELLO

    key = cosign.load_signing_key(SIGSTORE / "sigstore-label-p256.key", getter)
    assert asked == ["yes"]
    plain = write(tmp_path / "plain.key", private_key_pem(key))
    again = cosign.load_signing_key(plain, getter)
    assert asked == ["yes"]  # not asked for a plain key
    assert public_key_der(again) == public_key_der(key)


def test_pem_has_no_secret_in_clear() -> None:
    pem = cosign.encrypt_private_key(generate_key("ecdsa-p256"), b"x")
    assert re.search(rb"PRIVATE KEY-----\n", pem)
    assert b"BEGIN PRIVATE KEY" not in pem
