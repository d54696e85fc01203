"""Sigstore bundles (protobuf-JSON, ``sigstore-models``) for key-pair signatures, as cosign.

Building: a v0.3 bundle with ``verificationMaterial.publicKey.hint`` (cosign's:
base64(SHA-256(DER SubjectPublicKeyInfo))) and either a ``messageSignature`` (sign-blob:
the signature over the raw blob plus its digest) or a ``dsseEnvelope`` (cosign v3 image
signatures: an in-toto statement over the image digest). Nothing is logged, so there are no
``tlogEntries`` (cosign omits the key; readers here insert ``[]`` before validating, since
sigstore-models requires the field).

Verifying with a user key, as sigstore-go does for cosign's ``--key`` (``WithKey()``):
the material must be ``publicKey`` (a certificate is refused: GHSA-fx35-mq7g-6g98, a key is
never trusted where a certificate belongs); the hint is ignored; a message signature needs
its digest, which must equal the recomputed one, and must verify over the artifact; a DSSE
envelope needs exactly one signature, verified over PAE. No transparency log check
(cosign's ``--insecure-ignore-tlog``, offline); RFC 3161 timestamps (written with a
``timestamper``) are read by :func:`signed_timestamps` and verified by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocisign.errors import MALFORMED, VerificationError
from ocisign.keys.algorithms import Scheme, sigstore_hash

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from sigstore_models.bundle.v1 import Bundle, VerificationMaterial

    from ocisign.signers.base import Signer

BUNDLE_V03: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
MEDIA_TYPES = (
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    BUNDLE_V03,
)
INTOTO = "application/vnd.in-toto+json"
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
_HASHES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}
_PREHASH: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
INTOTO_STATEMENT = "https://in-toto.io/Statement/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <body>``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_hint(public_key: PublicKeyTypes) -> str:
    """cosign's ``publicKey.hint``: base64(SHA-256(DER SubjectPublicKeyInfo))."""
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _b64(raw: bytes) -> bytes:
    """sigstore-models' bytes fields take their protobuf-JSON (base64) form, also in Python."""
    return base64.b64encode(raw)


def _to_json(bundle: Bundle) -> bytes:
    data = bundle.to_dict()
    if not data["verificationMaterial"].get("tlogEntries"):
        data["verificationMaterial"].pop("tlogEntries", None)  # protojson omits empty lists
    return json.dumps(data, indent=2).encode()


def _material(public_key: PublicKeyTypes, timestamps: Sequence[bytes] = ()
              ) -> VerificationMaterial:
    # sigstore-models (pydantic) loads only when a bundle is made or read
    from sigstore_models.bundle.v1 import TimestampVerificationData, VerificationMaterial
    from sigstore_models.common.v1 import PublicKeyIdentifier, RFC3161SignedTimestamp

    hint = PublicKeyIdentifier(hint=key_hint(public_key))
    stamps = TimestampVerificationData(rfc3161_timestamps=[
        RFC3161SignedTimestamp(signed_timestamp=_b64(t)) for t in timestamps]
    ) if timestamps else None
    return VerificationMaterial(public_key=hint, tlog_entries=[],
                                timestamp_verification_data=stamps)


def message_bundle(
    signer: Signer, blob: bytes, timestamper: Callable[[bytes], bytes] | None = None,
) -> tuple[bytes, bytes]:
    """Sign ``blob`` as ``cosign sign-blob --key`` does: (DER signature, bundle JSON).
    ``timestamper`` maps the signature to an RFC 3161 TimeStampResp (DER) for the bundle's
    ``timestampVerificationData``, its imprint the SHA-256 of the signature (sigstore-go)."""
    from sigstore_models.bundle.v1 import Bundle
    from sigstore_models.common.v1 import HashAlgorithm, HashOutput, MessageSignature

    public_key = signer.public_key()
    signature = signer.sign(blob, Scheme.SIGSTORE)
    name = (sigstore_hash(public_key) or hashes.SHA256()).name.replace("-", "")
    stamps = [timestamper(signature)] if timestamper else []
    bundle = Bundle(
        media_type=BUNDLE_V03,
        verification_material=_material(public_key, stamps),
        message_signature=MessageSignature(
            message_digest=HashOutput(algorithm=HashAlgorithm("SHA2_" + name[3:]),
                                      digest=_b64(hashlib.new(name, blob).digest())),
            signature=_b64(signature),
        ),
    )
    return signature, _to_json(bundle)


def dsse_bundle(signer: Signer, payload: bytes, payload_type: str = INTOTO) -> bytes:
    """A DSSE bundle over ``payload`` (cosign v3 image signatures and attestations)."""
    from sigstore_models.bundle.v1 import Bundle
    from sigstore_models.intoto import Envelope, Signature

    signature = signer.sign(pae(payload_type, payload), Scheme.SIGSTORE)
    bundle = Bundle(
        media_type=BUNDLE_V03,
        verification_material=_material(signer.public_key()),
        dsse_envelope=Envelope(payload=_b64(payload), payload_type=payload_type,
                               signatures=[Signature(sig=_b64(signature))]),
    )
    return _to_json(bundle)


def parse_bundle(data: bytes) -> Bundle:
    """Parse a bundle (any known media type); VerificationError names what is wrong."""
    from pydantic import ValidationError
    from sigstore_models.bundle.v1 import Bundle

    if len(data) > MAX_BUNDLE_BYTES:
        raise VerificationError(f"the bundle is {len(data)} bytes, over the 4 MiB limit")
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise VerificationError("the bundle is not JSON",
                                hint="a Sigstore bundle is protobuf JSON") from None
    if not isinstance(raw, dict):
        raise VerificationError("the bundle is not a JSON object")
    media_type = raw.get("mediaType")
    if media_type not in MEDIA_TYPES:
        raise VerificationError(f"unsupported bundle media type {media_type!r}",
                                hint="known: " + ", ".join(MEDIA_TYPES))
    raw = _drop_nulls(raw)  # protojson reads null as unset; sigstore-models refuses it
    material = raw.get("verificationMaterial")
    if isinstance(material, dict) and "tlogEntries" not in material:
        material["tlogEntries"] = []  # protojson omits it; sigstore-models requires it
    try:
        try:
            return Bundle.from_json(json.dumps(raw))
        except ValidationError as exc:
            if not all(e["loc"][:2] == ("verificationMaterial", "tlogEntries")
                       for e in exc.errors()):
                raise
            # sigstore-models wants inclusionProof, which v0.1 entries lack; the entries
            # are not checked offline (cosign --insecure-ignore-tlog), so they are dropped
            raw["verificationMaterial"]["tlogEntries"] = []
            return Bundle.from_json(json.dumps(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "bundle"
        raise VerificationError(f"invalid bundle: {where}: {err['msg']}") from None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@dataclass(frozen=True)
class Artifact:
    """What a message signature is checked against: the bytes, or only their digest."""

    data: bytes | None = None
    digest: bytes | None = None  # with algorithm, when only the digest is known
    algorithm: str = "sha256"


def _check_key_material(bundle: Bundle) -> None:
    material = bundle.verification_material
    if material.certificate is not None or material.x509_certificate_chain is not None:
        raise VerificationError("expected key signature, not certificate",
                                hint="this bundle was signed with a certificate (keyless); "
                                     "it cannot be verified with --sigstore-pubkey")
    if material.public_key is None:
        raise VerificationError("the bundle has no public key material")


def verify_signature(
    public_key: PublicKeyTypes, message: bytes, signature: bytes, *,
    prehashed: hashes.HashAlgorithm | None = None,
) -> None:
    """Check a cosign-style signature (DER ECDSA, RSA PKCS#1 v1.5, Ed25519) over
    ``message`` (or, with ``prehashed``, over the digest ``message``)."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            algorithm = prehashed or sigstore_hash(public_key)
            assert algorithm is not None
            alg: Any = Prehashed(algorithm) if prehashed else algorithm
            public_key.verify(signature, message, ec.ECDSA(alg))
        elif isinstance(public_key, rsa.RSAPublicKey):
            alg = Prehashed(prehashed) if prehashed else hashes.SHA256()
            public_key.verify(signature, message, padding.PKCS1v15(), alg)
        elif isinstance(public_key, ed25519.Ed25519PublicKey) and prehashed is None:
            public_key.verify(signature, message)
        else:
            raise VerificationError(f"unsupported key type {type(public_key).__name__}")
    except InvalidSignature:
        raise VerificationError("the signature does not verify with the given public key",
                                hint="check that the key is the one the artifact was signed "
                                     "with, and that the artifact is unchanged") from None


def verify_message_bundle(bundle: Bundle, public_key: PublicKeyTypes, artifact: Artifact) -> None:
    """A key-based message-signature bundle over ``artifact`` (VerificationError)."""
    _check_key_material(bundle)
    message = bundle.message_signature
    if message is None:
        raise VerificationError("the bundle holds a DSSE envelope, not a message signature")
    if message.message_digest is None:
        raise VerificationError("the bundle's message signature has no message digest")
    name = _HASHES.get(message.message_digest.algorithm.value)
    if name is None:
        raise VerificationError(
            f"unsupported message digest algorithm {message.message_digest.algorithm.value}")
    if artifact.data is not None:
        digest = hashlib.new(name, artifact.data).digest()
    elif artifact.algorithm == name and artifact.digest is not None:
        digest = artifact.digest
    else:
        raise VerificationError(f"the bundle's digest is {name}, not {artifact.algorithm}")
    if digest != message.message_digest.digest:
        raise VerificationError("the bundle's message digest does not match the artifact",
                                hint="the bundle was made for another file")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        if artifact.data is None:
            raise VerificationError("an Ed25519 signature needs the artifact, not its digest")
        verify_signature(public_key, artifact.data, message.signature)
        return
    verify_signature(public_key, digest, message.signature, prehashed=_PREHASH[name]())


def signed_timestamps(bundle: Bundle) -> list[bytes]:
    """The bundle's RFC 3161 timestamps (DER TimeStampResp each), unverified."""
    data = bundle.verification_material.timestamp_verification_data
    return [t.signed_timestamp for t in data.rfc3161_timestamps] if data else []


def verify_dsse_bundle(bundle: Bundle, public_key: PublicKeyTypes) -> tuple[str, bytes]:
    """A key-based DSSE bundle; returns its (payloadType, payload) once verified."""
    _check_key_material(bundle)
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise VerificationError("the bundle holds a message signature, not a DSSE envelope")
    if len(envelope.signatures) != 1:
        raise VerificationError(f"the DSSE envelope has {len(envelope.signatures)} signatures, "
                                "exactly one is required")
    verify_signature(public_key, pae(envelope.payload_type, envelope.payload),
                     envelope.signatures[0].sig)
    return envelope.payload_type, envelope.payload


def intoto_statement(digest: str, annotations: dict[str, str] | None = None) -> bytes:
    """cosign v3's image-signing statement: one subject (the digest), an empty predicate."""
    algorithm, _, hexpart = digest.partition(":")
    subject: dict[str, Any] = {"digest": {algorithm: hexpart}}
    if annotations:
        subject["annotations"] = annotations
    return json.dumps({"_type": INTOTO_STATEMENT, "subject": [subject],
                       "predicateType": COSIGN_SIGN_PREDICATE, "predicate": {}},
                      separators=(",", ":")).encode()


def intoto_subject_digests(payload_type: str, payload: bytes) -> list[str]:
    """The ``sha256:<hex>`` subject digests of an in-toto statement (VerificationError)."""
    if payload_type != INTOTO:
        raise VerificationError(f"unexpected DSSE payload type {payload_type!r}, "
                                f"expected {INTOTO}")
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        return [f"sha256:{s['digest']['sha256']}" for s in subjects
                if isinstance(s, dict) and isinstance(s.get("digest"), dict)
                and isinstance(s["digest"].get("sha256"), str)]
    except (*MALFORMED, UnicodeDecodeError):
        raise VerificationError("the DSSE payload is not an in-toto statement") from None
