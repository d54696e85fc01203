"""New keys, and self-signed test certificates shaped like ``notation cert generate-test``."""

from __future__ import annotations

import datetime
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocisign.errors import UsageError
from ocisign.keys import DEFAULT_DAYS, KEY_TYPES
from ocisign.keys.pem import PrivateKey, key_type_name

_CURVES: dict[str, ec.EllipticCurve] = {
    "ecdsa-p256": ec.SECP256R1(),
    "ecdsa-p384": ec.SECP384R1(),
    "ecdsa-p521": ec.SECP521R1(),
}
_RSA_BITS = {"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}


def generate_key(key_type: str) -> PrivateKey:
    """A fresh private key of ``key_type`` (one of :data:`KEY_TYPES`)."""
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type])
    if key_type in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[key_type])
    raise UsageError(
        f"unknown key type {key_type!r}", hint=f"choose one of: {', '.join(KEY_TYPES)}"
    )


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash notation pairs with a key (notation spec §2); None for Ed25519."""
    by_type: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
        "rsa-2048": hashes.SHA256(),
        "rsa-3072": hashes.SHA384(),
        "rsa-4096": hashes.SHA512(),
        "ecdsa-p256": hashes.SHA256(),
        "ecdsa-p384": hashes.SHA384(),
        "ecdsa-p521": hashes.SHA512(),
    }
    name = key_type_name(key)
    return None if name == "ed25519" else by_type.get(name, hashes.SHA256())


def generate_test_subject(name: str) -> x509.Name:
    """``C=US, ST=WA, L=Seattle, O=Notary, CN=<name>``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Seattle"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Notary"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


def make_test_certificate(key: PrivateKey, name: str, days: int = DEFAULT_DAYS) -> x509.Certificate:
    """A self-signed non-CA code-signing certificate like ``notation cert generate-test``.

    KeyUsage digitalSignature (critical), EKU codeSigning, no basicConstraints, random
    serial, valid from now for ``days`` days; signed with :func:`signature_hash`.
    """
    if days < 1:
        raise UsageError(f"--days must be at least 1, not {days}")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    subject = generate_test_subject(name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(63) + 1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    )
    return builder.sign(key, signature_hash(key))
