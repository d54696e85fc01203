"""Hostile OCI layouts (issue 11 items 5 and 8): only regular files inside the folder are
read, every read is capped, malformed index.json and manifests give named errors."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocisign.errors import OcisignError, RegistryError
from ocisign.oci import OCI_MANIFEST, sha256_digest
from ocisign.registry.layout import LayoutStore
from ocisign.registry.store import parse_manifest_bytes
from tests.registry.test_layout import push_image
from tests.validate.conftest import make_sigstore_key, validate


def _layout(tmp_path: Path) -> tuple[LayoutStore, Path]:
    store = LayoutStore(tmp_path / "lay")
    desc = push_image(store, "amd64", "v1")
    return store, store.root / "blobs" / "sha256" / desc.digest.split(":")[1]


def test_symlinked_manifest_blob_is_refused(tmp_path: Path) -> None:
    store, blob = _layout(tmp_path)
    blob.unlink()
    blob.symlink_to("/dev/zero")
    with pytest.raises(RegistryError, match="is a symbolic link; refused") as info:
        store.fetch_manifest("v1")
    assert info.value.hint and "regular files" in info.value.hint


def test_fifo_blob_is_refused_without_blocking(tmp_path: Path) -> None:
    store, blob = _layout(tmp_path)
    blob.unlink()
    os.mkfifo(blob)
    with pytest.raises(RegistryError, match="is not a regular file"):
        store.fetch_manifest("v1")


def test_blobs_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    store, _ = _layout(tmp_path)
    outside = tmp_path / "outside"
    (store.root / "blobs").rename(outside)
    (store.root / "blobs").symlink_to(outside)
    with pytest.raises(RegistryError, match="leads outside the layout folder"):
        store.fetch_manifest("v1")


def test_oversized_blob_is_refused_unread(tmp_path: Path) -> None:
    store, _ = _layout(tmp_path)
    big = b"{" + b" " * (4 * 1024 * 1024)
    digest = sha256_digest(big)
    (store.root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(big)
    with pytest.raises(RegistryError, match="is larger than 4194304 bytes"):
        store.fetch_manifest(digest)


@pytest.mark.parametrize(("manifests", "message"), [
    ([{"mediaType": OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": "abc"}],
     "manifests[0].size is not a size in bytes ('abc')"),
    ({"mediaType": OCI_MANIFEST}, "manifests is not a list"),
    ([{"mediaType": OCI_MANIFEST, "digest": "md5:x", "size": 1}],
     "manifests[0].digest is not a digest ('md5:x')"),
    ([{"mediaType": OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": 2,
       "annotations": {"org.opencontainers.image.ref.name": 7}}],
     "manifests[0].annotations is not an object of strings"),
    ([[[[]]]], "manifests[0] is not an object"),
])
def test_malformed_index_json_names_file_and_field(tmp_path: Path, manifests: Any,
                                                   message: str) -> None:
    store, _ = _layout(tmp_path)
    (store.root / "index.json").write_text(json.dumps({"schemaVersion": 2,
                                                        "manifests": manifests}))
    with pytest.raises(RegistryError) as info:
        store.resolve("v1")
    assert info.value.message == f"{store.root / 'index.json'}: {message}"
    assert info.value.hint


def test_deeply_nested_index_json(tmp_path: Path) -> None:
    store, _ = _layout(tmp_path)
    (store.root / "index.json").write_text('{"manifests":' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(RegistryError, match=r"index\.json is nested too deeply"):
        store.list_tags()


def test_validate_reports_a_hostile_layout_in_one_line(tmp_path: Path) -> None:
    store, blob = _layout(tmp_path)
    blob.unlink()
    os.mkfifo(blob)
    key = make_sigstore_key(tmp_path / "k.pub")
    proc = validate("--oci-layout", f"{store.root}:v1", "--sigstore-pubkey", str(key.pub_path),
                    "-o", str(tmp_path / "f.txt"))
    assert proc.returncode == 1
    assert "is not a regular file; refused" in proc.stdout
    assert "unexpected" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20,
)
DESCRIPTOR_KEYS = st.sampled_from(["mediaType", "digest", "size", "annotations", "platform",
                                   "artifactType", "manifests", "layers", "config", "subject"])
FIELDS = st.dictionaries(DESCRIPTOR_KEYS, JSON | st.just("sha256:" + "b" * 64), max_size=6)
DOCS = st.dictionaries(DESCRIPTOR_KEYS, JSON | st.lists(FIELDS, max_size=3) | FIELDS, max_size=6)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS | JSON)
def test_index_json_fuzz_raises_only_ocisign_errors(tmp_path: Path, doc: Any) -> None:
    store = LayoutStore(tmp_path / "fuzz")
    store.root.mkdir(exist_ok=True)
    (store.root / "index.json").write_text(json.dumps(doc))
    for call in (store.list_tags, lambda: store.resolve("v1"),
                 lambda: store.referrers("sha256:" + "b" * 64)):
        with contextlib.suppress(OcisignError):
            call()


@settings(max_examples=200, deadline=None)
@given(doc=DOCS | JSON, raw=st.binary(max_size=40))
def test_manifest_fuzz_raises_only_ocisign_errors(doc: Any, raw: bytes) -> None:
    for data in (json.dumps(doc).encode(), raw):
        try:
            manifest = parse_manifest_bytes(data, None)
        except OcisignError:
            continue
        for name in ("config", "layers", "manifests", "subject", "annotations", "artifact_type",
                     "is_index"):
            with contextlib.suppress(OcisignError):
                getattr(manifest, name)
        with contextlib.suppress(OcisignError):
            manifest.referrer_descriptor()
