"""Notary Project COSE envelopes (``application/cose``), notation.md §4.2.

``COSE_Sign1_Tagged`` (tag 18) over ``[protected bstr, unprotected map, payload, signature]``
with the payload attached; hand-rolled on cbor2 + cryptography.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cbor2
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.envelopes import notary
from ocisign.errors import VerificationError
from ocisign.keys.algorithms import Scheme, key_spec, spec_for_cose_alg, verify_raw
from ocisign.oci import COSE_MEDIA_TYPE, NOTARY_PAYLOAD

if TYPE_CHECKING:
    from ocisign.signers.base import Signer

COSE_SIGN1_TAG = 18
ALG, CRIT, CONTENT_TYPE, X5CHAIN = 1, 2, 3, 33
# keep time tags as CBORTag so untagged or string times can be told apart and refused
_KEEP_TAGS: dict[int, Any] = {
    0: lambda value, _immutable: cbor2.CBORTag(0, value),
    1: lambda value, _immutable: cbor2.CBORTag(1, value),
}


def _epoch(value: datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(1, int(value.timestamp()))


def protected_header(request: notary.SignRequest, alg: int) -> bytes:
    """The encoded protected header map, in length-first canonical key order (go-cose)."""
    header: dict[Any, Any] = {
        ALG: alg,
        CRIT: notary.critical_labels(request, extended_first=False),
        CONTENT_TYPE: NOTARY_PAYLOAD,
        notary.H_SCHEME: request.signing_scheme,
    }
    time_label = notary.signing_time_label(request)
    header[time_label] = _epoch(request.signing_time)
    if request.expiry is not None:
        header[notary.H_EXPIRY] = _epoch(request.expiry)
    header.update(request.extended_attributes)
    return bytes(cbor2.dumps(header, canonical=True))


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 ``Sig_structure`` for COSE_Sign1 with empty external AAD."""
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def build(request: notary.SignRequest, signer: Signer) -> bytes:
    """Sign ``request`` with ``signer``; returns the tagged COSE_Sign1 bytes."""
    notary.check_request(request)
    spec = key_spec(signer.key_spec())
    payload = notary.struct_payload(notary.sanitize_target(request.target))
    protected = protected_header(request, spec.cose_alg)
    signature = signer.sign(sig_structure(protected, payload), Scheme.NOTARY)
    unprotected: dict[Any, Any] = {
        X5CHAIN: [c.public_bytes(Encoding.DER) for c in signer.certificate_chain()]
    }
    if request.signing_agent:
        unprotected[notary.H_SIGNING_AGENT] = request.signing_agent
    token = request.timestamp(signature, spec.hashlib_name)
    if token is not None:
        unprotected[notary.H_TIMESTAMP] = token
    message = cbor2.CBORTag(COSE_SIGN1_TAG, [protected, unprotected, payload, signature])
    return bytes(cbor2.dumps(message))


def _loads(data: bytes, what: str) -> Any:
    """Decode exactly one CBOR item (no trailing bytes, no duplicate keys)."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream, semantic_decoders=_KEEP_TAGS, allow_duplicate_keys=False, max_depth=16
        )
        value = decoder.decode()
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise VerificationError(f"the COSE {what} is not valid CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise VerificationError(f"the COSE {what} has trailing bytes")
    return value


def _time(value: object, label: str) -> datetime:
    if not (
        isinstance(value, cbor2.CBORTag)
        and value.tag == 1
        and isinstance(value.value, int)
        and not isinstance(value.value, bool)
    ):
        raise VerificationError(f"{label} must be a CBOR tag 1 integer (epoch seconds)")
    try:
        return datetime.fromtimestamp(value.value, UTC)
    except (OverflowError, OSError, ValueError):
        raise VerificationError(f"{label} is out of range") from None


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def parse(data: bytes) -> notary.ParsedEnvelope:
    """Parse a COSE_Sign1 envelope and check its integrity (VerificationError otherwise)."""
    notary.check_size(data)
    message = _loads(data, "envelope")
    if not isinstance(message, cbor2.CBORTag) or message.tag != COSE_SIGN1_TAG:
        raise VerificationError("the envelope is not a tagged COSE_Sign1 message (tag 18)")
    parts = message.value
    if not _is_list(parts) or len(parts) != 4:
        raise VerificationError("COSE_Sign1 must be an array of four items")
    protected_raw, unprotected, payload, signature = parts
    if not isinstance(protected_raw, bytes) or not protected_raw:
        raise VerificationError("the COSE protected header must be a non-empty byte string")
    if not isinstance(unprotected, Mapping):
        raise VerificationError("the COSE unprotected header must be a map")
    if payload is None:
        raise VerificationError("detached COSE payloads are not supported")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise VerificationError("the COSE payload and signature must be byte strings")
    protected = _loads(protected_raw, "protected header")
    if not isinstance(protected, Mapping):
        raise VerificationError("the COSE protected header is not a map")

    spec = spec_for_cose_alg(protected.get(ALG))
    content_type = protected.get(CONTENT_TYPE)
    attributes: dict[str, Any] = {}
    for label, value in protected.items():
        if isinstance(label, str):
            attributes[label] = _time(value, label) if label in notary.TIME_LABELS else value
        elif label not in (ALG, CRIT, CONTENT_TYPE):
            raise VerificationError(f"unsupported COSE protected header label {label!r}")
    signed = notary.check_attributes(content_type, protected.get(CRIT), attributes)

    x5chain: Any = unprotected.get(X5CHAIN)
    if not _is_list(x5chain) or not all(isinstance(c, bytes) for c in x5chain):
        raise VerificationError("the COSE x5chain (33) must be an array of DER certificates")
    chain = notary.load_chain(list(x5chain))
    verify_raw(chain[0].public_key(), spec, sig_structure(protected_raw, payload), signature)
    token = unprotected.get(notary.H_TIMESTAMP)
    if token is not None and not isinstance(token, bytes):
        raise VerificationError("the COSE timestamp signature must be a byte string")
    agent = unprotected.get(notary.H_SIGNING_AGENT, "")
    return signed.envelope(COSE_MEDIA_TYPE, payload, chain, algorithm=spec.jws_alg,
                           signature=signature, timestamp_token=token, signing_agent=agent)


notary.register(notary.Codec("cose", COSE_MEDIA_TYPE, build, parse, notary.struct_payload))
