"""Every real notation envelope in tests/data/notation: valid ones parse and verify,
broken ones are refused with a reason."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocisign.envelopes.notary import (
    SCHEME_SIGNING_AUTHORITY,
    SCHEME_X509,
    parse_envelope,
    thumbprints,
)
from ocisign.errors import VerificationError
from ocisign.keys.codesigning import validate_signing_chain
from ocisign.oci import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, NOTARY_SIGNATURE
from tests.envelopes.conftest import NOTATION

ENVELOPES = NOTATION / "envelopes"
LAYOUTS = NOTATION / "oci-layouts"


def _blob(layout: Path, digest: str) -> bytes:
    data = (layout / "blobs" / digest.replace(":", "/")).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def _signatures(layout: Path) -> list[tuple[dict, dict]]:
    """(signature manifest, its layer descriptor) for every Notary signature in a layout."""
    found = []
    for blob in (layout / "blobs/sha256").iterdir():
        try:
            manifest = json.loads(blob.read_bytes())
        except ValueError:
            continue
        if (
            isinstance(manifest, dict)
            and manifest.get("config", {}).get("mediaType") == NOTARY_SIGNATURE
        ):
            found.append((manifest, manifest["layers"][0]))
    return found


VALID_LAYOUTS = {
    "e2e-valid-signature": 1,
    "e2e-valid-multiple-signatures": 2,
    "e2e-expired-signature": 1,
    "e2e-with-expired-cert": 1,
    "e2e-with-timestamped-signature": 1,
    "e2e-with-invalid-timestamped-signature": 1,  # bad token: the timestamp check's job
}


@pytest.mark.parametrize("layout_name", sorted(VALID_LAYOUTS))
def test_layout_signatures_verify_and_match_subject(layout_name: str) -> None:
    layout = LAYOUTS / layout_name
    signatures = _signatures(layout)
    assert len(signatures) == VALID_LAYOUTS[layout_name]
    for manifest, layer in signatures:
        parsed = parse_envelope(layer["mediaType"], _blob(layout, layer["digest"]))
        subject = manifest["subject"]
        _blob(layout, subject["digest"])  # the subject manifest is in the layout
        for key in ("mediaType", "digest", "size"):
            assert parsed.target[key] == subject[key]
        assert parsed.signing_scheme == SCHEME_X509
        assert parsed.algorithm == "PS256"
        thumbs = json.loads(manifest["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"])
        assert thumbs == thumbprints(parsed.cert_chain)


def test_expired_signature_vector_carries_expiry() -> None:
    ((_manifest, layer),) = _signatures(LAYOUTS / "e2e-expired-signature")
    parsed = parse_envelope(
        layer["mediaType"], _blob(LAYOUTS / "e2e-expired-signature", layer["digest"])
    )
    assert parsed.expiry is not None and parsed.signing_time is not None
    assert (parsed.expiry - parsed.signing_time).total_seconds() == 60


def test_timestamped_vector_has_token_and_user_metadata() -> None:
    layout = LAYOUTS / "e2e-with-timestamped-signature"
    ((_, layer),) = _signatures(layout)
    parsed = parse_envelope(layer["mediaType"], _blob(layout, layer["digest"]))
    assert parsed.timestamp_token and parsed.timestamp_token[:1] == b"\x30"  # DER SEQUENCE
    assert parsed.target["annotations"] == {"purpose": "e2e"}


def test_invalid_signature_layout_is_refused() -> None:
    layout = LAYOUTS / "e2e-invalid-signature"
    index = json.loads((layout / "index.json").read_bytes())
    refused = 0
    for entry in index["manifests"]:
        manifest = json.loads(_blob(layout, entry["digest"]))
        if "subject" not in manifest:
            continue
        layer = manifest["layers"][0]
        with pytest.raises(VerificationError, match="unsupported signature envelope type"):
            parse_envelope(layer["mediaType"], _blob(layout, layer["digest"]))
        refused += 1
    assert refused == 1


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("jws_signature.sig", JWS_MEDIA_TYPE), ("cose_signature.sig", COSE_MEDIA_TYPE)],
)
def test_alpine_envelopes_sign_the_layout_manifest(name: str, media_type: str) -> None:
    folder = ENVELOPES / "alpine-selfsigned"
    parsed = parse_envelope(media_type, (folder / name).read_bytes())
    manifest = _blob(folder / "oci-layout", parsed.target["digest"])
    assert parsed.target["size"] == len(manifest)
    assert parsed.target["mediaType"] == json.loads(manifest)["mediaType"]
    assert "CN=alpine" in parsed.cert_chain[0].subject.rfc4514_string()
    assert parsed.signing_agent == "Notation/1.0.0"
    # the self-signed leaf passes the code-signing rules at its signing time
    assert parsed.signing_time is not None
    validate_signing_chain(parsed.cert_chain, parsed.signing_time)


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("blob.jws.sig", JWS_MEDIA_TYPE), ("blob.cose.sig", COSE_MEDIA_TYPE)],
)
def test_blob_envelopes_verify(name: str, media_type: str) -> None:
    parsed = parse_envelope(media_type, (ENVELOPES / "blob" / name).read_bytes())
    assert parsed.target["mediaType"] == "application/octet-stream"
    assert parsed.target["size"] == 11357
    assert parsed.timestamp_token


@pytest.mark.parametrize("media_type", [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE])
def test_malformed_blob_envelope_refused(media_type: str) -> None:
    with pytest.raises(VerificationError):
        parse_envelope(media_type, (ENVELOPES / "blob/malformed.jws.sig").read_bytes())


TIMESTAMP = {
    "jwsWithTimestamp.sig": (JWS_MEDIA_TYPE, True),
    "coseWithTimestamp.sig": (COSE_MEDIA_TYPE, True),
    "jwsExpiredWithTimestamp.sig": (JWS_MEDIA_TYPE, True),
    "coseExpiredWithTimestamp.sig": (COSE_MEDIA_TYPE, True),
    "timestampAfterNotAfter.sig": (COSE_MEDIA_TYPE, True),
    "timestampBeforeNotBefore.sig": (JWS_MEDIA_TYPE, True),
    "withoutTimestamp.sig": (JWS_MEDIA_TYPE, False),
}


@pytest.mark.parametrize("name", sorted(TIMESTAMP))
def test_timestamp_envelopes_verify(name: str) -> None:
    media_type, has_token = TIMESTAMP[name]
    parsed = parse_envelope(media_type, (ENVELOPES / "timestamp" / name).read_bytes())
    assert parsed.target["digest"].startswith("sha256:c0669ef3")
    assert bool(parsed.timestamp_token) is has_token


MOCK_VALID = [
    "ca_valid_sig_env.json",
    "ca_expired_sig_env.json",
    "sa_valid_sig_env.json",
    "sa_expired_sig_env.json",
    "sig_env_with_metadata.json",
]


@pytest.mark.parametrize("name", MOCK_VALID)
def test_mock_valid_envelopes(name: str) -> None:
    parsed = parse_envelope(JWS_MEDIA_TYPE, (ENVELOPES / "mock" / name).read_bytes())
    assert parsed.verification_plugin is None and parsed.extended_critical == []
    if name.startswith("sa_"):
        assert parsed.signing_scheme == SCHEME_SIGNING_AUTHORITY
        assert parsed.signing_time is None and parsed.authentic_signing_time is not None
    else:
        assert parsed.signing_scheme == SCHEME_X509 and parsed.signing_time is not None
    if name.startswith(("ca_", "sa_")):
        assert parsed.algorithm == "PS384" and len(parsed.cert_chain) == 2
        # a real two-certificate chain (leaf + CA root with pathlen 1) passes §3
        validate_signing_chain(parsed.cert_chain, datetime(2021, 1, 1, tzinfo=UTC))


def test_mock_metadata_envelope_annotations() -> None:
    parsed = parse_envelope(
        JWS_MEDIA_TYPE, (ENVELOPES / "mock/sig_env_with_metadata.json").read_bytes()
    )
    assert parsed.target["annotations"] == {
        "io.wabbit-networks.buildId": "123",
        "io.wabbit-networks.buildTime": "1672944615",
    }


@pytest.mark.parametrize("name", ["ca_invalid_sig_env.json", "sa_invalid_sig_env.json"])
def test_mock_invalid_envelopes_refused(name: str) -> None:
    with pytest.raises(VerificationError) as info:
        parse_envelope(JWS_MEDIA_TYPE, (ENVELOPES / "mock" / name).read_bytes())
    assert info.value.message


@pytest.mark.parametrize("name", ["ca_plugin_sig_env.json", "sa_plugin_sig_env.json"])
def test_mock_plugin_envelopes_need_their_plugin(name: str) -> None:
    parsed = parse_envelope(JWS_MEDIA_TYPE, (ENVELOPES / "mock" / name).read_bytes())
    assert parsed.verification_plugin == "plugin-name"
    assert "SomeKey" in parsed.extended_critical
    assert parsed.extended_attributes["SomeKey"] == "SomeValue"


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (ENVELOPES / "mock").glob("ca_*compatible_pluginver_*"))
)
def test_mock_pluginver_envelopes(name: str) -> None:
    parsed = parse_envelope(JWS_MEDIA_TYPE, (ENVELOPES / "mock" / name).read_bytes())
    assert parsed.verification_plugin == "io.cncf.notary.plugin.unittest.mock"
    version = name.removeprefix("ca_").split("_sig_env_")[1].removesuffix(".json")
    assert parsed.extended_attributes["io.cncf.notary.verificationPluginMinVersion"] == version


def test_invalid_timestamp_token_is_kept_for_the_verifier() -> None:
    layout = LAYOUTS / "e2e-with-invalid-timestamped-signature"
    ((_manifest, layer),) = _signatures(layout)
    parsed = parse_envelope(layer["mediaType"], _blob(layout, layer["digest"]))
    assert parsed.timestamp_token is not None and len(parsed.timestamp_token) < 16
