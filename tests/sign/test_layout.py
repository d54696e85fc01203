"""Signing notation's ``e2e`` OCI layout: structure as notation writes it, and it verifies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocisign.config.trustpolicy import load_trust_policy, select_statement
from ocisign.config.truststore import store_loader
from ocisign.envelopes.notary import parse_envelope
from ocisign.notary.trust import verify_any
from ocisign.oci import Descriptor
from tests.conftest import DATA
from tests.sign.conftest import E2E_CRT, E2E_DIGEST, LAYOUTS, Env

VALID_SIG = "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f"
MEDIA = {"jws": "application/jose+json", "cose": "application/cose"}


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _strip(manifest: dict[str, Any]) -> dict[str, Any]:
    """A signature manifest without what differs per signing (envelope, time)."""
    doc: dict[str, Any] = json.loads(json.dumps(manifest))
    for layer in doc["layers"]:
        layer.pop("digest"), layer.pop("size")
    doc["annotations"].pop("org.opencontainers.image.created")
    return doc


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_sign_e2e_layout_like_notation(env: Env, layout: Path, fmt: str, tmp_path: Path) -> None:
    result = env.ok("sign", "--oci-layout", f"{layout}:v1", "--signature-format", fmt,
                    "--output", "json")
    doc = json.loads(result.stdout)
    target = doc["results"][0]["targets"][0]
    assert target["digest"] == E2E_DIGEST and target["status"] == "signed"
    assert target["format"] == fmt and target["key"] == "e2e"
    assert target["mechanism"] == "oci-layout"
    assert "tags are mutable" in result.stderr  # signed by tag: notation's warning

    index = json.loads((layout / "index.json").read_bytes())
    assert len(index["manifests"]) == 2
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "v1"}
    entry = index["manifests"][1]
    assert entry["digest"] == target["signatureDigest"]
    # the layout convention of notation 1.3 (e2e-with-timestamped-signature/index.json)
    reference = json.loads((LAYOUTS / "e2e-with-timestamped-signature" / "index.json")
                           .read_bytes())["manifests"][1]
    assert sorted(entry) == sorted(reference) == ["annotations", "digest", "mediaType", "size"]
    assert sorted(entry["annotations"]) == sorted(reference["annotations"])

    manifest = json.loads(_blob(layout, entry["digest"]))
    assert entry["annotations"] == manifest["annotations"]
    expected = json.loads(_blob(LAYOUTS / "e2e-valid-signature", VALID_SIG))
    if fmt == "cose":
        expected["layers"][0]["mediaType"] = "application/cose"
    assert _strip(manifest) == _strip(expected)
    assert list(manifest) == list(expected)  # field order as notation writes it
    created = manifest["annotations"]["org.opencontainers.image.created"]
    assert created.endswith("Z") and len(created) == 20

    envelope = _blob(layout, manifest["layers"][0]["digest"])
    parsed = parse_envelope(MEDIA[fmt], envelope)
    assert parsed.target["digest"] == E2E_DIGEST and parsed.expiry is None
    assert parsed.signing_agent.startswith("ocisign/")
    store = tmp_path / "truststore"
    (store / "x509" / "ca" / "e2e").mkdir(parents=True)
    (store / "x509" / "ca" / "e2e" / "e2e.crt").write_bytes(E2E_CRT.read_bytes())
    policy = load_trust_policy(DATA / "trust" / "trustpolicies" / "trustpolicy.json")
    subject = Descriptor.from_dict(manifest["subject"])
    verdict = verify_any([parsed], target=subject,
                         statement=select_statement(policy, "localhost:5000/e2e"),
                         stores=store_loader(store))
    assert verdict.passed, verdict.message


def test_layout_by_digest_expiry_metadata_and_idempotency(env: Env, layout: Path) -> None:
    ref = f"{layout}@{E2E_DIGEST}"
    first = env.ok("sign", "--oci-layout", ref, "-e", "1h", "-m", "team=blue", "-m", "b=2")
    assert first.stdout.strip() == f"Successfully signed {layout}@{E2E_DIGEST}"
    assert "Warning" not in first.stderr  # a digest: no tag warning
    index = json.loads((layout / "index.json").read_bytes())
    manifest = json.loads(_blob(layout, index["manifests"][1]["digest"]))
    parsed = parse_envelope(MEDIA["jws"], _blob(layout, manifest["layers"][0]["digest"]))
    assert parsed.target["annotations"] == {"team": "blue", "b": "2"}
    assert parsed.expiry is not None and parsed.time is not None
    assert (parsed.expiry - parsed.time).total_seconds() == 3600

    again = env.ok("sign", "--oci-layout", ref, "-m", "team=blue")
    assert again.stdout.strip() == f"Already signed {layout}@{E2E_DIGEST}"
    other_meta = env.ok("sign", "--oci-layout", ref, "-m", "team=red")  # not what was signed
    assert other_meta.stdout.startswith("Successfully signed")
    cose = env.ok("sign", "--oci-layout", ref, "--signature-format", "cose")
    assert cose.stdout.startswith("Successfully signed")  # another format: a new signature
    forced = env.ok("sign", "--oci-layout", ref, "--force")
    assert forced.stdout.startswith("Successfully signed")
    assert len(json.loads((layout / "index.json").read_bytes())["manifests"]) == 5


def test_signature_format_from_config_json(env: Env, layout: Path) -> None:
    (env.config / "config.json").write_text(json.dumps({"signatureFormat": "cose"}))
    out = json.loads(env.ok("sign", "--oci-layout", f"{layout}:v1", "--output", "json").stdout)
    assert out["results"][0]["targets"][0]["format"] == "cose"
    (env.config / "config.json").write_text(json.dumps({"signatureFormat": "pgp"}))
    bad = env.run("sign", "--oci-layout", f"{layout}:v1")
    assert bad.returncode == 1 and "signatureFormat 'pgp'" in bad.stderr
