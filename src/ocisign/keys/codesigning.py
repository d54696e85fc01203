"""Code-signing certificate chain rules (notation.md §3, notation-core-go x509).

A chain is ordered leaf -> intermediates -> root, the root is self-signed, each
certificate is issued by the next, the leaf is a code-signing leaf and every other
certificate a CA, and all are valid at the signing time. A single self-signed leaf is
allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.errors import CertificateError, SignatureError
from ocisign.keys.algorithms import key_spec_of

_FORBIDDEN_EKU = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}
_LEAF_FORBIDDEN_KU = (
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
_HINT = "a Notary Project signing chain is leaf -> intermediates -> root (see notation.md §3)"


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def _fail(cert: x509.Certificate, rule: str) -> CertificateError:
    return CertificateError(f"certificate {_name(cert)!r}: {rule}", hint=_HINT)


def _ext(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> x509.Extension[Any] | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type)
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        raise _fail(cert, f"unreadable extension: {exc}") from None


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s subject is ``cert``'s issuer and its key verifies ``cert``'s signature."""
    if cert.issuer.public_bytes() != issuer.subject.public_bytes():
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, unsupported key types
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject == issuer and the signature verifies with the certificate's own key."""
    return is_issued_by(cert, cert)


def _check_leaf(cert: x509.Certificate) -> None:
    ku_ext = _ext(cert, x509.KeyUsage)
    if ku_ext is None:
        raise _fail(cert, "the signing certificate has no keyUsage extension")
    if not ku_ext.critical:
        raise _fail(cert, "the signing certificate's keyUsage extension must be critical")
    ku: x509.KeyUsage = ku_ext.value
    if not ku.digital_signature:
        raise _fail(cert, "the signing certificate's keyUsage must include digitalSignature")
    for flag in _LEAF_FORBIDDEN_KU:
        if getattr(ku, flag):
            raise _fail(cert, f"the signing certificate's keyUsage must not include {flag}")
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None and bc.value.ca:
        raise _fail(cert, "the signing certificate must not be a CA (basicConstraints cA=true)")
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is not None:
        for oid in eku.value:
            if oid in _FORBIDDEN_EKU:
                raise _fail(
                    cert, f"the signing certificate's extendedKeyUsage has {_FORBIDDEN_EKU[oid]}"
                )
    try:
        key_spec_of(cert.public_key())
    except SignatureError as exc:
        raise _fail(cert, exc.message) from None


def _check_ca(cert: x509.Certificate, cas_below: int) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if bc is None or not bc.value.ca:
        raise _fail(cert, "a CA certificate in the chain needs basicConstraints with cA=true")
    ku_ext = _ext(cert, x509.KeyUsage)
    if ku_ext is None or not ku_ext.critical:
        raise _fail(cert, "a CA certificate needs a critical keyUsage extension")
    if not ku_ext.value.key_cert_sign:
        raise _fail(cert, "a CA certificate's keyUsage must include keyCertSign")
    path_len = bc.value.path_length
    if path_len is not None and path_len < cas_below:
        raise _fail(
            cert,
            f"pathLenConstraint {path_len} is less than the {cas_below} CA certificate(s) below it",
        )


def _check_time(cert: x509.Certificate, at: datetime) -> None:
    if at < cert.not_valid_before_utc or at > cert.not_valid_after_utc:
        raise _fail(
            cert,
            f"not valid at the signing time {at.isoformat()} (valid "
            f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})",
        )


def validate_signing_chain(chain: Sequence[x509.Certificate], at: datetime | None) -> None:
    """Raise CertificateError naming the first code-signing chain rule ``chain`` breaks.

    ``at`` is the signing time every certificate must be valid at; ``None`` checks the
    structure only, as notation does at verification time (validity is then the
    authentic-timestamp check's business).
    """
    if not chain:
        raise CertificateError("the certificate chain is empty", hint=_HINT)
    if at is not None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        for cert in chain:
            _check_time(cert, at)
    leaf = chain[0]
    if len(chain) == 1:
        if not is_self_signed(leaf):
            raise _fail(
                leaf,
                "a single-certificate chain must be self-signed; include the intermediates "
                "and the root certificate",
            )
        _check_leaf(leaf)
        return
    for index, cert in enumerate(chain[:-1]):
        if is_self_signed(cert):
            raise _fail(cert, f"self-signed certificate at position {index}; only the root may be")
        if not is_issued_by(cert, chain[index + 1]):
            raise _fail(
                cert,
                f"is not issued by the next certificate {_name(chain[index + 1])!r}: "
                "the chain must be ordered leaf -> intermediates -> root",
            )
    root = chain[-1]
    if not is_self_signed(root):
        raise _fail(root, "the last certificate must be a self-signed root; the root is missing")
    _check_leaf(leaf)
    for index in range(1, len(chain)):
        _check_ca(chain[index], cas_below=index - 1)
