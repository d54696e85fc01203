"""Signature manifests, sign_descriptor and --expiry parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.cli._flags import parse_expiry
from ocisign.envelopes.notary import (
    CREATED_ANNOTATION,
    THUMBPRINT_ANNOTATION,
    parse_envelope,
    signature_manifest,
)
from ocisign.errors import CertificateError, SignatureError, UsageError
from ocisign.notary.sign import sign_descriptor
from ocisign.oci import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, OCI_MANIFEST, Descriptor
from ocisign.signers.local import LocalSigner
from tests.envelopes.certs import NOW, make_cert, make_key
from tests.envelopes.conftest import NOTATION, local_signer

LAYOUT = NOTATION / "oci-layouts/e2e-valid-signature"
SIGNATURE_MANIFEST = "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f"
SUBJECT = Descriptor(
    OCI_MANIFEST, "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9", 517
)


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / digest.replace(":", "/")).read_bytes()


def test_signature_manifest_reproduces_notation_bytes() -> None:
    expected = _blob(LAYOUT, SIGNATURE_MANIFEST)
    layer = json.loads(expected)["layers"][0]
    envelope = _blob(LAYOUT, layer["digest"])
    parsed = parse_envelope(layer["mediaType"], envelope)
    assert parsed.signing_time is not None
    manifest, descriptor = signature_manifest(
        envelope, JWS_MEDIA_TYPE, SUBJECT, parsed.cert_chain, parsed.signing_time
    )
    assert json.loads(manifest) == json.loads(expected)  # field by field
    assert list(json.loads(manifest)) == list(json.loads(expected))  # same order
    assert manifest == expected  # and byte for byte
    assert descriptor.digest == SIGNATURE_MANIFEST and descriptor.size == 728
    # the referrers tag index entry carries the same annotations
    index = json.loads(
        _blob(LAYOUT, "sha256:13e107e0dd246f07ff18998a3d39e226965c41477a1bc1765f7617632ff3f283")
    )
    assert index["manifests"][0]["annotations"] == descriptor.annotations


def test_signature_manifest_extra_annotations_cannot_override() -> None:
    signer = local_signer("EC-256")
    manifest, descriptor = signature_manifest(
        b"env",
        COSE_MEDIA_TYPE,
        SUBJECT,
        signer.certificate_chain(),
        NOW,
        {"zz.plugin": "1", CREATED_ANNOTATION: "bogus"},
    )
    data = json.loads(manifest)
    assert list(data["annotations"]) == [THUMBPRINT_ANNOTATION, CREATED_ANNOTATION, "zz.plugin"]
    assert data["annotations"][CREATED_ANNOTATION] == "2026-01-02T03:04:05Z"
    assert "artifactType" not in data and data["layers"][0]["mediaType"] == COSE_MEDIA_TYPE
    assert descriptor.annotations == data["annotations"]


def test_e2e_key_signs_like_notation(e2e_signer: LocalSigner) -> None:
    """Sign the e2e subject with the e2e key: same payload and manifest shape as notation."""
    result = sign_descriptor(SUBJECT, e2e_signer, now=datetime(2030, 1, 1, tzinfo=UTC))
    vector = json.loads(_blob(LAYOUT, SIGNATURE_MANIFEST))
    ours = json.loads(result.manifest)
    assert list(ours) == list(vector)
    assert ours["config"] == vector["config"] and ours["subject"] == vector["subject"]
    assert (
        ours["annotations"][THUMBPRINT_ANNOTATION] == vector["annotations"][THUMBPRINT_ANNOTATION]
    )
    vector_envelope = parse_envelope(JWS_MEDIA_TYPE, _blob(LAYOUT, vector["layers"][0]["digest"]))
    assert result.parsed.payload == vector_envelope.payload  # identical payload bytes
    assert result.parsed.algorithm == "PS256"
    assert result.parsed.signing_agent == "ocisign/0.1.0"


@pytest.mark.parametrize("envelope_format", ["jws", "cose"])
def test_sign_descriptor_with_metadata_and_expiry(envelope_format: str) -> None:
    signer = local_signer("EC-384")
    result = sign_descriptor(
        SUBJECT,
        signer,
        envelope_format=envelope_format,
        expiry=parse_expiry("3h20m"),
        user_metadata={"buildId": "42"},
        now=NOW + timedelta(microseconds=999),
    )
    assert result.media_type == (JWS_MEDIA_TYPE if envelope_format == "jws" else COSE_MEDIA_TYPE)
    assert result.parsed.signing_time == NOW  # truncated to whole seconds
    assert result.parsed.expiry == NOW + timedelta(hours=3, minutes=20)
    assert result.parsed.target["annotations"] == {"buildId": "42"}
    manifest = json.loads(result.manifest)
    assert manifest["subject"] == SUBJECT.to_dict()  # no user metadata in the subject
    assert manifest["layers"][0]["digest"] == Descriptor.of(result.envelope, "x").digest
    assert result.manifest_descriptor.digest == Descriptor.of(result.manifest, "x").digest
    assert result.annotations[CREATED_ANNOTATION] == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"io.cncf.notary.x": "1"}, "reserved prefix"),
        ({"": "1"}, "non-empty"),
        ({"k": ""}, "non-empty"),
        ({"already": "2"}, "already present"),
    ],
)
def test_user_metadata_refused(metadata: dict[str, str], message: str) -> None:
    target = Descriptor(SUBJECT.media_type, SUBJECT.digest, SUBJECT.size, {"already": "1"})
    with pytest.raises(UsageError, match=message):
        sign_descriptor(target, local_signer("EC-256"), user_metadata=metadata, now=NOW)


def test_bad_chain_fails_signing() -> None:
    key = make_key("EC-256")
    expired = make_cert(
        key, "old", not_after=NOW - timedelta(days=1), not_before=NOW - timedelta(days=3)
    )
    with pytest.raises(CertificateError, match="not valid at the signing time"):
        sign_descriptor(SUBJECT, LocalSigner(key, [expired]), now=NOW)
    server = make_cert(key, "tls", eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    with pytest.raises(CertificateError, match="serverAuth"):
        sign_descriptor(SUBJECT, LocalSigner(key, [server]), now=NOW)


def test_local_signer_refuses_mismatched_key() -> None:
    from ocisign.errors import KeyFileError

    with pytest.raises(KeyFileError, match="does not match"):
        LocalSigner(make_key("EC-256"), local_signer("EC-256").certificate_chain())
    with pytest.raises(SignatureError, match="unsupported RSA key size 1024"):
        from cryptography.hazmat.primitives.asymmetric import rsa

        small = rsa.generate_private_key(65537, 1024)
        LocalSigner(small, [make_cert(small, "small")])


def test_unknown_format_refused() -> None:
    with pytest.raises(SignatureError, match="unknown signature format"):
        sign_descriptor(SUBJECT, local_signer("EC-256"), envelope_format="xml", now=NOW)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12h", 43200),
        ("30m", 1800),
        ("3h20m", 12000),
        ("90s", 90),
        ("0", 0),
        ("1.5h", 5400),
        ("1500ms", None),
        ("2000ms", 2),
        ("1h0m0s", 3600),
        ("+5m", 300),
        ("0s", 0),
        (".5m", 30),
        ("0.25s0.75s", 1),  # fractions of two lengths add up exactly
        ("0.5s1.25s", None),
        ("1.5m0.000000001s", None),
        ("0.0000000001h", None),
        ("2562047h", 2562047 * 3600),
    ],
)
def test_parse_expiry(text: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(UsageError, match="whole number of seconds"):
            parse_expiry(text)
    else:
        assert parse_expiry(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "12", "h", "1d", "-5m", "5 m", "1h-2m", "abc", "1.2.3s"])
def test_parse_expiry_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_expiry(text)
