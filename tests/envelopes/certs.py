"""Test keys and code-signing certificates made with cryptography (no files needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SPECS = ("RSA-2048", "RSA-3072", "RSA-4096", "EC-256", "EC-384", "EC-521")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_CURVES = {"EC-256": ec.SECP256R1(), "EC-384": ec.SECP384R1(), "EC-521": ec.SECP521R1()}


def make_key(spec: str) -> Any:
    """A private key of ``spec`` (``RSA-2048`` ... ``EC-521``)."""
    if spec.startswith("RSA-"):
        return rsa.generate_private_key(65537, int(spec[4:]))
    return ec.generate_private_key(_CURVES[spec])


def name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocisign-test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def key_usage(**flags: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def make_cert(
    key: Any,
    cn: str,
    *,
    issuer_key: Any = None,
    issuer_name: x509.Name | None = None,
    ca: bool | None = None,
    path_length: int | None = None,
    ku: x509.KeyUsage | None = None,
    ku_critical: bool = True,
    eku: list[x509.ObjectIdentifier] | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    """A certificate for ``key``; self-signed unless ``issuer_key`` is given.

    ``ca=None`` leaves out basicConstraints; ``ku`` defaults to digitalSignature (leaf)
    or keyCertSign (CA).
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer_name or name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ku is None:
        ku = key_usage(key_cert_sign=True) if ca else key_usage(digital_signature=True)
    builder = builder.add_extension(ku, critical=ku_critical)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_length), critical=True)
    if eku is None and not ca:
        eku = [ExtendedKeyUsageOID.CODE_SIGNING]
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def ca_chain(leaf_key: Any, depth: int = 3, **leaf_options: Any) -> list[x509.Certificate]:
    """leaf -> (depth-2 intermediates) -> root, all valid around :data:`NOW`."""
    root_key = make_key("EC-256")
    root = make_cert(root_key, "root", ca=True)
    issuer_key, issuer = root_key, root
    cas = [root]
    for level in range(depth - 2):
        key = make_key("EC-256")
        cert = make_cert(
            key, f"intermediate-{level}", issuer_key=issuer_key, issuer_name=issuer.subject, ca=True
        )
        cas.insert(0, cert)
        issuer_key, issuer = key, cert
    leaf = make_cert(
        leaf_key, "leaf", issuer_key=issuer_key, issuer_name=issuer.subject, **leaf_options
    )
    return [leaf, *cas]
