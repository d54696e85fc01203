"""Key generation and notation-style test certificates."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from ocisign.errors import UsageError
from ocisign.keys import KEY_TYPES
from ocisign.keys.generate import generate_key, make_test_certificate
from ocisign.keys.pem import (
    certificate_pem,
    key_type_name,
    load_certificates,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from tests.keys.conftest import sign, verify, write


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_key_type_round_trips_and_signs(key_type: str, tmp_path: Path) -> None:
    key = generate_key(key_type)
    assert key_type_name(key) == key_type
    key_file = write(tmp_path / "k.key", private_key_pem(key))
    pub_file = write(tmp_path / "k.pub", public_key_pem(key))
    cert_file = write(tmp_path / "k.crt", certificate_pem([make_test_certificate(key, "t")]))
    loaded = load_private_key(key_file)
    assert key_type_name(loaded) == key_type
    signature = sign(loaded)
    verify(load_public_key(pub_file), signature)
    verify(load_public_key(cert_file), signature)  # a cert file works as a public key
    with pytest.raises(InvalidSignature):
        verify(load_public_key(pub_file), signature, b"another message")
    # the certificate's own signature verifies with the key it certifies
    cert = load_certificates(cert_file)[0]
    cert.verify_directly_issued_by(cert)


def test_unknown_key_type_is_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown key type 'dsa-1024'"):
        generate_key("dsa-1024")


def test_certificate_shape_matches_notation_generate_test(rsa_key: rsa.RSAPrivateKey) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    cert = make_test_certificate(rsa_key, "wabbit-networks.io", days=42)
    after = datetime.datetime.now(datetime.UTC)
    expected = "CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"
    assert cert.subject.rfc4514_string() == expected
    assert cert.issuer == cert.subject
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_encipherment)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    oids = {ext.oid for ext in cert.extensions}
    assert oids == {ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE}  # no basicConstraints
    assert before <= cert.not_valid_before_utc <= after
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=42)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.serial_number > 0


def test_serials_are_random(rsa_key: rsa.RSAPrivateKey) -> None:
    serials = {make_test_certificate(rsa_key, "x").serial_number for _ in range(5)}
    assert len(serials) == 5


@pytest.mark.parametrize(
    ("key_type", "hash_cls"),
    [("ecdsa-p384", hashes.SHA384), ("ecdsa-p521", hashes.SHA512), ("ecdsa-p256", hashes.SHA256)],
)
def test_certificate_hash_follows_key_size(key_type: str, hash_cls: type) -> None:
    cert = make_test_certificate(generate_key(key_type), "x", days=1)
    assert isinstance(cert.signature_hash_algorithm, hash_cls)


def test_days_must_be_positive(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(UsageError):
        make_test_certificate(rsa_key, "x", days=0)
