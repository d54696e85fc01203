"""cosign simple signing: payload bytes, strict parsing, signatures and the .sig manifest."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocisign.envelopes import simplesigning as ss
from ocisign.errors import (
    KeyFileError,
    RegistryError,
    SignatureError,
    VerificationError,
)
from ocisign.oci import OCI_CONFIG, OCI_MANIFEST, SIMPLESIGNING, Descriptor, sha256_digest
from ocisign.registry.store import sigstore_tag
from ocisign.signers.local import LocalSigner

from .conftest import FIXTURES, VECTORS

SINGLE = VECTORS / "skopeo-signed-single"
MULTI = VECTORS / "skopeo-signed-multi"
SKOPEO_SIGNED = [
    (SINGLE / "image-manifest.json", SINGLE / "image"),
    (MULTI / "image-manifest.json", MULTI / "index"),
    (MULTI / "instance-amd64-manifest.json", MULTI / "amd64"),
    (MULTI / "instance-arm64-manifest.json", MULTI / "arm64"),
]
DIR_SIGNATURES = [
    FIXTURES / "dir-img-cosign-valid" / "signature-1",
    FIXTURES / "dir-img-cosign-valid-with-tag" / "signature-1",
    FIXTURES / "dir-img-cosign-valid-2" / "signature-1",
    FIXTURES / "dir-img-cosign-valid-2" / "signature-2",
]


def sig_files(prefix: Path) -> tuple[bytes, bytes, bytes]:
    """(.sig manifest, its config, payload 1) of a skopeo-signed vector."""
    return tuple(  # type: ignore[return-value]
        Path(f"{prefix}.sig-{part}").read_bytes()
        for part in ("manifest.json", "config.json", "payload-1.json")
    )


# ----------------------------------------------------------------------- payload
@pytest.mark.parametrize(("image", "prefix"), SKOPEO_SIGNED, ids=lambda p: p.name)
def test_payload_bytes_identical_to_skopeo(image: Path, prefix: Path) -> None:
    _, _, payload = sig_files(prefix)
    doc = json.loads(payload)
    ref = doc["critical"]["identity"]["docker-reference"]
    digest = sha256_digest(image.read_bytes())
    optional = {"creator": doc["optional"]["creator"], "timestamp": doc["optional"]["timestamp"]}
    assert ss.build_payload(ref, digest, optional=optional) == payload
    parsed = ss.parse_payload(payload)
    assert parsed.manifest_digest == digest
    assert parsed.docker_reference == ref
    assert parsed.creator == "containers/image 5.34.2"
    assert isinstance(parsed.timestamp, int)


@pytest.mark.parametrize("path", DIR_SIGNATURES[:2], ids=["cosign", "skopeo"])
def test_payload_bytes_identical_to_cosign_and_old_skopeo(path: Path) -> None:
    layer, payload = ss.parse_dir_signature(path.read_bytes())
    parsed = ss.parse_payload(payload)
    manifest = path.with_name("manifest.json").read_bytes()
    assert parsed.manifest_digest == sha256_digest(manifest)
    rebuilt = ss.build_payload(
        parsed.docker_reference, parsed.manifest_digest, optional=parsed.optional
    )
    assert rebuilt == payload
    assert layer.descriptor.digest == sha256_digest(payload)


def test_cosign_style_payload_has_null_optional() -> None:
    digest = "sha256:" + "ab" * 32
    data = ss.build_payload("quay.io/a/b", digest, optional=None)
    assert data.endswith(b'"type":"cosign container image signature"},"optional":null}')
    assert ss.parse_payload(data).optional is None


def test_containers_image_optional() -> None:
    from ocisign import __version__

    opt = ss.containers_image_optional(1700000000.9)
    assert opt == {"creator": f"ocisign {__version__}", "timestamp": 1700000000}
    assert type(opt["timestamp"]) is int
    assert isinstance(ss.containers_image_optional()["timestamp"], int)
    data = ss.build_payload("r.io/a/b:v1", "sha256:" + "0" * 64, optional=opt)
    assert data.endswith(
        f'"optional":{{"creator":"ocisign {__version__}","timestamp":1700000000}}}}'.encode()
    )


def test_payload_escapes_like_go() -> None:
    data = ss.build_payload("r.io/a/b:v1", "sha256:" + "0" * 64, optional={"note": "<a&b>", "é": 1})
    assert b"\\u003ca\\u0026b\\u003e" in data
    assert '"é":1'.encode() in data


@pytest.mark.parametrize(
    ("ref", "digest"), [("", "sha256:" + "0" * 64), ("r.io/a", "sha256:abc"), ("r.io/a", "md5:00")]
)
def test_build_payload_rejects_bad_inputs(ref: str, digest: str) -> None:
    with pytest.raises(SignatureError):
        ss.build_payload(ref, digest, optional=None)


GOOD: dict[str, Any] = {
    "critical": {
        "identity": {"docker-reference": "r.io/a/b:v1"},
        "image": {"docker-manifest-digest": "sha256:" + "1" * 64},
        "type": "cosign container image signature",
    },
    "optional": {"creator": "x", "timestamp": 1},
}


def mutate(fn: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(json.dumps(GOOD))
    fn(doc)
    return json.dumps(doc).encode()


BAD_PAYLOADS: dict[str, bytes] = {
    "not json": b"{nope",
    "not utf-8": b'{"critical":"\xff"}',
    "array": b"[]",
    "extra top key": mutate(lambda d: d.update(extra=1)),
    "missing optional": mutate(lambda d: d.pop("optional")),
    "missing critical": mutate(lambda d: d.pop("critical")),
    "critical not object": mutate(lambda d: d.update(critical="x")),
    "critical extra key": mutate(lambda d: d["critical"].update(extra=1)),
    "critical missing type": mutate(lambda d: d["critical"].pop("type")),
    "atomic type": mutate(lambda d: d["critical"].update(type="atomic container signature")),
    "type not string": mutate(lambda d: d["critical"].update(type=1)),
    "image extra key": mutate(lambda d: d["critical"]["image"].update(x="y")),
    "image empty": mutate(lambda d: d["critical"].update(image={})),
    "digest not string": mutate(
        lambda d: d["critical"]["image"].update({"docker-manifest-digest": 5})
    ),
    "digest invalid": mutate(
        lambda d: d["critical"]["image"].update({"docker-manifest-digest": "sha256:XYZ"})
    ),
    "identity extra key": mutate(lambda d: d["critical"]["identity"].update(x="y")),
    "identity missing": mutate(lambda d: d["critical"].pop("identity")),
    "reference number": mutate(lambda d: d["critical"]["identity"].update({"docker-reference": 1})),
    "reference null": mutate(
        lambda d: d["critical"]["identity"].update({"docker-reference": None})
    ),
    "optional string": mutate(lambda d: d.update(optional="x")),
    "optional list": mutate(lambda d: d.update(optional=[])),
    "creator number": mutate(lambda d: d["optional"].update(creator=1)),
    "timestamp string": mutate(lambda d: d["optional"].update(timestamp="1")),
    "timestamp fraction": mutate(lambda d: d["optional"].update(timestamp=1.5)),
    "timestamp bool": mutate(lambda d: d["optional"].update(timestamp=True)),
    "timestamp huge": mutate(lambda d: d["optional"].update(timestamp=1e300)),
    "duplicate key": json.dumps(GOOD).replace('"optional"', '"critical":{},"optional"', 1).encode(),
    "NaN": json.dumps(GOOD).replace('"timestamp": 1', '"timestamp": NaN').encode(),
    "trailing data": json.dumps(GOOD).encode() + b"{}",
}


@pytest.mark.parametrize("data", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_parse_payload_rejects(data: bytes) -> None:
    with pytest.raises(VerificationError) as err:
        ss.parse_payload(data)
    assert err.value.message


def test_parse_payload_accepts_lenient_optional() -> None:
    assert (
        ss.parse_payload(mutate(lambda d: d["optional"].update(timestamp=1.7e9))).timestamp
        == 1700000000
    )
    assert ss.parse_payload(mutate(lambda d: d.update(optional={"k": [1]}))).creator is None
    assert ss.parse_payload(mutate(lambda d: d.update(optional=None))).optional is None


def test_parse_payload_reports_the_reason() -> None:
    with pytest.raises(VerificationError, match="atomic container signature"):
        ss.parse_payload(BAD_PAYLOADS["atomic type"])
    with pytest.raises(VerificationError, match="not an integer"):
        ss.parse_payload(BAD_PAYLOADS["timestamp fraction"])


# -------------------------------------------------------------------- signatures
@pytest.mark.parametrize(("image", "prefix"), SKOPEO_SIGNED, ids=lambda p: p.name)
def test_skopeo_signatures_verify(
    image: Path, prefix: Path, skopeo_pub: Any, cosign2_pub: Any
) -> None:
    manifest, _, payload = sig_files(prefix)
    (layer,) = ss.parse_sig_manifest(manifest)
    assert layer.descriptor.digest == sha256_digest(payload)
    assert ss.verify_signature(skopeo_pub, payload, layer.signature)
    assert not ss.verify_signature(cosign2_pub, payload, layer.signature)
    assert not ss.verify_signature(skopeo_pub, payload + b" ", layer.signature)
    results = ss.verify_layers(
        [layer], lambda d: payload, [skopeo_pub], sha256_digest(image.read_bytes())
    )
    assert [r.ok for r in results] == [True]


@pytest.mark.parametrize("path", DIR_SIGNATURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_containers_image_fixtures_verify(path: Path, cosign_pub: Any, cosign2_pub: Any) -> None:
    layer, payload = ss.parse_dir_signature(path.read_bytes())
    assert layer.descriptor.media_type == SIMPLESIGNING
    assert ss.verify_signature(cosign_pub, payload, layer.signature)
    assert not ss.verify_signature(cosign2_pub, payload, layer.signature)
    expected = sha256_digest(path.with_name("manifest.json").read_bytes())
    (ok,) = ss.verify_layers([layer], lambda d: payload, [cosign2_pub, cosign_pub], expected)
    assert ok.ok and ok.payload is not None
    (bad,) = ss.verify_layers([layer], lambda d: payload, [cosign2_pub], expected)
    assert not bad.ok and "cryptographic" in bad.reason


def test_dir_signature_needs_prefix() -> None:
    with pytest.raises(SignatureError, match="prefix"):
        ss.parse_dir_signature(b'{"payload":""}')


KEYS: dict[str, Callable[[], Any]] = {
    "P-256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "P-521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "RSA-2048": lambda: rsa.generate_private_key(65537, 2048),
    "RSA-3072": lambda: rsa.generate_private_key(65537, 3072),
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("kind", KEYS)
def test_sign_verify_round_trip(kind: str) -> None:
    key, other = KEYS[kind](), KEYS[kind]()
    payload = ss.build_payload("r.io/a/b:v1", "sha256:" + "2" * 64, optional=None)
    sig = ss.sign_payload(LocalSigner(key), payload)
    assert base64.b64encode(base64.b64decode(sig, validate=True)).decode() == sig
    assert ss.verify_signature(key.public_key(), payload, sig)
    assert not ss.verify_signature(other.public_key(), payload, sig)
    assert not ss.verify_signature(key.public_key(), payload[:-1], sig)
    if sig.endswith("="):  # standard base64: padding is required
        assert not ss.verify_signature(key.public_key(), payload, sig.rstrip("="))
    assert not ss.verify_signature(key.public_key(), payload, "not base64!")


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1()], ids=["P-384", "P-521"])
def test_ecdsa_hash_is_sha256_for_every_curve(curve: ec.EllipticCurve) -> None:
    """containers/image hashes with SHA-256 whatever the curve (sigstoreHarcodedHashAlgorithm)."""
    key = ec.generate_private_key(curve)
    sig = base64.b64decode(ss.sign_payload(LocalSigner(key), b"payload"))
    key.public_key().verify(sig, b"payload", ec.ECDSA(hashes.SHA256()))  # raises if not


def test_ecdsa_signature_is_der() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = base64.b64decode(ss.sign_payload(LocalSigner(key), b"x"))
    assert raw[0] == 0x30 and 68 <= len(raw) <= 72


@pytest.mark.parametrize(
    "make",
    [
        lambda: rsa.generate_private_key(65537, 1024),
        lambda: ec.generate_private_key(ec.SECP256K1()),
    ],
    ids=["RSA-1024", "secp256k1"],
)
def test_unsupported_keys_rejected(make: Callable[[], Any]) -> None:
    key = make()
    with pytest.raises(KeyFileError):
        ss.sign_payload(LocalSigner(key), b"x")
    with pytest.raises(KeyFileError):
        ss.verify_signature(key.public_key(), b"x", "AAAA")


# ------------------------------------------------------------ the .sig manifest
def test_sig_tag() -> None:
    assert sigstore_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64 + ".sig"
    with pytest.raises(RegistryError):
        sigstore_tag("latest")


@pytest.mark.parametrize(("image", "prefix"), SKOPEO_SIGNED, ids=lambda p: p.name)
def test_fresh_sig_manifest_identical_to_skopeo(image: Path, prefix: Path) -> None:
    manifest, config, payload = sig_files(prefix)
    (layer,) = ss.parse_sig_manifest(manifest)
    result = ss.append_signature(None, None, payload, layer.signature)
    assert result.changed
    assert result.manifest == manifest
    assert result.config == config


def test_new_layer_annotations_sorted() -> None:
    desc = ss.new_layer(b"p", "c2ln", {"dev.sigstore.cosign/bundle": "{}", "a.b": "c"})
    assert list(desc.annotations) == ["a.b", ss.SIGNATURE_ANNOTATION, "dev.sigstore.cosign/bundle"]
    assert desc == Descriptor(SIMPLESIGNING, sha256_digest(b"p"), 1, annotations=desc.annotations)


def test_append_keeps_existing_layers_and_skips_duplicates() -> None:
    manifest, config, payload = sig_files(SINGLE / "image")
    old_layer_text = manifest[manifest.index(b'"layers":[') + 10 : -2]
    key = ec.generate_private_key(ec.SECP256R1())
    mine = ss.build_payload("127.0.0.1:5001/vectors/single:v1", "sha256:" + "3" * 64, optional=None)
    sig = ss.sign_payload(LocalSigner(key), mine)
    new_manifest, new_config, changed = ss.append_signature(manifest, config, mine, sig)
    assert changed
    assert old_layer_text in new_manifest
    layers = ss.parse_sig_manifest(new_manifest)
    assert [x.descriptor.digest for x in layers] == [sha256_digest(payload), sha256_digest(mine)]
    doc = json.loads(new_manifest)
    assert doc["mediaType"] == OCI_MANIFEST and doc["schemaVersion"] == 2
    assert doc["config"] == {
        "mediaType": OCI_CONFIG,
        "digest": sha256_digest(new_config),
        "size": len(new_config),
    }
    assert json.loads(new_config)["rootfs"]["diff_ids"] == [
        sha256_digest(payload),
        sha256_digest(mine),
    ]
    assert new_config.startswith(b'{"architecture":"","os":"","config":{},"rootfs":')
    # the same signature again: nothing changes
    again = ss.append_signature(new_manifest, new_config, mine, sig)
    assert again == (new_manifest, new_config, False)
    # skopeo's own signature again: already there
    assert not ss.append_signature(manifest, config, payload, layers[0].signature).changed
    # same payload, other annotations: a new layer
    third = ss.append_signature(new_manifest, new_config, mine, sig, {"k": "v"})
    assert third.changed and len(ss.parse_sig_manifest(third.manifest)) == 3


def test_append_keeps_unknown_fields() -> None:
    manifest, config, _ = sig_files(SINGLE / "image")
    doc = json.loads(manifest)
    doc["annotations"] = {"x": "y"}
    doc["layers"][0]["urls"] = ["https://example.invalid/p"]
    cfg = json.loads(config)
    cfg["created"] = "0001-01-01T00:00:00Z"
    out = ss.append_signature(json.dumps(doc).encode(), json.dumps(cfg).encode(), b"{}", "c2ln")
    new = json.loads(out.manifest)
    assert new["annotations"] == {"x": "y"}
    assert new["layers"][0]["urls"] == ["https://example.invalid/p"]
    assert json.loads(out.config)["created"] == "0001-01-01T00:00:00Z"


def test_append_without_config_lists_every_layer() -> None:
    manifest, _, payload = sig_files(SINGLE / "image")
    out = ss.append_signature(manifest, None, b"{}", "c2ln")
    assert json.loads(out.config)["rootfs"]["diff_ids"] == [
        sha256_digest(payload),
        sha256_digest(b"{}"),
    ]


def many_layers(n: int) -> bytes:
    layer = ss.new_layer(b"{}", "c2ln").to_dict()
    layers = [dict(layer, digest=sha256_digest(str(i).encode())) for i in range(n)]
    cfg = {"mediaType": OCI_CONFIG, "digest": sha256_digest(b"{}"), "size": 2}
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": layers}
    ).encode()


def one_layer(**changes: Any) -> bytes:
    doc = json.loads(many_layers(1))
    doc["layers"][0].update(changes)
    return json.dumps(doc).encode()


def test_append_caps_at_1000_layers() -> None:
    assert len(ss.parse_sig_manifest(many_layers(1000))) == 1000
    with pytest.raises(SignatureError, match="1000"):
        ss.append_signature(many_layers(1000), None, b"new", "c2ln")
    assert ss.append_signature(many_layers(999), None, b"new", "c2ln").changed


BAD_MANIFESTS: dict[str, bytes] = {
    "too big": b" " * (4 * 1024 * 1024 + 1),
    "not json": b"<html>",
    "array": b"[]",
    "docker media type": json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {},
            "layers": [],
        }
    ).encode(),
    "schema 1": json.dumps(
        {"schemaVersion": 1, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}
    ).encode(),
    "layers not list": json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": {}}
    ).encode(),
    "no config": json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(),
    "1001 layers": many_layers(1001),
    "layer not object": json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": ["x"]}
    ).encode(),
    "bad digest": one_layer(digest="sha256:zz"),
    "no media type": one_layer(mediaType=None),
    "bad size": one_layer(size="2"),
    "negative size": one_layer(size=-1),
    "bad annotations": one_layer(annotations={"n": 1}),
}


@pytest.mark.parametrize("data", BAD_MANIFESTS.values(), ids=BAD_MANIFESTS.keys())
def test_parse_sig_manifest_rejects(data: bytes) -> None:
    with pytest.raises(SignatureError) as err:
        ss.parse_sig_manifest(data)
    assert err.value.message
    with pytest.raises(SignatureError):
        ss.append_signature(data, None, b"{}", "c2ln")


def test_verify_layers_reasons(skopeo_pub: Any, cosign2_pub: Any) -> None:
    manifest, _, payload = sig_files(SINGLE / "image")
    (layer,) = ss.parse_sig_manifest(manifest)
    image_digest = sha256_digest((SINGLE / "image-manifest.json").read_bytes())

    def check(
        layers: list[ss.SignatureLayer],
        fetch: Callable[[Descriptor], bytes],
        keys: list[Any],
        digest: str,
    ) -> str:
        (result,) = ss.verify_layers(layers, fetch, keys, digest)
        assert not result.ok
        return result.reason

    assert "not sha256:" in check([layer], lambda d: payload, [skopeo_pub], "sha256:" + "4" * 64)
    assert "cryptographic" in check([layer], lambda d: payload, [cosign2_pub], image_digest)
    assert "does not match" in check([layer], lambda d: payload + b" ", [skopeo_pub], image_digest)
    other = ss.SignatureLayer(
        Descriptor("application/json", layer.descriptor.digest, 304), layer.signature
    )
    assert "media type" in check([other], lambda d: payload, [skopeo_pub], image_digest)
    unsigned = ss.SignatureLayer(layer.descriptor, "")
    assert "annotation" in check([unsigned], lambda d: payload, [skopeo_pub], image_digest)

    def missing(d: Descriptor) -> bytes:
        from ocisign.errors import NotFoundError

        raise NotFoundError(f"blob {d.digest} not found")

    assert "not found" in check([layer], missing, [skopeo_pub], image_digest)
    with pytest.raises(VerificationError):
        ss.verify_layers([layer], lambda d: payload, [], image_digest)


def test_one_good_signature_beside_a_bad_one(skopeo_pub: Any) -> None:
    manifest, config, payload = sig_files(SINGLE / "image")
    (good,) = ss.parse_sig_manifest(manifest)
    raw = bytearray(base64.b64decode(good.signature))
    raw[-1] ^= 1
    bad_sig = base64.b64encode(bytes(raw)).decode()
    out = ss.append_signature(manifest, config, payload, bad_sig)
    layers = ss.parse_sig_manifest(out.manifest)
    image_digest = sha256_digest((SINGLE / "image-manifest.json").read_bytes())
    results = ss.verify_layers(layers, lambda d: payload, [skopeo_pub], image_digest)
    assert [r.ok for r in results] == [True, False]
