"""cosign "simple signing": payloads, signatures and the ``sha256-<hex>.sig`` manifest.

Writes what containers/image (skopeo, podman, hangar v1) writes, byte for byte, and reads
payloads with its strict rules. Signatures follow containers/image, the verifier of
record: ECDSA (P-256/384/521) always with SHA-256 in ASN.1 DER, RSA PKCS#1 v1.5 with
SHA-256 (keys of 2048 bits or more), Ed25519 over the payload itself; base64 (standard,
padded). Everything here works on bytes: fetching and pushing is the registry layer's job.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ocisign import __version__
from ocisign.errors import (
    DigestMismatchError,
    KeyFileError,
    OcisignError,
    SignatureError,
    VerificationError,
)
from ocisign.keys.algorithms import Scheme
from ocisign.oci import (
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLESIGNING,
    Descriptor,
    check_digest,
    is_digest,
    sha256_digest,
)
from ocisign.util.encoding import go_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from ocisign.signers.base import Signer

SIGNATURE_TYPE = "cosign container image signature"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
MAX_SIG_MANIFEST_BYTES = 4 * 1024 * 1024  # containers/image's manifest body limit
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # containers/image's signature body limit
MAX_LAYERS = 1000  # cosign's cap on signatures in one .sig manifest
MIN_RSA_BITS = 2048
DIR_SIGNATURE_PREFIX = b"\x00sigstore-json\n"  # containers/image dir: transport signature file

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


@dataclass(frozen=True)
class SimpleSigningPayload:
    """A parsed payload. ``optional`` is ``None`` for cosign's ``"optional": null``."""

    docker_reference: str
    manifest_digest: str
    optional: dict[str, Any] | None
    creator: str | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class SignatureLayer:
    """One layer of a ``.sig`` manifest; ``signature`` is the base64 annotation ("" if absent)."""

    descriptor: Descriptor
    signature: str


@dataclass(frozen=True)
class LayerResult:
    """Verdict on one layer: ``ok`` with the parsed payload, or the reason it failed."""

    layer: SignatureLayer
    ok: bool
    reason: str = ""
    payload: SimpleSigningPayload | None = None


class AppendResult(NamedTuple):
    """New ``.sig`` manifest and config bytes; ``changed`` is False for a duplicate."""

    manifest: bytes
    config: bytes
    changed: bool


# ------------------------------------------------------------------------- JSON
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _strict_loads(data: bytes, what: str, error: type[OcisignError]) -> Any:
    """Parse JSON, rejecting duplicate keys, NaN/Infinity and invalid UTF-8."""

    def bad_constant(name: str) -> Any:
        raise ValueError(f"invalid JSON constant {name}")

    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=bad_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None


def _invalid(detail: str) -> VerificationError:
    return VerificationError(f"invalid signature payload: {detail}")


def _exact_object(value: Any, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a JSON object")
    if set(value) != keys:
        extra, missing = sorted(set(value) - keys), sorted(keys - set(value))
        detail = f"unknown key(s) {extra}" if extra else f"missing key(s) {missing}"
        raise _invalid(f"{where} has {detail}")
    return value


# ---------------------------------------------------------------------- payload
def containers_image_optional(now: float | None = None) -> dict[str, Any]:
    """``optional`` as containers/image writes it: creator and integer Unix time."""
    return {
        "creator": f"ocisign {__version__}",
        "timestamp": int(time.time() if now is None else now),
    }


def build_payload(
    docker_reference: str, manifest_digest: str, *, optional: dict[str, Any] | None
) -> bytes:
    """The payload bytes, compact JSON with sorted keys exactly as containers/image/cosign write."""
    if not docker_reference:
        raise SignatureError("the signature's docker-reference is empty")
    if not is_digest(manifest_digest):
        raise SignatureError(f"invalid manifest digest {manifest_digest!r}")
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": optional,
    }
    return go_json(doc, sort_keys=True)


def parse_payload(data: bytes) -> SimpleSigningPayload:
    """Parse a payload with containers/image's strict rules; VerificationError says why not."""
    doc = _exact_object(
        _strict_loads(data, "signature payload", VerificationError),
        {"critical", "optional"},
        "the payload",
    )
    optional = doc["optional"]
    creator: str | None = None
    timestamp: int | None = None
    if optional is not None:
        if not isinstance(optional, dict):
            raise _invalid("optional is not an object or null")
        if "creator" in optional:
            if not isinstance(optional["creator"], str):
                raise _invalid("optional.creator is not a string")
            creator = optional["creator"]
        if "timestamp" in optional:
            ts = optional["timestamp"]
            if isinstance(ts, bool) or not isinstance(ts, int | float):
                raise _invalid("optional.timestamp is not a number")
            if isinstance(ts, float) and not ts.is_integer():
                raise _invalid("optional.timestamp is not an integer")
            if not -(2**63) <= ts < 2**63:
                raise _invalid("optional.timestamp is out of range")
            timestamp = int(ts)
    critical = _exact_object(doc["critical"], {"identity", "image", "type"}, "critical")
    if critical["type"] != SIGNATURE_TYPE:
        raise VerificationError(f"unrecognized signature type {critical['type']!r}")
    image = _exact_object(critical["image"], {"docker-manifest-digest"}, "critical.image")
    digest = image["docker-manifest-digest"]
    if not isinstance(digest, str) or not is_digest(digest):
        raise VerificationError(f"invalid docker-manifest-digest value {digest!r}")
    identity = _exact_object(critical["identity"], {"docker-reference"}, "critical.identity")
    ref = identity["docker-reference"]
    if not isinstance(ref, str):
        raise _invalid("docker-reference is not a string")
    return SimpleSigningPayload(ref, digest, optional, creator, timestamp)


# -------------------------------------------------------------------- signatures
def check_key(key: object) -> None:
    """KeyFileError for a key type or size containers/image does not sign with."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _CURVES):
            raise KeyFileError(
                f"unsupported elliptic curve {key.curve.name}", "use P-256, P-384 or P-521"
            )
    elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyFileError(
                f"RSA key of {key.key_size} bits is too small", "use 2048 bits or more"
            )
    elif not isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(
            f"unsupported key type {type(key).__name__} for sigstore signatures",
            "use an ECDSA (P-256/384/521), RSA (>= 2048 bits) or Ed25519 key",
        )


def sign_payload(signer: Signer, payload: bytes) -> str:
    """Sign ``payload`` as containers/image does; returns standard padded base64."""
    check_key(signer.public_key())
    return base64.b64encode(signer.sign(payload, Scheme.CONTAINERS)).decode("ascii")


def verify_signature(public_key: PublicKeyTypes, payload: bytes, sig_b64: str) -> bool:
    """True iff ``sig_b64`` (standard base64) is a valid signature of ``payload`` by the key."""
    check_key(public_key)
    try:
        raw = base64.b64decode(sig_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(raw, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(raw, payload)
        else:  # check_key refused every other type
            return False
    except InvalidSignature:
        return False
    return True


# ------------------------------------------------------------- the .sig manifest
def new_layer(
    payload: bytes, signature_b64: str, extra_annotations: Mapping[str, str] | None = None
) -> Descriptor:
    """The layer descriptor of one signature (annotations sorted, as Go writes maps)."""
    if not signature_b64:
        raise SignatureError("empty signature")
    annotations = dict(extra_annotations or {})
    annotations[SIGNATURE_ANNOTATION] = signature_b64
    return Descriptor.of(payload, SIMPLESIGNING, annotations=dict(sorted(annotations.items())))


def _empty_config() -> dict[str, Any]:
    return {
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def append_signature(
    existing_manifest: bytes | None,
    existing_config: bytes | None,
    payload: bytes,
    signature: str,
    extra_annotations: Mapping[str, str] | None = None,
) -> AppendResult:
    """Add one signature layer to a ``.sig`` manifest (or start one), as containers/image does.

    Existing layers and unknown fields are kept as they were; an identical layer (media
    type, payload digest, annotations) is not added twice (``changed`` False, inputs
    returned). With a manifest but no config, a fresh config lists every layer's digest.
    """
    layer = new_layer(payload, signature, extra_annotations)
    if existing_manifest is None:
        manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
        manifest.update(config={}, layers=[])  # key order as containers/image writes it
        config = _empty_config()
    else:
        manifest = _load_sig_manifest(existing_manifest)
        for old in manifest["layers"]:
            same = old.get("mediaType") == layer.media_type and old.get("digest") == layer.digest
            if same and (old.get("annotations") or {}) == layer.annotations:
                return AppendResult(existing_manifest, existing_config or b"", False)
        if len(manifest["layers"]) >= MAX_LAYERS:
            raise SignatureError(
                f"the .sig manifest already holds {MAX_LAYERS} signatures",
                "remove old signatures before adding more",
            )
        if existing_config is None:
            config = _empty_config()
            config["rootfs"]["diff_ids"] = [old["digest"] for old in manifest["layers"]]
        else:
            config = _strict_loads(existing_config, "the .sig config", SignatureError)
            if not isinstance(config, dict):
                raise SignatureError("the .sig config is not a JSON object")
            rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            if not isinstance(rootfs, dict) or not isinstance(
                rootfs.setdefault("diff_ids", []), list
            ):
                raise SignatureError("the .sig config has a malformed rootfs")
    manifest["layers"].append(layer.to_dict())
    config["rootfs"]["diff_ids"].append(layer.digest)
    config_bytes = go_json(config)
    manifest["config"] = Descriptor.of(config_bytes, OCI_CONFIG).to_dict()
    return AppendResult(go_json(manifest), config_bytes, True)


def _layer_of(raw: Any, index: int) -> SignatureLayer:
    where = f"layer {index + 1} of the .sig manifest"
    if not isinstance(raw, dict):
        raise SignatureError(f"{where} is not a JSON object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    annotations = raw.get("annotations") or {}
    if not isinstance(media_type, str) or not media_type:
        raise SignatureError(f"{where} has no mediaType")
    if not isinstance(digest, str) or not is_digest(digest):
        raise SignatureError(f"{where} has an invalid digest {digest!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise SignatureError(f"{where} has an invalid size {size!r}")
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise SignatureError(f"{where} has malformed annotations")
    desc = Descriptor(media_type, digest, size, annotations=dict(annotations))
    return SignatureLayer(desc, annotations.get(SIGNATURE_ANNOTATION, ""))


def _load_sig_manifest(data: bytes) -> dict[str, Any]:
    """The checked JSON of a ``.sig`` manifest (size, shape, media type, layers)."""
    if len(data) > MAX_SIG_MANIFEST_BYTES:
        raise SignatureError(f"the .sig manifest is {len(data)} bytes, over the 4 MiB limit")
    doc = _strict_loads(data, "the .sig manifest", SignatureError)
    if not isinstance(doc, dict):
        raise SignatureError("the .sig manifest is not a JSON object")
    if doc.get("schemaVersion") != 2 or doc.get("mediaType") != OCI_MANIFEST:
        raise SignatureError(
            f"the .sig manifest is not an OCI image manifest (schemaVersion "
            f"{doc.get('schemaVersion')!r}, mediaType {doc.get('mediaType')!r})",
            "containers/image reads only OCI image manifests for sigstore signatures",
        )
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise SignatureError("the .sig manifest has no layers list")
    if len(layers) > MAX_LAYERS:
        raise SignatureError(f"the .sig manifest has {len(layers)} layers, over {MAX_LAYERS}")
    if not isinstance(doc.get("config"), dict):
        raise SignatureError("the .sig manifest has no config descriptor")
    for i, raw in enumerate(layers):
        _layer_of(raw, i)
    return doc


def parse_sig_manifest(data: bytes) -> list[SignatureLayer]:
    """The signature layers of a ``.sig`` manifest; SignatureError for malformed content."""
    return [_layer_of(raw, i) for i, raw in enumerate(_load_sig_manifest(data)["layers"])]


def parse_dir_signature(data: bytes) -> tuple[SignatureLayer, bytes]:
    """Read containers/image's ``dir:`` form (``\\0sigstore-json\\n`` + JSON): layer + payload."""
    if not data.startswith(DIR_SIGNATURE_PREFIX):
        raise SignatureError("not a sigstore signature file (missing the sigstore-json prefix)")
    doc = _strict_loads(data[len(DIR_SIGNATURE_PREFIX) :], "the signature file", SignatureError)
    if not isinstance(doc, dict) or not isinstance(doc.get("payload"), str):
        raise SignatureError("the signature file has no payload")
    try:
        payload = base64.b64decode(doc["payload"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature file's payload is not valid base64") from None
    raw = {
        "mediaType": doc.get("mimeType"),
        "digest": sha256_digest(payload),
        "size": len(payload),
        "annotations": doc.get("annotations"),
    }
    return _layer_of(raw, 0), payload


def verify_layers(
    layers: Sequence[SignatureLayer],
    payload_fetcher: Callable[[Descriptor], bytes],
    public_keys: Sequence[PublicKeyTypes],
    expected_digest: str,
) -> list[LayerResult]:
    """Check every layer: payload digest, signature by any key, then the signed image digest.

    The identity (docker-reference) is not judged here; see :mod:`ocisign.sigstore.identity`.
    ``payload_fetcher`` errors (``OcisignError``) fail that layer only.
    """
    if not public_keys:
        raise VerificationError("no public key to verify sigstore signatures with")
    results = []
    for layer in layers:
        results.append(_verify_layer(layer, payload_fetcher, public_keys, expected_digest))
    return results


def _verify_layer(
    layer: SignatureLayer,
    fetch: Callable[[Descriptor], bytes],
    keys: Sequence[PublicKeyTypes],
    expected_digest: str,
) -> LayerResult:
    desc = layer.descriptor
    if desc.media_type != SIMPLESIGNING:
        return LayerResult(layer, False, f"unexpected media type {desc.media_type}")
    if not layer.signature:
        return LayerResult(layer, False, f"no {SIGNATURE_ANNOTATION} annotation")
    if desc.size > MAX_PAYLOAD_BYTES:
        return LayerResult(layer, False, f"payload of {desc.size} bytes is over the 4 MiB limit")
    try:
        payload = fetch(desc)
    except OcisignError as exc:
        return LayerResult(layer, False, f"cannot fetch payload {desc.digest}: {exc.message}")
    try:
        if len(payload) != desc.size:
            raise DigestMismatchError(
                f"payload is {len(payload)} bytes, the layer says {desc.size}"
            )
        check_digest(payload, desc.digest)
    except DigestMismatchError as exc:
        return LayerResult(layer, False, f"payload does not match its layer: {exc.message}")
    if not any(verify_signature(key, payload, layer.signature) for key in keys):
        return LayerResult(layer, False, "cryptographic signature verification failed")
    try:
        parsed = parse_payload(payload)
    except VerificationError as exc:
        return LayerResult(layer, False, exc.message)
    if parsed.manifest_digest != expected_digest:
        reason = f"signature is for {parsed.manifest_digest}, not {expected_digest}"
        return LayerResult(layer, False, reason, parsed)
    return LayerResult(layer, True, "", parsed)
