"""cosign-compatible blob signatures with a key pair (``cosign sign-blob|verify-blob --key``).

Signing writes what cosign writes offline (no Rekor, no TSA): the base64 DER signature
over the raw file and, with ``--bundle``, a Sigstore bundle v0.3 with a
``messageSignature`` and the key's hint (:mod:`ocisign.envelopes.bundle`). Verifying
accepts a bundle (new format: ``mediaType`` present) or a signature file, or cosign's
legacy bundle ``{"base64Signature", "cert", "rekorBundle"}``; trust comes only from the
user's public key: a certificate in a bundle is refused, and a public key in a legacy
bundle's ``cert`` is never used (GHSA-fx35-mq7g-6g98).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ocisign.envelopes.bundle import (
    Artifact,
    message_bundle,
    parse_bundle,
    verify_message_bundle,
    verify_signature,
)
from ocisign.errors import MALFORMED, VerificationError
from ocisign.sigstore.attach import load_sigstore_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


def sign_blob(blob: bytes, key: Path, passphrase_file: Path | None) -> tuple[str, bytes]:
    """(base64 signature, bundle JSON) of ``blob`` signed with the cosign key at ``key``."""
    signer = load_sigstore_key(key, passphrase_file)
    signature, bundle = message_bundle(signer, blob)
    return base64.b64encode(signature).decode(), bundle


def _signature_bytes(text: bytes) -> bytes:
    """A signature file's content: standard base64 (cosign's output), else raw bytes."""
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return text


def verify_blob(
    blob: bytes, public_key: PublicKeyTypes, *, bundle: bytes | None = None,
    signature: bytes | None = None,
) -> str:
    """Verify ``blob`` with ``public_key``; returns which input verified (VerificationError)."""
    if bundle is not None:
        try:
            doc = json.loads(bundle)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise VerificationError("the bundle is not JSON") from None
        if isinstance(doc, dict) and "mediaType" in doc:
            verify_message_bundle(parse_bundle(bundle), public_key, Artifact(data=blob))
            return "bundle"
        signature = _legacy_signature(doc)
    if signature is None:
        raise VerificationError("nothing to verify",
                                hint="pass --bundle FILE or -s/--signature FILE")
    verify_signature(public_key, blob, _signature_bytes(signature))
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
