"""The Referrers API path, and limits enforced before anything large is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

from ocisign.envelopes.notary import signature_manifest
from ocisign.notary.sign import sign_descriptor
from ocisign.oci import EMPTY_JSON, NOTARY_SIGNATURE, OCI_CONFIG, OCI_MANIFEST, SIMPLESIGNING
from ocisign.registry.store import sigstore_tag
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import push_test_image
from tests.validate.conftest import (
    NOW,
    POLICIES,
    TRUST,
    e2e_signer,
    make_sigstore_key,
    make_store,
    validate,
)


def test_referrers_api_listing(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    digest = push_test_image(fake_registry, "api/app:v1")
    store = fake_registry.client().store(f"{fake_registry.host}/api/app")
    desc = store.resolve(digest)
    signed = sign_descriptor(desc, e2e_signer(), envelope_format="cose")
    store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
    store.push_blob(signed.envelope, signed.media_type)
    manifest, _ = signature_manifest(signed.envelope, signed.media_type, desc,
                                     signed.parsed.cert_chain, NOW)
    pushed = store.push_referrer(manifest, OCI_MANIFEST, force_tag_schema=False)
    assert pushed.mechanism == "referrers-api"
    trust = make_store(tmp_path / "ts", {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})
    fake_registry.seen.clear()
    proc = validate(f"{fake_registry.host}/api/app@{digest}", "--insecure-registry",
                    "--trust-policy", str(POLICIES / "trustpolicy.json"),
                    "--trust-store", str(trust), "-o", str(tmp_path / "f.txt"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any("/referrers/" in line for line in fake_registry.seen)
    assert not any("sha256-" in line for line in fake_registry.seen)  # no tag schema needed


def test_oversized_payload_not_downloaded(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    digest = push_test_image(fake_registry, "big/app:v1")
    store = fake_registry.client().store(f"{fake_registry.host}/big/app")
    big = store.push_blob(b"x" * (4 * 1024 * 1024 + 1), SIMPLESIGNING)
    cfg = store.push_blob(b"{}", OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg.to_dict(),
           "layers": [{**big.to_dict(), "annotations": {
               "dev.cosignproject.cosign/signature": "AAAA"}}]}
    store.push_manifest(json.dumps(doc).encode(), OCI_MANIFEST, sigstore_tag(digest))
    key = make_sigstore_key(tmp_path / "k.pub")
    fake_registry.seen.clear()
    proc = validate(f"{fake_registry.host}/big/app:v1", "--insecure-registry",
                    "--sigstore-pubkey", str(key.pub_path), "-o", str(tmp_path / "f.txt"))
    assert proc.returncode == 1
    assert "over the 4 MiB limit" in proc.stdout
    assert not any(big.digest in line for line in fake_registry.seen)
