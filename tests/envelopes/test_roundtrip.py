"""Our JWS and COSE envelopes for every key type, re-verified by independent code:
jwcrypto for JWS, a small cbor2 + cryptography verifier (below) for COSE."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto import jwk
from jwcrypto import jws as jwc_jws
from jwcrypto.common import JWSEHeaderParameter

from ocisign.envelopes import cose, jws
from ocisign.envelopes.notary import (
    H_EXPIRY,
    H_SCHEME,
    H_SIGNING_TIME,
    H_VERIFICATION_PLUGIN,
    SCHEME_SIGNING_AUTHORITY,
    SignRequest,
    parse_envelope,
)
from ocisign.errors import VerificationError
from ocisign.oci import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, NOTARY_PAYLOAD
from ocisign.signers.local import LocalSigner
from tests.envelopes.certs import NOW
from tests.envelopes.conftest import NOTATION, local_signer

TARGET = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + "ab" * 32,
    "size": 1234,
    "annotations": {"purpose": "test", "a&b": "<x>"},
}
ALGS = {
    "RSA-2048": ("PS256", -37),
    "RSA-3072": ("PS384", -38),
    "RSA-4096": ("PS512", -39),
    "EC-256": ("ES256", -7),
    "EC-384": ("ES384", -35),
    "EC-521": ("ES512", -36),
}
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _request(**changes: Any) -> SignRequest:
    fields: dict[str, Any] = {
        "target": TARGET,
        "signing_time": NOW,
        "expiry": NOW + timedelta(hours=12),
        "signing_agent": "ocisign/test",
    }
    fields.update(changes)
    return SignRequest(**fields)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- JWS ---------------------------------------------------------------------------


def test_jws_for_every_key_verifies_with_jwcrypto(signer: LocalSigner) -> None:
    data = jws.build(_request(), signer)
    alg = ALGS[signer.key_spec()][0]
    envelope = json.loads(data)
    assert list(envelope) == ["payload", "protected", "header", "signature"]
    protected_raw = _b64url(envelope["protected"])
    protected = json.loads(protected_raw)
    assert list(protected) == sorted(protected)
    assert b" " not in protected_raw
    assert protected["alg"] == alg and protected["cty"] == NOTARY_PAYLOAD
    assert protected["crit"] == [H_SCHEME, H_EXPIRY]
    assert protected[H_SIGNING_TIME] == "2026-01-02T03:04:05Z"
    assert protected[H_EXPIRY] == "2026-01-02T15:04:05Z"
    leaf = signer.certificate_chain()[0]
    assert envelope["header"]["x5c"] == [base64.b64encode(leaf.public_bytes(Encoding.DER)).decode()]
    payload = _b64url(envelope["payload"])
    assert payload == (
        b'{"targetArtifact":{"annotations":{"a\\u0026b":"\\u003cx\\u003e","purpose":"test"},'
        b'"digest":"sha256:' + b"ab" * 32 + b'","mediaType":'
        b'"application/vnd.oci.image.manifest.v1+json","size":1234}}'
    )
    # independent check: jwcrypto, with the notary crit labels registered
    registry = {
        label: JWSEHeaderParameter("notary", True, True, None)
        for label in (H_SCHEME, H_SIGNING_TIME, H_EXPIRY)
    }
    token = jwc_jws.JWS(header_registry=registry)
    token.deserialize(data.decode())
    token.verify(jwk.JWK.from_pyca(leaf.public_key()), alg=alg)
    assert token.payload == payload
    # and our own parser
    parsed = jws.parse(data)
    assert parsed.algorithm == alg and parsed.target == TARGET
    assert parsed.signing_time == NOW and parsed.expiry == NOW + timedelta(hours=12)
    assert parsed.signing_agent == "ocisign/test"


def test_jws_conformance_protected_header_order() -> None:
    """Our protected header for the conformance inputs equals core-go's bytes."""
    conf = json.loads((NOTATION / "envelopes/conformance/jws/conformance.json").read_bytes())
    expected = _b64url(conf["protected"])
    value = "signedValue1"
    request = _request(
        target=TARGET,
        signing_time=datetime(2022, 8, 29, 13, 50, tzinfo=UTC),
        expiry=datetime(2099, 8, 30, 13, 50, tzinfo=UTC),
        extended_attributes={
            "signedCritKey1": "signedCritValue1",
            **{f"signedKey{i}": value for i in range(1, 5)},
        },
        extended_critical=("signedCritKey1",),
    )
    assert jws.protected_header(request, "ES256") == expected


# --- COSE --------------------------------------------------------------------------


def independent_cose_verify(data: bytes) -> tuple[dict[Any, Any], dict[Any, Any], bytes]:
    """A second, minimal COSE_Sign1 verifier (does not use ocisign.envelopes.cose)."""
    message = cbor2.loads(data)
    assert isinstance(message, cbor2.CBORTag) and message.tag == 18
    protected_raw, unprotected, payload, signature = message.value
    protected = cbor2.loads(
        protected_raw, semantic_decoders={1: lambda value, _immutable: ("epoch", value)}
    )
    chain = unprotected[33]
    assert isinstance(chain, list | tuple)
    leaf = x509.load_der_x509_certificate(chain[0])
    to_be_signed = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    alg = protected[1]
    key = leaf.public_key()
    bits = {-37: "256", -38: "384", -39: "512", -7: "256", -35: "384", -36: "512"}[alg]
    digest = HASHES[bits]()
    if isinstance(key, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(HASHES[bits]()), salt_length=digest.digest_size)
        key.verify(signature, to_be_signed, pss, digest)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        half = len(signature) // 2
        assert half == (key.curve.key_size + 7) // 8
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        key.verify(der, to_be_signed, ec.ECDSA(digest))
    return dict(protected), dict(unprotected), payload


def test_cose_for_every_key_verifies_independently(signer: LocalSigner) -> None:
    data = cose.build(_request(), signer)
    protected, unprotected, payload = independent_cose_verify(data)
    assert protected[1] == ALGS[signer.key_spec()][1]
    assert protected[2] == [H_SCHEME, H_EXPIRY]
    assert protected[3] == NOTARY_PAYLOAD
    assert protected[H_SIGNING_TIME] == ("epoch", int(NOW.timestamp()))
    assert protected[H_EXPIRY] == ("epoch", int((NOW + timedelta(hours=12)).timestamp()))
    assert isinstance(unprotected[33], list | tuple) and len(unprotected[33]) == 1
    assert unprotected["io.cncf.notary.signingAgent"] == "ocisign/test"
    assert payload.startswith(b'{"targetArtifact":{"mediaType":')  # struct order
    parsed = cose.parse(data)
    assert parsed.target == TARGET and parsed.signing_time == NOW
    assert parsed.algorithm == ALGS[signer.key_spec()][0]


def test_cose_conformance_protected_header_bytes() -> None:
    conf = json.loads((NOTATION / "envelopes/conformance/cose/conformance.json").read_bytes())
    request = _request(
        signing_time=datetime.fromtimestamp(conf["signingTime"], UTC),
        expiry=datetime.fromtimestamp(conf["expiry"], UTC),
        extended_attributes={"signedKey1": "signedValue1", "signedCritKey1": "signedCritValue1"},
        extended_critical=("signedCritKey1",),
    )
    expected = bytes.fromhex(conf["protectedHeaders"]["cborHex"])
    assert cose.protected_header(request, -38) == expected
    # the full message: same framing; the PSS signature itself is randomised
    message = bytes.fromhex(conf["expectedOutput"]["cborHex"])
    unprotected = bytes.fromhex(conf["unprotectedHeaders"]["cborHex"])
    payload = bytes.fromhex(conf["payload"])
    head = b"\xd2\x84" + cbor2.dumps(expected) + unprotected + cbor2.dumps(payload)
    assert message.startswith(head)


def test_cose_signing_authority_scheme() -> None:
    signer = local_signer("EC-256")
    data = cose.build(_request(signing_scheme=SCHEME_SIGNING_AUTHORITY), signer)
    parsed = cose.parse(data)
    assert parsed.signing_time is None and parsed.authentic_signing_time == NOW
    protected, _, _ = independent_cose_verify(data)
    assert protected[2] == [H_SCHEME, "io.cncf.notary.authenticSigningTime", H_EXPIRY]


# --- checks shared by both formats -------------------------------------------------


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_unknown_critical_attribute_needs_verification_plugin(media_type: str) -> None:
    signer = local_signer("EC-256")
    module = jws if media_type == JWS_MEDIA_TYPE else cose
    bad = _request(extended_attributes={"x-crit": "1"}, extended_critical=("x-crit",))
    with pytest.raises(VerificationError, match="not understood"):
        parse_envelope(media_type, module.build(bad, signer))
    good = _request(
        extended_attributes={"x-crit": "1", H_VERIFICATION_PLUGIN: "my-plugin"},
        extended_critical=("x-crit", H_VERIFICATION_PLUGIN),
    )
    parsed = parse_envelope(media_type, module.build(good, signer))
    assert parsed.verification_plugin == "my-plugin"
    assert parsed.extended_critical == ["x-crit", H_VERIFICATION_PLUGIN]


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_leaf_key_must_match_signature(media_type: str) -> None:
    """A chain whose leaf is not the signing key fails the integrity check."""
    module = jws if media_type == JWS_MEDIA_TYPE else cose
    real = local_signer("EC-256")
    other = local_signer("RSA-2048")

    class Mixed(LocalSigner):
        def certificate_chain(self) -> list[x509.Certificate]:
            return other.certificate_chain()

    mixed = Mixed(real._key, real.certificate_chain())
    with pytest.raises(VerificationError, match="does not match"):
        parse_envelope(media_type, module.build(_request(), mixed))


def test_jws_tampering_detected() -> None:
    signer = local_signer("RSA-2048")
    envelope = json.loads(jws.build(_request(), signer))
    payload = json.loads(_b64url(envelope["payload"]))
    payload["targetArtifact"]["size"] = 1
    envelope["payload"] = (
        base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    )
    with pytest.raises(VerificationError, match="does not verify"):
        jws.parse(json.dumps(envelope).encode())


def test_jws_wrong_cty_and_missing_crit_refused() -> None:
    signer = local_signer("EC-256")

    def resign(header: dict[str, Any]) -> bytes:
        protected = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
        envelope = json.loads(jws.build(_request(), signer))
        signature = signer.sign(f"{protected}.{envelope['payload']}".encode())
        envelope["protected"] = protected
        envelope["signature"] = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        return json.dumps(envelope).encode()

    base = json.loads(_b64url(json.loads(jws.build(_request(), signer))["protected"]))
    assert jws.parse(resign(base))  # re-signing itself is fine
    with pytest.raises(VerificationError, match="content type"):
        jws.parse(resign({**base, "cty": "application/json"}))
    with pytest.raises(VerificationError, match="must be marked critical"):
        jws.parse(resign({**base, "crit": [H_SCHEME]}))
    with pytest.raises(VerificationError, match="is not present"):
        jws.parse(resign({**base, "crit": [H_SCHEME, H_EXPIRY, "nope"]}))
    with pytest.raises(VerificationError, match="expiry is not after"):
        jws.parse(resign({**base, H_EXPIRY: base[H_SIGNING_TIME]}))
    no_time = {k: v for k, v in base.items() if k != H_SIGNING_TIME}
    with pytest.raises(VerificationError, match="signingTime is required"):
        jws.parse(resign(no_time))
    with pytest.raises(VerificationError, match="does not match"):
        jws.parse(resign({**base, "alg": "PS256"}))


def test_cose_single_bstr_x5chain_refused() -> None:
    signer = local_signer("EC-256")
    message = cbor2.loads(cose.build(_request(), signer))
    protected, unprotected, payload, signature = message.value
    unprotected = dict(unprotected)
    unprotected[33] = unprotected[33][0]
    data = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))
    with pytest.raises(VerificationError, match="x5chain"):
        cose.parse(data)
    untagged = cbor2.dumps([protected, dict(message.value[1]), payload, signature])
    with pytest.raises(VerificationError, match="tag 18"):
        cose.parse(untagged)


def test_cose_untagged_time_refused() -> None:
    signer = local_signer("EC-256")
    message = cbor2.loads(cose.build(_request(), signer))
    _, unprotected, payload, _ = message.value
    header = {
        1: -7,
        2: [H_SCHEME],
        3: NOTARY_PAYLOAD,
        H_SCHEME: "notary.x509",
        H_SIGNING_TIME: int(NOW.timestamp()),
    }
    protected = cbor2.dumps(header)
    signature = signer.sign(cbor2.dumps(["Signature1", protected, b"", payload]))
    data = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), payload, signature]))
    with pytest.raises(VerificationError, match="tag 1"):
        cose.parse(data)


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_truncations_and_garbage_never_crash(media_type: str) -> None:
    """Every prefix and many byte flips raise VerificationError, nothing else."""
    module = jws if media_type == JWS_MEDIA_TYPE else cose
    data = module.build(_request(), local_signer("EC-256"))
    step = max(1, len(data) // 300)
    variants = [data[:n] for n in range(0, len(data), step)]
    for position in range(0, len(data), step):
        for flip in (0x01, 0x80, 0xFF):
            variants.append(data[:position] + bytes([data[position] ^ flip]) + data[position + 1 :])
    variants += [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'{"payload":1,"protected":[],"header":2,"signature":{}}',
        b"\xd2\x80",
        b"\xd2\x84\x40\xa0\x40\x40",
        b"\xff" * 10,
    ]
    for variant in variants:
        try:
            parse_envelope(media_type, variant)
        except VerificationError as exc:
            assert exc.message
        # a flip inside an unsigned header value (e.g. the agent) may still verify


def test_wrong_json_types_refused() -> None:
    signer = local_signer("EC-256")
    good = json.loads(jws.build(_request(), signer))
    for member, value in [
        ("payload", 5),
        ("protected", None),
        ("header", []),
        ("signature", "!!"),
        ("header", {"x5c": "abc"}),
        ("header", {"x5c": ["not base64!"]}),
        ("header", {"x5c": ["aGVsbG8="]}),
        ("header", {"x5c": []}),
    ]:
        with pytest.raises(VerificationError):
            jws.parse(json.dumps({**good, member: value}).encode())


def test_oversized_envelope_refused() -> None:
    with pytest.raises(VerificationError, match="more than"):
        jws.parse(b" " * (4 * 1024 * 1024 + 1))


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_deep_nesting_refused(media_type: str) -> None:
    for data in (b"[" * 200_000, b"\x81" * 200_000, b'{"payload":' + b"[" * 100_000):
        with pytest.raises(VerificationError):
            parse_envelope(media_type, data)
