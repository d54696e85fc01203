"""JWS/COSE signatures pushed into a real registry: what verifies, and every way it can't."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.envelopes import jws
from ocisign.envelopes.notary import SignRequest, build_payload
from ocisign.oci import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, Descriptor
from ocisign.signers.local import LocalSigner
from tests.envelopes.certs import make_cert, make_key
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.validate.conftest import (
    NOW,
    POLICIES,
    TRUST,
    e2e_signer,
    make_store,
    notary_sign,
    pem,
    push_envelope,
    validate,
)

pytestmark = pytest.mark.integration
STRICT = str(POLICIES / "trustpolicy.json")


def _image(registry: RunningRegistry, ref: str, archs: tuple[str, ...] = ("amd64",)) -> Any:
    digest = push_test_image(registry, ref, archs)
    store = registry.client().store(f"{registry.host}/{ref.split(':')[0]}")
    return store, store.resolve(digest)


def _run(registry: RunningRegistry, ref: str, store_dir: Path, *extra: str) -> tuple[int, str]:
    proc = validate(f"{registry.host}/{ref}", "--insecure-registry", "--trust-policy", STRICT,
                    "--trust-store", str(store_dir), "-o", str(store_dir / "failed.txt"), *extra)
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def trust(tmp_path: Path) -> Path:
    return make_store(tmp_path / "ts", {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_signed_single_and_index_verify(fmt: str, registry: RunningRegistry, trust: Path) -> None:
    store, desc = _image(registry, f"notary/{fmt}-single:v1")
    notary_sign(store, desc, e2e_signer(), envelope_format=fmt, user_metadata={"team": "a"})
    code, out = _run(registry, f"notary/{fmt}-single:v1", trust, "-v", "-m", "team=a")
    assert code == 0, out
    assert f"Successfully verified signature for {registry.host}/notary/{fmt}-single@" in out
    code, out = _run(registry, f"notary/{fmt}-single:v1", trust, "-m", "team=b")
    assert code == 1 and "unable to find specified metadata" in out

    store, index = _image(registry, f"notary/{fmt}-multi:v1", ("amd64", "arm64"))
    notary_sign(store, index, e2e_signer(), envelope_format=fmt)
    code, out = _run(registry, f"notary/{fmt}-multi:v1", trust)
    assert code == 0, out  # notation: what the reference names
    code, out = _run(registry, f"notary/{fmt}-multi:v1", trust, "-a", "amd64")
    assert code == 1 and "no signature is associated" in out  # -a: the platform too


def test_unsigned_fails(registry: RunningRegistry, trust: Path) -> None:
    _image(registry, "notary/unsigned:v1")
    code, out = _run(registry, "notary/unsigned:v1", trust)
    assert code == 1 and "no signature is associated" in out


def _jws_request(target: Descriptor, **changes: Any) -> SignRequest:
    fields: dict[str, Any] = {
        "target": {"mediaType": target.media_type, "digest": target.digest, "size": target.size},
        "signing_time": datetime.now(UTC) - timedelta(minutes=1),
        "signing_agent": "ocisign-test",
    }
    fields.update(changes)
    return SignRequest(**fields)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _flip_signature(envelope: bytes) -> bytes:
    doc = json.loads(envelope)
    sig = bytearray(_unb64(doc["signature"]))
    sig[10] ^= 0x01
    doc["signature"] = _b64url(bytes(sig))
    return json.dumps(doc).encode()


def _alter_payload(envelope: bytes) -> bytes:
    doc = json.loads(envelope)
    payload = json.loads(_unb64(doc["payload"]))
    payload["targetArtifact"]["annotations"] = {"added": "later"}
    doc["payload"] = _b64url(json.dumps(payload).encode())
    return json.dumps(doc).encode()


def _wrong_alg(envelope: bytes, signer: LocalSigner) -> bytes:
    doc = json.loads(envelope)
    header = json.loads(_unb64(doc["protected"]))
    header["alg"] = "ES256"  # the e2e key is RSA: PS256
    protected = _b64url(json.dumps(header).encode())
    doc["protected"] = protected
    doc["signature"] = _b64url(signer.sign(f"{protected}.{doc['payload']}".encode()))
    return json.dumps(doc).encode()


NEGATIVE = [
    "untrusted-cert", "non-code-signing", "unknown-critical", "wrong-alg", "flipped-byte",
    "altered-payload", "expired", "truncated", "oversized", "other-image", "two-layers",
]


REASONS = {
    "non-code-signing": "extendedKey",
    "unknown-critical": "not understood",
    "wrong-alg": "does not match the signing certificate's RSA-2048 key",
    "flipped-byte": "does not verify with the signing certificate's key",
    "altered-payload": "does not verify with the signing certificate's key",
    "truncated": "not JSON",
}


@pytest.mark.parametrize("case", NEGATIVE)
def test_bad_notary_signature_fails(case: str, registry: RunningRegistry, trust: Path) -> None:
    ref = f"notary/bad-{case}:v1"
    store, desc = _image(registry, ref)
    signer = e2e_signer()
    chain = signer.certificate_chain()
    envelope = b""
    expected = "integrity validation failed"
    if case == "untrusted-cert":
        key = make_key("RSA-2048")
        notary_sign(store, desc, LocalSigner(key, [make_cert(key, "stranger")]))
        expected = "authenticity validation failed"
    elif case == "non-code-signing":
        key = make_key("EC-256")
        cert = make_cert(key, "tls-server", eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                         not_before=NOW - timedelta(days=400), not_after=NOW + timedelta(days=3650))
        envelope = jws.build(_jws_request(desc), LocalSigner(key, [cert]))
        chain = [cert]
        make_store(trust, {"ca:e2e": [pem(cert)]})  # trusted, yet not a code-signing cert
    elif case == "unknown-critical":
        envelope = jws.build(
            _jws_request(desc, extended_attributes={"x-crit": "1"}, extended_critical=("x-crit",)),
            signer,
        )
    elif case == "wrong-alg":
        envelope = _wrong_alg(jws.build(_jws_request(desc), signer), signer)
    elif case == "flipped-byte":
        envelope = _flip_signature(jws.build(_jws_request(desc), signer))
    elif case == "altered-payload":
        envelope = _alter_payload(jws.build(_jws_request(desc), signer))
    elif case == "expired":
        notary_sign(store, desc, signer, expiry=timedelta(hours=1),
                    now=datetime(2023, 1, 1, tzinfo=UTC))
        expected = "expiry validation failed"
    elif case == "truncated":
        full = jws.build(_jws_request(desc), signer)
        envelope = full[: len(full) // 2]
    elif case == "oversized":
        envelope = b" " * (4 * 1024 * 1024 + 1)
        expected = "over the 4 MiB limit"
    elif case == "other-image":
        _, other = _image(registry, "notary/bad-other-source:v1")
        envelope = jws.build(_jws_request(other), signer)  # signed for another image
        expected = "content descriptor mismatch"
    elif case == "two-layers":
        good = jws.build(_jws_request(desc), signer)
        push_envelope(store, good, JWS_MEDIA_TYPE, desc, chain)
        _two_layer_referrer(store, desc, good)
        code, out = _run(registry, ref, trust)
        assert code == 0, out  # the good one is enough; the other fails alone
        return
    if envelope:
        push_envelope(store, envelope, JWS_MEDIA_TYPE, desc, chain)
    code, out = _run(registry, ref, trust)
    assert code == 1, out
    assert expected in out
    assert REASONS.get(case, "") in out
    assert f"FAIL: {registry.host}/{ref}" in out


def _two_layer_referrer(store: Any, subject: Descriptor, envelope: bytes) -> None:
    from ocisign.oci import EMPTY_JSON, NOTARY_SIGNATURE, OCI_MANIFEST

    store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
    layer = store.push_blob(envelope, JWS_MEDIA_TYPE).to_dict()
    doc = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": Descriptor.of(EMPTY_JSON, NOTARY_SIGNATURE).to_dict(),
        "layers": [layer, layer], "subject": subject.plain().to_dict(),
    }
    store.push_referrer(json.dumps(doc).encode(), OCI_MANIFEST)


def test_two_layer_manifest_alone_fails(registry: RunningRegistry, trust: Path) -> None:
    store, desc = _image(registry, "notary/two-layers-only:v1")
    _two_layer_referrer(store, desc, jws.build(_jws_request(desc), e2e_signer()))
    code, out = _run(registry, "notary/two-layers-only:v1", trust)
    assert code == 1 and "expected exactly one" in out


def test_max_signatures(registry: RunningRegistry, trust: Path) -> None:
    store, desc = _image(registry, "notary/many:v1")
    for _ in range(3):
        push_envelope(store, b"garbage", COSE_MEDIA_TYPE, desc)
        push_envelope(store, b"garbage" + bytes(_), COSE_MEDIA_TYPE, desc)
    notary_sign(store, desc, e2e_signer())
    code, out = _run(registry, "notary/many:v1", trust, "--max-signatures", "2")
    assert code == 1 and "limit of 2 signatures" in out
    code, out = _run(registry, "notary/many:v1", trust)
    assert code == 0, out


def test_payload_is_what_was_signed(registry: RunningRegistry, trust: Path, tmp_path: Path) -> None:
    """The json report carries the verified payload and the signer."""
    store, desc = _image(registry, "notary/report:v1")
    notary_sign(store, desc, e2e_signer(), envelope_format="cose")
    report = tmp_path / "r.json"
    code, out = _run(registry, "notary/report:v1", trust, "-r", str(report))
    assert code == 0, out
    image = json.loads(report.read_text())["results"][0]["images"][0]
    assert image["digest"] == desc.digest and image["signatureFormat"] == "cose"
    assert json.loads(image["payload"]) == json.loads(build_payload(
        {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}))
    assert "CN=e2e" in image["signer"] and image["certificateSubject"] == image["signer"]
