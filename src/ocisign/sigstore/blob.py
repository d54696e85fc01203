"""cosign-compatible blob signatures with a key pair (``cosign sign-blob|verify-blob --key``).

Signing writes what cosign writes offline (no Rekor): the base64 DER signature over the
raw file and, with ``--bundle``, a Sigstore bundle v0.3 with a ``messageSignature``, the
key's hint and optionally an RFC 3161 timestamp (:mod:`ocisign.envelopes.bundle`). Verifying
accepts a bundle (new format: ``mediaType`` present) or a signature file, or cosign's
legacy bundle ``{"base64Signature", "cert", "rekorBundle"}``; trust comes only from the
user's public key: a certificate in a bundle is refused, and a public key in a legacy
bundle's ``cert`` is never used (GHSA-fx35-mq7g-6g98).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from cryptography import x509

from ocisign.envelopes.bundle import (
    Artifact,
    message_bundle,
    parse_bundle,
    signed_timestamps,
    verify_message_bundle,
    verify_signature,
)
from ocisign.errors import MALFORMED, UsageError, VerificationError
from ocisign.sigstore.attach import load_sigstore_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


class SignedBlob(NamedTuple):
    """What ``cosign sign-blob --key`` writes: the base64 signature, the bundle JSON and,
    when stamped, the DER TimeStampResp (the bundle holds it too)."""

    signature: str
    bundle: bytes
    timestamp: bytes | None = None


def sign_blob(
    blob: bytes, key: Path, passphrase_file: Path | None,
    timestamper: Callable[[bytes], bytes] | None = None,
) -> SignedBlob:
    """``blob`` signed with the cosign key at ``key``; ``timestamper`` (signature -> DER
    TimeStampResp) stamps it."""
    signer = load_sigstore_key(key, passphrase_file)
    stamps: list[bytes] = []

    def stamp(signature: bytes) -> bytes:
        assert timestamper is not None
        stamps.append(timestamper(signature))
        return stamps[-1]

    signature, bundle = message_bundle(signer, blob, stamp if timestamper else None)
    return SignedBlob(base64.b64encode(signature).decode(), bundle,
                      stamps[0] if stamps else None)


_LEGACY_TIMESTAMP = "SignedRFC3161Timestamp"


def legacy_timestamp(response: bytes) -> bytes:
    """cosign's ``--rfc3161-timestamp`` file: ``{"SignedRFC3161Timestamp": base64(DER
    TimeStampResp)}`` (cosign's ``bundle.RFC3161Timestamp``)."""
    return json.dumps({_LEGACY_TIMESTAMP: base64.b64encode(response).decode()}).encode()


def read_legacy_timestamp(data: bytes) -> bytes:
    """The DER TimeStampResp of a ``--rfc3161-timestamp`` file (the key matched
    case-insensitively, as Go decodes it)."""
    try:
        doc = json.loads(data)
        assert isinstance(doc, dict)
        value = next(v for k, v in doc.items() if k.casefold() == _LEGACY_TIMESTAMP.casefold())
        return base64.b64decode(value, validate=True)
    except (AssertionError, StopIteration, UnicodeDecodeError, binascii.Error, *MALFORMED):
        raise VerificationError(f'the RFC 3161 timestamp file is not {{"{_LEGACY_TIMESTAMP}": '
                                '"<base64>"}',
                                hint="pass the file that sign --rfc3161-timestamp wrote") from None


Authority = tuple[list[x509.Certificate], datetime | None, datetime | None]
TimestampCheck = Callable[[list[bytes], bytes], object]
"""Given a bundle's RFC 3161 timestamps and the signature, raise unless one verifies."""
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot"


def trusted_root_authorities(data: bytes) -> list[Authority]:
    """The ``timestampAuthorities`` of a Sigstore trusted root (``--trusted-root``): each
    one's certificate chain and ``validFor`` window. Read leniently, as protojson (the
    rest of the document is not used: no transparency log is checked)."""
    try:
        doc = json.loads(data)
        assert isinstance(doc, dict)
        media_type = doc.get("mediaType", "")
        assert isinstance(media_type, str)
        if not media_type.startswith(TRUSTED_ROOT):
            raise VerificationError(f"unsupported trusted root media type {media_type!r}",
                                    hint=f"a Sigstore trusted root has mediaType {TRUSTED_ROOT}"
                                         "+json;version=0.1")
        out: list[Authority] = []
        for tsa in doc.get("timestampAuthorities") or []:
            certs = [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
                     for c in tsa["certChain"]["certificates"]]
            window = tsa.get("validFor") or {}
            out.append((certs, _rfc3339(window.get("start")), _rfc3339(window.get("end"))))
    except (AssertionError, UnicodeDecodeError, RecursionError, *MALFORMED) as exc:
        raise VerificationError(f"malformed trusted root: {exc}",
                                hint="pass a Sigstore trusted_root.json") from None
    if not out:
        raise VerificationError("the trusted root names no timestamp authority",
                                hint="its timestampAuthorities must hold the TSA's chain")
    return out


def _rfc3339(value: object) -> datetime | None:
    if value is None:
        return None
    assert isinstance(value, str)
    text = value.replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:  # protojson writes nanoseconds; Python reads up to microseconds
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        text = f"{main}.{digits[:6]}{rest[len(digits):]}"
    return datetime.fromisoformat(text)


def chain_authority(path: Path) -> Authority:
    """``--timestamp-certificate-chain``: PEM certificates, the root among them."""
    from ocisign.keys.pem import load_certificates

    return load_certificates(path), None, None


def _signature_bytes(text: bytes) -> bytes:
    """A signature file's content: standard base64 (cosign's output), else raw bytes."""
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return text


def verify_blob(
    blob: bytes | Artifact, public_key: PublicKeyTypes, *, bundle: bytes | None = None,
    signature: bytes | None = None, timestamps: TimestampCheck | None = None,
    legacy_timestamp: bytes | None = None,
) -> str:
    """Verify ``blob`` (its bytes, or for a bundle only its digest) with ``public_key``;
    returns which input verified (VerificationError). With ``timestamps`` (cosign's
    ``--use-signed-timestamps``) a bundle's RFC 3161 timestamps, or for a bare signature
    ``legacy_timestamp`` (a DER TimeStampResp), must pass that check too."""
    artifact = blob if isinstance(blob, Artifact) else Artifact(data=blob)
    if bundle is not None:
        try:
            doc = json.loads(bundle)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise VerificationError("the bundle is not JSON") from None
        if isinstance(doc, dict) and "mediaType" in doc:
            if legacy_timestamp is not None:
                raise VerificationError("unsupported: RFC3161 timestamp may not be provided "
                                        "using --rfc3161-timestamp with a Sigstore bundle",
                                        hint="the bundle carries its own timestamps")
            parsed = parse_bundle(bundle)
            verify_message_bundle(parsed, public_key, artifact)
            if timestamps is not None:
                assert parsed.message_signature is not None
                timestamps(signed_timestamps(parsed), parsed.message_signature.signature)
            return "bundle"
        signature = _legacy_signature(doc)
    if signature is None:
        raise VerificationError("nothing to verify",
                                hint="pass --bundle FILE or -s/--signature FILE")
    if artifact.data is None:
        raise VerificationError("a signature without a Sigstore bundle is checked over the "
                                "blob's bytes, not over a digest",
                                hint="pass the blob (a file, - or a URL), or a --bundle")
    if (legacy_timestamp is None) != (timestamps is None):  # cosign's rule, both ways
        raise UsageError(
            "when specifying --rfc3161-timestamp, you must also specify "
            "--use-signed-timestamps or --timestamp-certificate-chain" if timestamps is None
            else "when specifying --use-signed-timestamps or --timestamp-certificate-chain, "
                 "you must also specify --rfc3161-timestamp",
            hint="a signature without a bundle carries its timestamp in a separate file")
    raw = _signature_bytes(signature)
    verify_signature(public_key, artifact.data, raw)
    if timestamps is not None and legacy_timestamp is not None:
        timestamps([legacy_timestamp], raw)
    return "signature"


def _legacy_signature(doc: object) -> bytes:
    """``base64Signature`` of cosign's legacy bundle; its ``cert`` is never trusted."""
    try:
        assert isinstance(doc, dict)
        sig = doc["base64Signature"]
        assert isinstance(sig, str)
    except (AssertionError, *MALFORMED):
        raise VerificationError("the bundle is neither a Sigstore bundle (no mediaType) nor a "
                                "cosign legacy bundle (no base64Signature)") from None
    cert = doc.get("cert")
    if cert:
        try:
            pem = base64.b64decode(cert)
        except (binascii.Error, ValueError, TypeError):
            pem = b""
        if b"CERTIFICATE" in pem:
            raise VerificationError("expected key signature, not certificate",
                                    hint="this bundle was signed with a certificate; it cannot "
                                         "be verified with --sigstore-pubkey")
        # a public key in `cert` (cosign main writes one) is ignored: only the user's key counts
    return sig.encode()
