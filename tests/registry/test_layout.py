"""OCI image layout store: blobs, tags, referrers appended to index.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocisign.errors import DigestMismatchError, NotFoundError
from ocisign.oci import (
    EMPTY_JSON,
    NOTARY_SIGNATURE,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
)
from ocisign.registry import open_store
from ocisign.registry.layout import REF_NAME, LayoutStore
from ocisign.registry.store import (
    Manifest,
    Store,
    image_platform,
    parse_manifest_bytes,
    select_platforms,
)
from tests.fixtures.registry import signature_manifest


def _json(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def push_image(store: Store, arch: str, tag: str | None) -> Descriptor:
    config = store.push_blob(_json({"architecture": arch, "os": "linux"}), OCI_CONFIG)
    layer = store.push_blob(f"layer {arch}".encode(), "application/vnd.oci.image.layer.v1.tar")
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_dict(),
                      "layers": [layer.to_dict()]})
    return store.push_manifest(manifest, OCI_MANIFEST, tag)


def test_layout_roundtrip(tmp_path: Path) -> None:
    target = open_store(f"{tmp_path}/lay:v1", oci_layout=True)
    store = target.store
    assert isinstance(store, LayoutStore) and isinstance(store, Store)
    assert target.ref == "v1"
    desc = push_image(store, "amd64", "v1")
    push_image(store, "arm64", "v2")
    assert (tmp_path / "lay" / "oci-layout").is_file()
    assert store.resolve("v1") == desc
    assert store.resolve(desc.digest) == desc
    assert sorted(store.list_tags()) == ["v1", "v2"]
    manifest = store.fetch_manifest("v1")
    assert manifest.digest == desc.digest and manifest.media_type == OCI_MANIFEST
    assert image_platform(store, manifest) == Platform("amd64", "linux")
    with pytest.raises(NotFoundError):
        store.resolve("nope")
    with pytest.raises(NotFoundError):
        store.fetch_blob("sha256:" + "0" * 64)
    blob = tmp_path / "lay" / "blobs" / "sha256" / desc.digest.split(":")[1]
    blob.write_bytes(b"tampered")
    with pytest.raises(DigestMismatchError):
        store.fetch_manifest("v1")


def test_layout_referrers(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    subject = push_image(store, "amd64", "v1")
    other = push_image(store, "arm64", None)
    sig1 = signature_manifest(subject, b"sig-1")
    sig2 = signature_manifest(subject, b"sig-2", artifact_type="application/example")
    for data in (sig1, sig2):
        store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
        result = store.push_referrer(data, OCI_MANIFEST)
        assert result.mechanism == "oci-layout"
    store.push_referrer(sig1, OCI_MANIFEST)  # again: no duplicate entry
    push_image(store, "s390x", "v3")  # a tag added after the untagged entries

    index = json.loads((tmp_path / "index.json").read_bytes())
    names = [m.get("annotations", {}).get(REF_NAME) for m in index["manifests"]]
    assert names[:2] == ["v1", "v3"] and names[2:] == [None, None]
    assert index["manifests"][2]["annotations"] == {
        "io.cncf.notary.x509chain.thumbprint#S256": '["ab"]'}
    assert "artifactType" not in index["manifests"][2]  # as notation (oras-go) writes it
    assert "sha256-" not in json.dumps(index)

    found = store.referrers(subject.digest)
    assert {d.digest for d in found} == {parse_manifest_bytes(s).digest for s in (sig1, sig2)}
    only = store.referrers(subject.digest, NOTARY_SIGNATURE)
    assert [d.digest for d in only] == [parse_manifest_bytes(sig1).digest]
    assert only[0].artifact_type == NOTARY_SIGNATURE
    assert store.referrers(other.digest) == []
    store.delete_manifest(parse_manifest_bytes(sig2).digest)
    assert len(store.referrers(subject.digest)) == 1


def test_select_platforms() -> None:
    entries = [
        Descriptor(OCI_MANIFEST, "sha256:" + c * 64, 1, platform=p)
        for c, p in [
            ("1", Platform("amd64", "linux")),
            ("2", Platform("arm64", "linux", "v8")),
            ("3", Platform("unknown", "unknown")),
            ("4", Platform("", "")),
            ("5", None),
            ("6", Platform("amd64", "windows")),
        ]
    ]
    raw = _json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                 "manifests": [e.to_dict() for e in entries]})
    index = Manifest(raw, OCI_INDEX, "sha256:" + "f" * 64)

    def digits(found: list[Descriptor]) -> list[str]:
        return [d.digest[7] for d in found]

    assert digits(select_platforms(index)) == ["1", "2", "4", "5", "6"]
    assert digits(select_platforms(index, {"arm64"})) == ["2", "4", "5"]
    assert digits(select_platforms(index, {"amd64"}, {"linux"})) == ["1", "4", "5"]
