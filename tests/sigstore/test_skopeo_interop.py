"""ocisign's sigstore signatures, checked by skopeo (containers/image) on a real registry."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocisign.envelopes import simplesigning as ss
from ocisign.signers.local import LocalSigner
from ocisign.sigstore import identity
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.skopeo import Identity, skopeo_verify

from ._registry import Pusher
from .conftest import VECTORS, load_public_key

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(registry: RunningRegistry) -> Pusher:
    """The shared distribution fixture, wrapped for image and signature pushes."""
    return Pusher(registry)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Our signing key and another one, with their public keys written as PEM files."""
    out: dict[str, Any] = {}
    d = tmp_path_factory.mktemp("keys")
    for name in ("ours", "other"):
        key = ec.generate_private_key(ec.SECP256R1())
        pub = d / f"{name}.pub"
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        out[name], out[f"{name}.pub"] = key, pub
    return out


def sign(
    reg: Pusher, repo: str, digest: str, reference: str, key: Any, *, cosign: bool = False
) -> None:
    """Sign ``digest`` with our code (containers/image style, or cosign style) and push it."""
    optional = None if cosign else ss.containers_image_optional()
    payload = ss.build_payload(reference, digest, optional=optional)
    assert reg.attach_signature(repo, digest, payload, ss.sign_payload(LocalSigner(key), payload))


def verify(skopeo: Path, ref: str, pub: Path, rule: Identity, **kw: Any) -> bool:
    ok, out = skopeo_verify(skopeo, ref, [pub], rule, **kw)
    print(f"skopeo {'ACCEPTED' if ok else 'REJECTED'} {ref} under {rule}: {out[-300:]}")
    return ok


def test_single_arch_signed_by_tag(skopeo: Path, registry: Pusher, keys: dict[str, Any]) -> None:
    host, repo = registry.host, "test/single"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    sign(registry, repo, digest, f"{host}/{repo}:v1", keys["ours"])
    ref, pub = f"{host}/{repo}:v1", keys["ours.pub"]
    assert verify(skopeo, ref, pub, "matchRepoDigestOrExact")
    assert verify(skopeo, ref, pub, "matchRepository")
    assert verify(skopeo, ref, pub, ("exactReference", ref))
    assert verify(skopeo, f"{host}/{repo}@{digest}", pub, "matchRepoDigestOrExact")
    assert not verify(skopeo, ref, keys["other.pub"], "matchRepoDigestOrExact")
    assert not verify(skopeo, ref, pub, ("exactReference", f"{host}/{repo}:v2"))
    ok, out = skopeo_verify(skopeo, ref, [keys["other.pub"], pub], "matchRepoDigestOrExact")
    assert ok, out  # any of the keyPaths


def test_single_arch_signed_by_digest(skopeo: Path, registry: Pusher, keys: dict[str, Any]) -> None:
    host, repo = registry.host, "test/bydigest"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    sign(registry, repo, digest, f"{host}/{repo}@{digest}", keys["ours"])
    pub = keys["ours.pub"]
    assert verify(skopeo, f"{host}/{repo}@{digest}", pub, "matchRepoDigestOrExact")
    assert verify(skopeo, f"{host}/{repo}:v1", pub, "matchRepository")
    assert not verify(skopeo, f"{host}/{repo}:v1", pub, "matchRepoDigestOrExact")
    assert not verify(skopeo, f"{host}/{repo}@{digest}", keys["other.pub"], "matchRepository")


KEY_KINDS = {
    "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "P-521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "RSA-3072": lambda: rsa.generate_private_key(65537, 3072),
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_other_key_types_accepted(
    skopeo: Path, registry: Pusher, tmp_path: Path, kind: str
) -> None:
    """Our hash/padding choices (SHA-256 for every ECDSA curve) are what skopeo expects."""
    host, repo = registry.host, f"test/keytype-{kind.lower()}"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    key = KEY_KINDS[kind]()
    sign(registry, repo, digest, f"{host}/{repo}:v1", key)
    pub = tmp_path / "key.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert verify(skopeo, f"{host}/{repo}:v1", pub, "matchRepoDigestOrExact")


# (signed docker-reference: "tag" | "digest" | "repo", how skopeo addresses the image, rule)
AGREEMENT = [
    ("tag", "tag", "matchExact"),
    ("tag", "digest", "matchExact"),
    ("digest", "digest", "matchExact"),
    ("repo", "digest", "matchRepoDigestOrExact"),
    ("repo", "tag", "matchRepoDigestOrExact"),
    ("repo", "tag", "matchRepository"),
    ("tag", "digest", "matchRepoDigestOrExact"),
]


@pytest.mark.parametrize(("signed", "addressed", "rule"), AGREEMENT)
def test_identity_rules_agree_with_skopeo(
    skopeo: Path, registry: Pusher, keys: dict[str, Any], signed: str, addressed: str, rule: str
) -> None:
    host = registry.host
    repo = f"test/agree-{signed}-{addressed}-{rule.lower()}"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    forms = {
        "tag": f"{host}/{repo}:v1",
        "digest": f"{host}/{repo}@{digest}",
        "repo": f"{host}/{repo}",
    }
    sign(registry, repo, digest, forms[signed], keys["ours"], cosign=signed == "repo")
    ours = identity.identity_rule(rule)(forms[addressed], forms[signed])
    assert verify(skopeo, forms[addressed], keys["ours.pub"], rule) is ours


def test_multi_arch_index_and_instances(
    skopeo: Path, registry: Pusher, keys: dict[str, Any]
) -> None:
    host, repo = registry.host, "test/multi"
    index_digest, instances = registry.push_test_image(repo, "v1", ["amd64", "arm64"])
    ref, pub = f"{host}/{repo}:v1", keys["ours.pub"]
    assert not verify(skopeo, ref, pub, "matchRepository")  # unsigned yet
    for digest in [index_digest, *instances.values()]:
        sign(registry, repo, digest, ref, keys["ours"])
    for rule in ("matchRepoDigestOrExact", "matchRepository"):
        assert verify(skopeo, ref, pub, rule)
        assert verify(skopeo, ref, pub, rule, all_instances=True)
    assert verify(skopeo, f"{host}/{repo}@{instances['arm64']}", pub, "matchRepoDigestOrExact")
    assert not verify(skopeo, ref, keys["other.pub"], "matchRepository", all_instances=True)


def skopeo_sign(skopeo: Path, ref: str, tmp: Path) -> None:
    """Reference signature by skopeo: copy the image onto itself, signing with the vector key."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "policy.json").write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
    regd = tmp / "registries.d"
    regd.mkdir()
    (regd / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    cmd = [str(skopeo), "--policy", str(tmp / "policy.json"), "--registries.d", str(regd)]
    cmd += ["copy", "-q", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false"]
    cmd += ["--sign-by-sigstore-private-key", str(VECTORS / "skopeo-generated.private")]
    cmd += ["--sign-passphrase-file", str(VECTORS / "skopeo-generated.passphrase")]
    cmd += [f"docker://{ref}", f"docker://{ref}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr


def test_skopeo_and_ocisign_signatures_coexist(
    skopeo: Path, registry: Pusher, keys: dict[str, Any], tmp_path: Path
) -> None:
    host, repo = registry.host, "test/coexist"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    ref = f"{host}/{repo}:v1"
    skopeo_sign(skopeo, ref, tmp_path)
    before, _ = registry.sig_manifest(repo, digest)
    assert before is not None
    (skopeo_layer,) = ss.parse_sig_manifest(before)
    sign(registry, repo, digest, ref, keys["ours"])
    after, _ = registry.sig_manifest(repo, digest)
    assert after is not None
    layers = ss.parse_sig_manifest(after)
    assert len(layers) == 2 and layers[0] == skopeo_layer
    assert before[before.index(b'"layers":[') + 10 : -2] in after  # skopeo's layer, byte for byte
    skopeo_pub = VECTORS / "skopeo-generated.pub"
    for pub in (skopeo_pub, keys["ours.pub"]):
        assert verify(skopeo, ref, pub, "matchRepoDigestOrExact")
    assert not verify(skopeo, ref, keys["other.pub"], "matchRepoDigestOrExact")
    # and our own verifier agrees: each layer verifies with its own key
    public_keys = [load_public_key(skopeo_pub), keys["ours"].public_key()]
    results = ss.verify_layers(
        layers, lambda d: registry.get_blob(repo, d.digest), public_keys, digest
    )
    assert [r.ok for r in results] == [True, True], [r.reason for r in results]
    # skopeo appends its next signature after ours, keeping both
    skopeo_sign(skopeo, ref, tmp_path / "again")
    final, _ = registry.sig_manifest(repo, digest)
    assert final is not None
    assert ss.parse_sig_manifest(final)[:2] == layers


@pytest.mark.parametrize("form", ["{ref}\n", " {ref}", "{ref} ", "{ref}\u0661"])
def test_loose_docker_references_rejected_like_skopeo(
    skopeo: Path, registry: Pusher, keys: dict[str, Any], form: str
) -> None:
    """Issue 11, case 10: a docker-reference with whitespace or non-ASCII never matches."""
    host = registry.host
    repo = f"test/loose-{len(form)}-{ord(form[-1])}"
    digest, _ = registry.push_test_image(repo, "v1", ["amd64"])
    ref = f"{host}/{repo}:v1"
    sign(registry, repo, digest, form.format(ref=ref), keys["ours"])
    for rule in ("matchRepoDigestOrExact", "matchRepository"):
        assert identity.identity_rule(rule)(ref, form.format(ref=ref)) is False
        assert not verify(skopeo, ref, keys["ours.pub"], rule)
