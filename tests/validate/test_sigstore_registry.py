"""Sigstore (cosign simple signing) signatures in a real registry."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocisign.envelopes.simplesigning import build_payload, sign_payload
from ocisign.oci import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, SIMPLESIGNING
from ocisign.registry.store import sigstore_tag
from ocisign.signers.local import LocalSigner
from tests.conftest import DATA
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.validate.conftest import attach_sigstore, make_sigstore_key, sigstore_sign, validate

pytestmark = pytest.mark.integration
VECTORS = DATA / "sigstore"
VECTOR_PUB = str(VECTORS / "skopeo-generated.pub")


def _run(registry: RunningRegistry, *args: str, tmp: Path) -> tuple[int, str, str]:
    proc = validate(*[a.replace("REG/", f"{registry.host}/") for a in args], "--insecure-registry",
                    "-o", str(tmp / "failed.txt"))
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


# -- the skopeo-signed vectors --------------------------------------------------------------


def _vector_blobs(arch: str) -> tuple[bytes, bytes]:
    """The config and layer blobs of the vector images, rebuilt exactly as the interop
    harness (../shared/tools/sigstore-interop.sh) made them (their digests are checked)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = f"hello from {arch}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    rawb = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(rawb).hexdigest()
    cfg = {"architecture": arch, "os": "linux", "config": {},
           "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    return json.dumps(cfg, separators=(",", ":")).encode(), gzip.compress(rawb, mtime=0)


def _push_vector(registry: RunningRegistry, repo: str, folder: str,
                 parts: dict[str, str]) -> None:
    """Push image manifests (by tag/digest) and each ``.sig`` manifest/config/payload."""
    store = registry.client().store(f"{registry.host}/{repo}")
    for arch in ("amd64", "arm64"):
        config, layer = _vector_blobs(arch)
        store.push_blob(config, OCI_CONFIG)
        store.push_blob(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
    base = VECTORS / folder
    for name, media_type in parts.items():
        raw = (base / f"{name}-manifest.json").read_bytes()
        store.push_manifest(raw, media_type, "v1" if name in ("image",) else None)
    for name in parts:
        sig = base / f"{name}.sig-manifest.json"
        if not sig.exists():
            continue
        image_raw = (base / f"{name}-manifest.json").read_bytes()
        digest = "sha256:" + hashlib.sha256(image_raw).hexdigest()
        store.push_blob((base / f"{name}.sig-config.json").read_bytes(), OCI_CONFIG)
        store.push_blob((base / f"{name}.sig-payload-1.json").read_bytes(), SIMPLESIGNING)
        store.push_manifest(sig.read_bytes(), OCI_MANIFEST, sigstore_tag(digest))


def test_skopeo_single_vector(registry: RunningRegistry, tmp_path: Path) -> None:
    _push_vector(registry, "vectors/single", "skopeo-signed-single", {"image": OCI_MANIFEST})
    ok = ("REG/vectors/single:v1", "--sigstore-pubkey", VECTOR_PUB)
    code, out, err = _run(registry, *ok, "--exact-repository", "127.0.0.1:5001/vectors/single",
                          tmp=tmp_path)
    assert code == 0, out + err
    assert out.startswith(f"PASS: {registry.host}/vectors/single:v1")
    # the payload names 127.0.0.1:5001/...: the default identity rule refuses it here
    code, out, _ = _run(registry, *ok, tmp=tmp_path)
    assert code == 1 and "identity mismatch" in out
    # another key: the cryptographic check fails
    other = make_sigstore_key(tmp_path / "other.pub")
    code, out, _ = _run(registry, "REG/vectors/single:v1", "--sigstore-pubkey",
                        str(other.pub_path), tmp=tmp_path)
    assert code == 1 and "cryptographic signature verification failed" in out


def test_skopeo_multi_vector(registry: RunningRegistry, tmp_path: Path) -> None:
    parts = {"instance-amd64": OCI_MANIFEST, "instance-arm64": OCI_MANIFEST, "image": OCI_INDEX}
    base = VECTORS / "skopeo-signed-multi"
    store = registry.client().store(f"{registry.host}/vectors/multi")
    _push_vector(registry, "vectors/multi", "skopeo-signed-multi",
                 {k: v for k, v in parts.items() if k != "image"})
    # the .sig files of the multi vector are named by platform / index
    for name, sig in (("instance-amd64", "amd64"), ("instance-arm64", "arm64"), ("image", "index")):
        raw = (base / f"{name}-manifest.json").read_bytes()
        if name == "image":
            store.push_manifest(raw, OCI_INDEX, "v1")
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        store.push_blob((base / f"{sig}.sig-config.json").read_bytes(), OCI_CONFIG)
        store.push_blob((base / f"{sig}.sig-payload-1.json").read_bytes(), SIMPLESIGNING)
        store.push_manifest((base / f"{sig}.sig-manifest.json").read_bytes(), OCI_MANIFEST,
                            sigstore_tag(digest))
    report = tmp_path / "report.[FORMAT]"
    code, out, err = _run(registry, "REG/vectors/multi:v1", "--sigstore-pubkey", VECTOR_PUB,
                          "--exact-repository", "127.0.0.1:5001/vectors/multi",
                          "-r", str(report), tmp=tmp_path)
    assert code == 0, out + err
    doc = json.loads((tmp_path / "report.json").read_text())
    images = doc["results"][0]["images"]
    assert len(images) == 3 and all(i["status"] == "passed" for i in images)
    assert {i["platform"].get("arch") for i in images} == {None, "amd64", "arm64"}
    assert all("cosign container image signature" in i["payload"] for i in images)


# -- what we sign by hand ---------------------------------------------------------------------


def _signed(registry: RunningRegistry, ref: str, key: Any, archs: tuple[str, ...] = ("amd64",),
            index_too: bool = True, hangar_v1: bool = False) -> str:
    """Push and sign ``ref``: instances for the tag (as skopeo --all and ocisign sign), or
    with ``hangar_v1`` for ``NAME@PLATFORM-DIGEST`` (as hangar v1 signs)."""
    digest = push_test_image(registry, ref, archs)
    repo = ref.split(":")[0]
    store = registry.client().store(f"{registry.host}/{repo}")
    full = f"{registry.host}/{ref}"
    if len(archs) == 1:
        sigstore_sign(store, digest, full, key)
        return digest
    if index_too:
        sigstore_sign(store, digest, full, key)
    for entry in store.fetch_manifest(digest).manifests:
        signed = f"{registry.host}/{repo}@{entry.digest}" if hangar_v1 else full
        sigstore_sign(store, entry.digest, signed, key)
    return digest


def test_identity_modes(registry: RunningRegistry, tmp_path: Path) -> None:
    key = make_sigstore_key(tmp_path / "k.pub")
    _signed(registry, "sig/ident:v1", key.private)
    pub = ("--sigstore-pubkey", str(key.pub_path))
    assert _run(registry, "REG/sig/ident:v1", *pub, tmp=tmp_path)[0] == 0
    assert _run(registry, "REG/sig/ident:v1", *pub, "--identity", "match-exact",
                tmp=tmp_path)[0] == 0
    assert _run(registry, "REG/sig/ident:v1", *pub, "--identity", "match-repository",
                tmp=tmp_path)[0] == 0
    # the same image under another tag: only match-repository accepts the v1 reference
    store = registry.client().store(f"{registry.host}/sig/ident")
    raw = store.fetch_manifest("v1")
    store.push_manifest(raw.raw, raw.media_type, "v2")
    code, out, _ = _run(registry, "REG/sig/ident:v2", *pub, tmp=tmp_path)
    assert code == 1 and "identity mismatch" in out
    assert _run(registry, "REG/sig/ident:v2", *pub, "--identity", "match-repository",
                tmp=tmp_path)[0] == 0
    code, out, _ = _run(registry, "REG/sig/ident:v1", *pub, "--exact-repository",
                        "example.com/elsewhere", tmp=tmp_path)
    assert code == 1 and "exactRepository" in out


def test_index_rules(registry: RunningRegistry, tmp_path: Path) -> None:
    key = make_sigstore_key(tmp_path / "k.pub")
    pub = ("--sigstore-pubkey", str(key.pub_path))
    _signed(registry, "sig/multi-all:v1", key.private, ("amd64", "arm64"))
    assert _run(registry, "REG/sig/multi-all:v1", *pub, tmp=tmp_path)[0] == 0
    # platforms only: passes, the index's absence is only reported
    _signed(registry, "sig/multi-platforms:v1", key.private, ("amd64", "arm64"), index_too=False)
    code, out, err = _run(registry, "REG/sig/multi-platforms:v1", *pub, "--output", "json",
                          tmp=tmp_path)
    assert code == 0, out + err
    # as hangar v1 signs (NAME@PLATFORM-DIGEST): refused by tag unless its own check is asked
    _signed(registry, "sig/multi-v1:v1", key.private, ("amd64", "arm64"), index_too=False,
            hangar_v1=True)
    code, out, err = _run(registry, "REG/sig/multi-v1:v1", *pub, tmp=tmp_path)
    assert code == 1 and "identity mismatch" in out
    code, out, err = _run(registry, "REG/sig/multi-v1:v1", *pub, "--platform-digest-identity",
                          "--output", "json", tmp=tmp_path)
    assert code == 0, out + err
    images = json.loads(out)["results"][0]["images"]
    assert [i["status"] for i in images] == ["skipped", "passed", "passed"]
    # one platform unsigned: fails, unless -a leaves it out
    digest = push_test_image(registry, "sig/multi-half:v1", ("amd64", "arm64"))
    store = registry.client().store(f"{registry.host}/sig/multi-half")
    amd = next(e for e in store.fetch_manifest(digest).manifests
               if e.platform and e.platform.architecture == "amd64")
    sigstore_sign(store, amd.digest, f"{registry.host}/sig/multi-half:v1", key.private)
    code, out, _ = _run(registry, "REG/sig/multi-half:v1", *pub, tmp=tmp_path)
    assert code == 1 and "no sigstore signature" in out
    assert _run(registry, "REG/sig/multi-half:v1", *pub, "-a", "amd64", tmp=tmp_path)[0] == 0
    # a single image outside the platform filter is skipped, which is not a failure
    key2 = make_sigstore_key(tmp_path / "k2.pub")
    _signed(registry, "sig/single-amd:v1", key2.private)
    code, out, _ = _run(registry, "REG/sig/single-amd:v1", "--sigstore-pubkey",
                        str(key2.pub_path), "-a", "arm64", tmp=tmp_path)
    assert code == 0 and out.startswith("SKIP:")


def test_bad_sigstore_signatures(registry: RunningRegistry, tmp_path: Path) -> None:
    key = make_sigstore_key(tmp_path / "k.pub")
    pub = ("--sigstore-pubkey", str(key.pub_path))

    def image(name: str) -> tuple[Any, str, str]:
        digest = push_test_image(registry, f"sig/{name}:v1")
        return (registry.client().store(f"{registry.host}/sig/{name}"), digest,
                f"{registry.host}/sig/{name}:v1")

    # flipped signature byte
    store, digest, ref = image("flipped")
    payload = build_payload(ref, digest, optional=None)
    sig = bytearray(base64.b64decode(sign_payload(LocalSigner(key.private), payload)))
    sig[-1] ^= 1
    attach_sigstore(store, digest, payload, base64.b64encode(bytes(sig)).decode())
    # altered payload (signature of the original, payload changed)
    store, digest, ref = image("altered")
    payload = build_payload(ref, digest, optional=None)
    signature = sign_payload(LocalSigner(key.private), payload)
    attach_sigstore(store, digest, build_payload(ref, digest, optional={"x": "y"}), signature)
    # a signature copied from another image's .sig tag
    src_store, src_digest, src_ref = image("copy-source")
    sigstore_sign(src_store, src_digest, src_ref, key.private)
    digest = push_test_image(registry, "sig/copy-source:copied")  # same repo, other image
    sig_manifest = src_store.fetch_manifest(sigstore_tag(src_digest))
    src_store.push_manifest(sig_manifest.raw, OCI_MANIFEST, sigstore_tag(digest))
    # non-JSON payload, validly signed
    store, digest, _ = image("notjson")
    junk = b"not json at all"
    attach_sigstore(store, digest, junk, sign_payload(LocalSigner(key.private), junk))
    # 2000 layers
    store, digest, _ = image("many-layers")
    one = store.push_blob(b"x", SIMPLESIGNING)
    layer = {"mediaType": SIMPLESIGNING, "digest": one.digest, "size": 1,
             "annotations": {"dev.cosignproject.cosign/signature": "AAAA"}}
    cfg = store.push_blob(b"{}", OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg.to_dict(),
           "layers": [layer] * 2000}
    store.push_manifest(json.dumps(doc).encode(), OCI_MANIFEST, sigstore_tag(digest))
    # wrong media type of the .sig layer
    store, digest, ref = image("wrongtype")
    payload = build_payload(ref, digest, optional=None)
    blob = store.push_blob(payload, "text/plain")
    cfg = store.push_blob(b"{}", OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg.to_dict(),
           "layers": [{**blob.to_dict(), "annotations": {
               "dev.cosignproject.cosign/signature": sign_payload(LocalSigner(key.private),
                                                                  payload)}}]}
    store.push_manifest(json.dumps(doc).encode(), OCI_MANIFEST, sigstore_tag(digest))
    # good one beside a bad one
    store, digest, ref = image("good-beside-bad")
    attach_sigstore(store, digest, b"garbage", "AAAA")
    sigstore_sign(store, digest, ref, key.private)

    expected = {
        "flipped": "cryptographic signature verification failed",
        "altered": "cryptographic signature verification failed",
        "copied": "signature is for",
        "notjson": "not valid JSON",
        "many-layers": "2000 layers",
        "wrongtype": "unexpected media type text/plain",
    }
    for name, reason in expected.items():
        ref = "REG/sig/copy-source:copied" if name == "copied" else f"REG/sig/{name}:v1"
        code, out, _ = _run(registry, ref, *pub, tmp=tmp_path)
        assert code == 1, (name, out)
        assert reason in out, (name, out)
    assert _run(registry, "REG/sig/good-beside-bad:v1", *pub, tmp=tmp_path)[0] == 0


def test_batch_and_reports(registry: RunningRegistry, tmp_path: Path) -> None:
    key = make_sigstore_key(tmp_path / "k.pub")
    _signed(registry, "batch/good:v1", key.private)
    _signed(registry, "batch/good-multi:v1", key.private, ("amd64", "arm64"))
    push_test_image(registry, "batch/unsigned:v1")
    digest = _signed(registry, "batch/tampered:v1", key.private)
    store = registry.client().store(f"{registry.host}/batch/tampered")
    other = make_sigstore_key(tmp_path / "other.pub")
    payload = build_payload(f"{registry.host}/batch/tampered:v1", digest, optional=None)
    sig_doc = json.loads(store.fetch_manifest(sigstore_tag(digest)).raw)
    signature = sign_payload(LocalSigner(other.private), payload)
    sig_doc["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = signature
    store.push_manifest(json.dumps(sig_doc).encode(), OCI_MANIFEST, sigstore_tag(digest))
    lines = [f"{registry.host}/batch/good:v1", f"{registry.host}/batch/unsigned:v1",
             f"{registry.host}/batch/good-multi:v1", f"{registry.host}/batch/tampered:v1",
             f"{registry.host}/batch/missing:v1", "# a comment"]
    image_list = tmp_path / "list.txt"
    image_list.write_text("\n".join(lines) + "\n")
    outputs = {}
    for fmt in ("json", "yaml", "csv"):
        code, out, err = _run(registry, "-f", str(image_list), "--sigstore-pubkey",
                              str(key.pub_path), "-r", str(tmp_path / f"r.{fmt}"), "--format", fmt,
                              "-j", "3", tmp=tmp_path)
        assert code == 1
        assert "Error: some images failed to validate" in err
        outputs[fmt] = out
    out = re.sub(r" \(line \d+\)", "", outputs["json"])  # a line that finished early is numbered
    assert f"PASS: {lines[0]}\n" in out and f"PASS: {lines[2]}\n" in out
    assert f"FAIL: {lines[1]}: no sigstore signature" in out
    assert f"FAIL: {lines[3]}: cryptographic signature verification failed" in out
    assert f"FAIL: {lines[4]}:" in out
    failed = (tmp_path / "failed.txt").read_text().splitlines()
    assert failed == [lines[1], lines[3], lines[4]]

    doc = json.loads((tmp_path / "r.json").read_text())
    statuses = {r["reference"]: r["status"] for r in doc["results"]}
    assert statuses == {lines[0]: "passed", lines[1]: "failed", lines[2]: "passed",
                        lines[3]: "failed", lines[4]: "failed"}
    multi = next(r for r in doc["results"] if r["reference"] == lines[2])
    assert len(multi["images"]) == 3 and "time" in doc
    ydoc = yaml.safe_load((tmp_path / "r.yaml").read_text())
    assert [r["reference"] for r in ydoc["result"]] == [r["reference"] for r in doc["results"]]
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert list(rows[0])[:3] == ["image", "arch", "os"]
    assert sum(1 for r in rows if r["image"] == lines[2]) == 3
    assert {r["status"] for r in rows if r["image"] == lines[3]} == {"failed"}
    good = next(r for r in rows if r["image"] == lines[0])
    assert json.loads(good["payload"])["critical"]["image"]["docker-manifest-digest"]
    assert good["signer"] == str(key.pub_path)


def test_usage_errors(tmp_path: Path) -> None:
    proc = validate("example.com/a/b:v1", env=None)
    assert proc.returncode == 2 and "nothing to verify with" in proc.stderr
    proc = validate("example.com/a/b:v1", "--type", "sigstore")
    assert proc.returncode == 2 and "--sigstore-pubkey" in proc.stderr
    proc = validate("example.com/a/b:v1", "--sigstore-pubkey", str(tmp_path / "missing.pub"))
    assert proc.returncode == 2
