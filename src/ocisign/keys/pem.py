"""Plain key and certificate files: PEM (PKCS#8, PKCS#1, SEC1), DER, X.509 chains.

Every failure is a :class:`~ocisign.errors.KeyFileError` (or ``CertificateError``) naming
the file; key material never appears in a message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocisign.errors import CertificateError, KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import (
        CertificatePublicKeyTypes,
        PrivateKeyTypes,
    )

PrivateKey: TypeAlias = "rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey"
PublicKey: TypeAlias = "rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey"

_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PRIVATE_LABELS = {b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"}
_COSIGN_LABELS = {b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY"}
_PRIVATE_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
_PUBLIC_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)
_CURVE_NAMES = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}


def read_file(path: Path | str, what: str) -> bytes:
    """Read ``path``, or raise a KeyFileError that names the missing ``what`` ("key file")."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            f"{what} {path} does not exist", hint="check the path (relative to the current folder)"
        ) from None
    except IsADirectoryError:
        raise KeyFileError(f"{what} {path} is a directory, not a file") from None
    except OSError as err:
        raise KeyFileError(f"cannot read {what} {path}: {err.strerror}") from None


def pem_labels(data: bytes) -> list[bytes]:
    """The labels of every ``-----BEGIN X-----`` block in ``data``, in order."""
    return _LABEL.findall(data)


def _check_supported(key: PrivateKeyTypes, source: str) -> PrivateKey:
    if isinstance(key, _PRIVATE_TYPES):
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in _CURVE_NAMES:
            raise KeyFileError(
                f"{source}: unsupported EC curve {key.curve.name}",
                hint="use an ECDSA P-256, P-384 or P-521 key, or RSA",
            )
        return key
    raise KeyFileError(
        f"{source}: unsupported key type {type(key).__name__}",
        hint="use an RSA, ECDSA (P-256/P-384/P-521) or Ed25519 key",
    )


def parse_private_key(data: bytes, source: str) -> PrivateKey:
    """Parse an unencrypted private key (PEM PKCS#8/PKCS#1/SEC1, or DER) from ``data``."""
    labels = pem_labels(data)
    if any(label in _COSIGN_LABELS for label in labels):
        raise KeyFileError(
            f"{source} is an encrypted cosign/sigstore key",
            hint="this command needs a plain PEM key; sigstore keys are used with --sigstore-key",
        )
    if b"ENCRYPTED PRIVATE KEY" in labels or b"Proc-Type: 4,ENCRYPTED" in data:
        raise KeyFileError(
            f"{source} is a passphrase-encrypted PEM key, which is not supported",
            hint=f"decrypt it first: openssl pkey -in {source} -out plain.key",
        )
    if labels:
        if not any(label in _PRIVATE_LABELS for label in labels):
            found = ", ".join(label.decode() for label in labels)
            raise KeyFileError(
                f"{source} holds no private key (found PEM block(s): {found})",
                hint="a key file holds a PEM 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY'",
            )
        loader = serialization.load_pem_private_key
    else:
        loader = serialization.load_der_private_key
    try:
        key = loader(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(
            f"{source} is not a readable private key",
            hint="a key file holds a PEM PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key",
        ) from None
    except UnsupportedAlgorithm:
        raise KeyFileError(f"{source}: unsupported private key") from None
    return _check_supported(key, source)


def load_private_key(path: Path | str) -> PrivateKey:
    """Load an unencrypted private key file (PEM PKCS#8 / PKCS#1 / SEC1, or DER)."""
    return parse_private_key(read_file(path, "key file"), str(path))


def parse_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Parse a PEM chain (leaf first) or one DER certificate."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertificateError(
            f"{source} holds no readable X.509 certificate",
            hint="a certificate file is a PEM chain ('BEGIN CERTIFICATE', leaf first) or DER",
        ) from None
    return certs


def load_certificates(path: Path | str) -> list[x509.Certificate]:
    """Load a certificate chain file: PEM (one or more, leaf first) or a single DER cert."""
    return parse_certificates(read_file(path, "certificate file"), str(path))


def _check_public(key: CertificatePublicKeyTypes | object, source: str) -> PublicKey:
    if isinstance(key, _PUBLIC_TYPES):
        return key
    raise KeyFileError(f"{source}: unsupported public key type {type(key).__name__}")


def parse_public_key(data: bytes, source: str) -> PublicKey:
    """Parse a public key: PEM ``PUBLIC KEY``/``RSA PUBLIC KEY``, a certificate, or DER SPKI."""
    labels = pem_labels(data)
    try:
        if b"CERTIFICATE" in labels:
            return _check_public(x509.load_pem_x509_certificates(data)[0].public_key(), source)
        if labels:
            return _check_public(serialization.load_pem_public_key(data), source)
        return _check_public(serialization.load_der_public_key(data), source)
    except (ValueError, TypeError):
        raise KeyFileError(
            f"{source} is not a readable public key",
            hint="a public key file holds a PEM 'PUBLIC KEY' block (or a certificate)",
        ) from None


def load_public_key(path: Path | str) -> PublicKey:
    """Load a public key file (PEM/DER SubjectPublicKeyInfo, PKCS#1 RSA, or a certificate)."""
    return parse_public_key(read_file(path, "public key file"), str(path))


def key_type_name(key: PrivateKey | PublicKey) -> str:
    """A short name such as ``rsa-2048``, ``ecdsa-p256`` or ``ed25519``."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ecdsa-{_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    return "ed25519"


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER of a key (of its public half for a private key)."""
    public = key.public_key() if isinstance(key, _PRIVATE_TYPES) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_public_key_der(cert: x509.Certificate) -> bytes:
    """SubjectPublicKeyInfo DER of a certificate's key."""
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def keys_match(private: PrivateKey, public: PublicKey) -> bool:
    """True when ``public`` is the public half of ``private``."""
    return public_key_der(private) == public_key_der(public)


def private_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (``PRIVATE KEY``), as notation writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    """``PUBLIC KEY`` PEM (SubjectPublicKeyInfo)."""
    return serialization.load_der_public_key(public_key_der(key)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_pem(certs: list[x509.Certificate]) -> bytes:
    """A PEM chain of ``certs`` in order."""
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)
