"""cosign v3 image signatures: Sigstore bundle referrers in the real registry (distribution
2.8, no Referrers API: the referrers tag schema), verified by `validate --sigstore-pubkey`.

The referrer below is built by hand the way cosign v3 writes it (signDigestBundle +
go-containerregistry's fallback index, whose descriptors carry no artifactType: cosign
#4641); the DSSE signature is made here with `cryptography`, not with ocisign's builder.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocisign.oci import OCI_INDEX, OCI_MANIFEST, Descriptor
from ocisign.registry.store import Store, referrers_tag, sigstore_tag
from ocisign.sigstore.bundle import describe_bundle_referrers
from tests.conftest import run_ocisign
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.validate.conftest import sigstore_sign

pytestmark = pytest.mark.integration
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def _key(tmp: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp / f"{name}.pub"
    pub.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, pub


def cosign_v3_bundle(key: ec.EllipticCurvePrivateKey, digest: str) -> bytes:
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {},
    }).encode()
    kind = b"application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(statement), statement)
    sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return json.dumps({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": b64(hashlib.sha256(spki).digest())}},
        "dsseEnvelope": {"payload": b64(statement), "payloadType": kind.decode(),
                         "signatures": [{"sig": b64(sig)}]},
    }).encode()


def push_cosign_v3_referrer(store: Store, subject: Descriptor, bundle: bytes) -> str:
    """Push the bundle referrer by digest and index it under the referrers tag (as ggcr)."""
    store.push_blob(bundle, BUNDLE_TYPE)
    store.push_blob(b"{}", "application/vnd.oci.empty.v1+json")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": EMPTY_DIGEST, "artifactType": BUNDLE_TYPE},
        "layers": [{"mediaType": BUNDLE_TYPE, "size": len(bundle),
                    "digest": "sha256:" + hashlib.sha256(bundle).hexdigest()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest,
                    "size": subject.size},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
                        "org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }).encode()
    pushed = store.push_manifest(manifest, OCI_MANIFEST)
    tag = referrers_tag(subject.digest)
    try:
        entries = json.loads(store.fetch_manifest(tag).raw)["manifests"]
    except Exception:
        entries = []
    entries.append({"mediaType": OCI_MANIFEST, "digest": pushed.digest, "size": len(manifest)})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    store.push_manifest(index.encode(), OCI_INDEX, tag)
    return pushed.digest


def _validate(registry: RunningRegistry, ref: str, pub: Path, tmp: Path) -> tuple[int, str]:
    done = run_ocisign("validate", "--sigstore-pubkey", str(pub), "--insecure-registry",
                       "-v", "-o", str(tmp / "failed.txt"), f"{registry.host}/{ref}")
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def test_cosign_v3_bundle_referrer_verifies(registry: RunningRegistry, tmp_path: Path) -> None:
    digest = push_test_image(registry, "blob/v3:1")
    store = registry.client().store(f"{registry.host}/blob/v3")
    subject = store.resolve(digest)
    key, pub = _key(tmp_path, "cosign")
    _, other_pub = _key(tmp_path, "other")
    rc, out = _validate(registry, "blob/v3:1", pub, tmp_path)
    assert rc == 1  # nothing signed yet
    referrer = push_cosign_v3_referrer(store, subject, cosign_v3_bundle(key, digest))
    rc, out = _validate(registry, "blob/v3:1", pub, tmp_path)
    assert rc == 0, out
    assert "Successfully verified sigstore bundle" in out
    rc, out = _validate(registry, "blob/v3:1", other_pub, tmp_path)
    assert rc == 1 and "does not verify" in out
    described = describe_bundle_referrers(store, digest)
    assert [d["digest"] for d in described] == [referrer]
    assert described[0]["subjects"] == [digest]
    assert described[0]["verificationMaterial"]["publicKey"]["hint"]
    listed = run_ocisign("ls", "--insecure-registry", f"{registry.host}/blob/v3:1")
    assert listed.returncode == 0 and BUNDLE_TYPE in listed.stdout and referrer in listed.stdout
    doc = json.loads(run_ocisign("ls", "-o", "json", "--insecure-registry",
                                 f"{registry.host}/blob/v3:1").stdout)
    assert [(s["kind"], s["digest"]) for s in doc["signatures"]] == [("bundle", referrer)]
    shown = json.loads(run_ocisign("inspect", "-o", "json", "--insecure-registry",
                                   f"{registry.host}/blob/v3:1").stdout)
    assert [b["digest"] for b in shown["sigstoreBundles"]] == [referrer]


def test_wrong_subject_and_no_fallback_to_sig(registry: RunningRegistry, tmp_path: Path) -> None:
    """A bundle for another digest fails, and as in cosign v3 a valid .sig is then not
    consulted: once bundles exist, only bundles count."""
    digest = push_test_image(registry, "blob/v3b:1")
    store = registry.client().store(f"{registry.host}/blob/v3b")
    key, pub = _key(tmp_path, "cosign")
    rc, _ = _validate(registry, "blob/v3b:1", pub, tmp_path)
    assert rc == 1
    sigstore_sign(store, digest, f"{registry.host}/blob/v3b:1", key)
    rc, out = _validate(registry, "blob/v3b:1", pub, tmp_path)
    assert rc == 0, out  # the classic .sig passes while there is no bundle
    elsewhere = "sha256:" + "0" * 64
    push_cosign_v3_referrer(store, store.resolve(digest), cosign_v3_bundle(key, elsewhere))
    rc, out = _validate(registry, "blob/v3b:1", pub, tmp_path)
    assert rc == 1 and "no matching subject digest found" in out
    assert store.resolve(sigstore_tag(digest))  # the .sig is still there


def test_sign_sigstore_format_bundle(registry: RunningRegistry, tmp_path: Path) -> None:
    digest = push_test_image(registry, "blob/v3c:1")
    (tmp_path / "pass.txt").write_text("pw")
    prefix = str(tmp_path / "cosign")
    assert run_ocisign("key", "generate-pair", "--output-prefix", prefix, "--passphrase-file",
                       str(tmp_path / "pass.txt")).returncode == 0
    args = ("sign", "--sigstore-key", f"{prefix}.key", "--sigstore-passphrase-file",
            str(tmp_path / "pass.txt"), "--sigstore-format", "bundle", "--insecure-registry",
            f"{registry.host}/blob/v3c:1")
    done = run_ocisign(*args)
    assert done.returncode == 0, done.stderr
    store = registry.client().store(f"{registry.host}/blob/v3c")
    with pytest.raises(Exception):  # noqa: B017 - no .sig written
        store.resolve(sigstore_tag(digest))
    [ref] = store.referrers(digest)
    manifest = json.loads(store.fetch_manifest(ref.digest).raw)
    assert manifest["artifactType"] == BUNDLE_TYPE
    assert manifest["config"]["digest"] == EMPTY_DIGEST
    assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [BUNDLE_TYPE]
    again = run_ocisign(*args)
    assert again.returncode == 0, again.stderr
    assert len(store.referrers(digest)) == 1  # already signed: nothing new pushed
    rc, out = _validate(registry, "blob/v3c:1", Path(f"{prefix}.pub"), tmp_path)
    assert rc == 0 and "Successfully verified sigstore bundle" in out, out


def test_bundle_referrer_through_the_referrers_api(fake_registry: FakeRegistry,
                                                   tmp_path: Path) -> None:
    """The Referrers API path (the fake: no real server here has the API): sign with
    --force-referrers-tag=false, no referrers tag is written, validate finds the bundle."""
    digest = push_test_image(fake_registry, "api/v3:1")
    (tmp_path / "pass.txt").write_text("pw")
    prefix = str(tmp_path / "cosign")
    assert run_ocisign("key", "generate-pair", "--output-prefix", prefix, "--passphrase-file",
                       str(tmp_path / "pass.txt")).returncode == 0
    done = run_ocisign("sign", "--sigstore-key", f"{prefix}.key", "--sigstore-passphrase-file",
                       str(tmp_path / "pass.txt"), "--sigstore-format", "bundle",
                       "--force-referrers-tag=false", "--insecure-registry",
                       f"{fake_registry.host}/api/v3@{digest}")
    assert done.returncode == 0, done.stderr
    assert f"api/v3:{referrers_tag(digest)}" not in fake_registry.tags
    assert f"api/v3:{sigstore_tag(digest)}" not in fake_registry.tags
    done = run_ocisign("validate", "--sigstore-pubkey", f"{prefix}.pub", "--insecure-registry",
                       "-v", "-o", str(tmp_path / "f.txt"), f"{fake_registry.host}/api/v3@{digest}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully verified sigstore bundle" in done.stdout + done.stderr
