"""containers/image's cosign/skopeo signature fixtures verify through ``validate``.

The fixtures are ``dir:``-transport files; here their image manifest goes into an OCI
layout under an index (the image's config blob is not shipped, so the platform comes from
the index entry) and each signature onto the manifest's ``.sig`` tag.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocisign.envelopes.simplesigning import parse_dir_signature
from ocisign.oci import OCI_INDEX, Descriptor, Platform
from ocisign.registry.layout import LayoutStore
from ocisign.registry.store import build_index
from tests.conftest import DATA
from tests.validate.conftest import attach_sigstore, validate

FIXTURES = DATA / "sigstore" / "containers-image-fixtures"


def _layout(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / fixture
    store = LayoutStore(root)
    raw = (FIXTURES / fixture / "manifest.json").read_bytes()
    media_type = json.loads(raw)["mediaType"]
    desc = store.push_manifest(raw, media_type)
    entry = Descriptor(media_type, desc.digest, desc.size, platform=Platform("amd64", "linux"))
    store.push_manifest(build_index([entry]), OCI_INDEX, "v1")
    for sig in sorted((FIXTURES / fixture).glob("signature-*")):
        layer, payload = parse_dir_signature(sig.read_bytes())
        attach_sigstore(store, desc.digest, payload, layer.signature)
    return root


@pytest.mark.parametrize(
    ("fixture", "repo"),
    [
        ("dir-img-cosign-valid", "192.168.64.2:5000/cosign-signed-single-sample"),
        ("dir-img-cosign-valid-2", "192.168.64.2:5000/cosign-signed-single-sample"),
        ("dir-img-cosign-valid-with-tag", "192.168.64.2:5000/skopeo-signed"),
    ],
)
def test_fixture_verifies_with_its_key_only(fixture: str, repo: str, tmp_path: Path) -> None:
    root = _layout(tmp_path, fixture)
    base = ("--oci-layout", f"{root}:v1", "-o", str(tmp_path / "failed.txt"))
    proc = validate(*base, "--sigstore-pubkey", str(FIXTURES / "cosign.pub"),
                    "--exact-repository", repo, "--output", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    images = json.loads(proc.stdout)["results"][0]["images"]
    assert [i["status"] for i in images] == ["skipped", "passed"]  # index unsigned, image ok
    proc = validate(*base, "--sigstore-pubkey", str(FIXTURES / "cosign2.pub"))
    assert proc.returncode == 1
    assert "cryptographic signature verification failed" in proc.stdout
    proc = validate(*base, "--sigstore-pubkey", str(FIXTURES / "cosign.pub"),
                    "--exact-repository", "192.168.64.2:5000/elsewhere")
    assert proc.returncode == 1 and "identity mismatch" in proc.stdout
