"""Notary Project JWS envelopes (``application/jose+json``), notation.md §4.1.

Writes the flattened JSON serialisation notation writes::

    {"payload":B64URL,"protected":B64URL,"header":{"x5c":[B64...],...},"signature":B64URL}

and parses it back with the full integrity check.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.envelopes import notary
from ocisign.errors import VerificationError
from ocisign.keys.algorithms import Scheme, key_spec, spec_for_jws_alg, verify_raw
from ocisign.oci import JWS_MEDIA_TYPE, NOTARY_PAYLOAD
from ocisign.util.encoding import decode_std, go_json

if TYPE_CHECKING:
    from ocisign.signers.base import Signer

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, what: str) -> bytes:
    """Strict base64url (no padding) -> bytes; VerificationError naming ``what``."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise VerificationError(f"JWS {what} is not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64std(data: bytes) -> str:
    """Standard base64 with padding (Go's ``[]byte`` JSON encoding)."""
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text: object, what: str) -> bytes:
    """Strict standard base64 with padding -> bytes."""
    return decode_std(text, what, VerificationError)


def protected_header(request: notary.SignRequest, alg: str) -> bytes:
    """The protected header JSON: keys sorted, compact (Go writes a map)."""
    header: dict[str, Any] = {
        "alg": alg,
        "crit": notary.critical_labels(request, extended_first=True),
        "cty": NOTARY_PAYLOAD,
        notary.H_SCHEME: request.signing_scheme,
    }
    time_label = notary.signing_time_label(request)
    header[time_label] = notary.format_time(request.signing_time)
    if request.expiry is not None:
        header[notary.H_EXPIRY] = notary.format_time(request.expiry)
    header.update(request.extended_attributes)
    return go_json({k: header[k] for k in sorted(header)})


def build(request: notary.SignRequest, signer: Signer) -> bytes:
    """Sign ``request`` with ``signer`` and return the flattened JWS JSON bytes."""
    notary.check_request(request)
    spec = key_spec(signer.key_spec())
    payload = b64url(notary.sorted_payload(notary.sanitize_target(request.target)))
    protected = b64url(protected_header(request, spec.jws_alg))
    signature = signer.sign(f"{protected}.{payload}".encode("ascii"), Scheme.NOTARY)

    header: dict[str, Any] = {
        "x5c": [b64std(c.public_bytes(Encoding.DER)) for c in signer.certificate_chain()]
    }
    if request.signing_agent:
        header[notary.H_SIGNING_AGENT] = request.signing_agent
    token = request.timestamp(signature, spec.hashlib_name)
    if token is not None:
        header[notary.H_TIMESTAMP] = b64std(token)
    envelope = {
        "payload": payload,
        "protected": protected,
        "header": header,
        "signature": b64url(signature),
    }
    return go_json(envelope)


def _time(value: object, label: str) -> datetime:
    if not isinstance(value, str):
        raise VerificationError(f"{label} must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise VerificationError(f"{label} is not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None or "T" not in value.upper():
        raise VerificationError(f"{label} is not an RFC 3339 time with a zone: {value!r}")
    return parsed


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise VerificationError(f"the JWS {what} is not JSON") from None
    if not isinstance(value, dict):
        raise VerificationError(f"the JWS {what} is not a JSON object")
    return value


def parse(data: bytes) -> notary.ParsedEnvelope:
    """Parse a JWS envelope and check its integrity; VerificationError says what is wrong."""
    notary.check_size(data)
    envelope = _json_object(data, "envelope")
    for member in ("payload", "protected", "header", "signature"):
        if member not in envelope:
            raise VerificationError(f"the JWS envelope has no {member!r} member")
    protected_b64 = envelope["protected"]
    payload_b64 = envelope["payload"]
    protected_raw = b64url_decode(protected_b64, "protected header")
    payload = b64url_decode(payload_b64, "payload")
    signature = b64url_decode(envelope["signature"], "signature")
    protected = _json_object(protected_raw, "protected header")
    header = envelope["header"]
    if not isinstance(header, dict):
        raise VerificationError("the JWS unprotected header is not a JSON object")

    spec = spec_for_jws_alg(protected.get("alg"))
    attributes = {k: v for k, v in protected.items() if k not in ("alg", "cty", "crit")}
    for label in notary.TIME_LABELS:
        if label in attributes:
            attributes[label] = _time(attributes[label], label)
    signed = notary.check_attributes(protected.get("cty"), protected.get("crit"), attributes)

    x5c = header.get("x5c")
    if not isinstance(x5c, list):
        raise VerificationError("the JWS header has no x5c certificate list")
    chain = notary.load_chain([b64std_decode(c, "an x5c certificate") for c in x5c])
    verify_raw(
        chain[0].public_key(),
        spec,
        f"{protected_b64}.{payload_b64}".encode("ascii"),
        signature,
        any_pss_salt=True,
    )
    token = None
    if notary.H_TIMESTAMP in header:
        token = b64std_decode(header[notary.H_TIMESTAMP], "the timestamp signature")
    agent = header.get(notary.H_SIGNING_AGENT, "")
    return signed.envelope(JWS_MEDIA_TYPE, payload, chain, algorithm=spec.jws_alg,
                           signature=signature, timestamp_token=token, signing_agent=agent)


notary.register(notary.Codec("jws", JWS_MEDIA_TYPE, build, parse, notary.sorted_payload))
