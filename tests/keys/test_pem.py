"""Plain key/cert files: every encoding notation accepts, and clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ocisign.errors import CertificateError, KeyFileError
from ocisign.keys.pem import (
    certificate_public_key_der,
    key_type_name,
    keys_match,
    load_certificates,
    load_private_key,
    load_public_key,
    public_key_der,
)
from tests.keys.conftest import E2E, SIGSTORE, write


def _encode(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: str) -> bytes:
    formats = {
        "pkcs8": (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
        "traditional": (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        "der": (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
    }
    encoding, private_format = formats[fmt]
    return key.private_bytes(encoding, private_format, serialization.NoEncryption())


@pytest.mark.parametrize("fmt", ["pkcs8", "traditional", "der"])
def test_rsa_and_ec_in_every_encoding(fmt: str, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for key, label in ((rsa_key, b"RSA PRIVATE KEY"), (ec_key, b"EC PRIVATE KEY")):
        data = _encode(key, fmt)
        if fmt == "traditional":
            assert label in data  # PKCS#1 / SEC1 really are what we load
        loaded = load_private_key(write(tmp_path / "k", data))
        assert public_key_der(loaded) == public_key_der(key)


def test_notation_e2e_key_matches_its_certificate() -> None:
    key = load_private_key(E2E / "e2e.key")
    chain = load_certificates(E2E / "e2e.crt")
    assert len(chain) == 1
    assert key_type_name(key) == "rsa-2048"
    assert public_key_der(key) == certificate_public_key_der(chain[0])


def test_der_certificate(tmp_path: Path) -> None:
    cert = load_certificates(E2E / "e2e.crt")[0]
    der = write(tmp_path / "c.der", cert.public_bytes(serialization.Encoding.DER))
    assert load_certificates(der) == [cert]


def test_cosign_public_key_matches_itself() -> None:
    public = load_public_key(SIGSTORE / "skopeo-generated.pub")
    assert key_type_name(public) == "ecdsa-p256"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"key file .*nope\.key does not exist"):
        load_private_key(tmp_path / "nope.key")


def test_certificate_is_not_a_key() -> None:
    with pytest.raises(KeyFileError, match=r"holds no private key.*CERTIFICATE"):
        load_private_key(E2E / "e2e.crt")


def test_garbage_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not a readable private key"):
        load_private_key(write(tmp_path / "k", b"hello"))


def test_encrypted_pem_needs_decrypting(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    data = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(KeyFileError, match="passphrase-encrypted") as info:
        load_private_key(write(tmp_path / "k", data))
    assert info.value.hint and "openssl pkey" in info.value.hint


def test_cosign_key_is_not_a_plain_key() -> None:
    with pytest.raises(KeyFileError, match="encrypted cosign/sigstore key"):
        load_private_key(SIGSTORE / "sigstore-label-p256.key")


def test_unsupported_curve(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(KeyFileError, match="unsupported EC curve secp256k1"):
        load_private_key(write(tmp_path / "k", _encode(key, "pkcs8")))


def test_not_a_certificate(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match=r"no readable X\.509 certificate"):
        load_certificates(write(tmp_path / "c", b"not a cert"))


def test_keys_match(rsa_key: rsa.RSAPrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert keys_match(rsa_key, rsa_key.public_key())
    assert not keys_match(rsa_key, other.public_key())
