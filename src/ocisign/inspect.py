"""What is attached to an artifact: its Notary signatures and cosign ``.sig`` signatures.

``list``/``ls`` and ``inspect`` read through this module. Nothing here judges trust: a
Notary envelope is parsed (which checks its integrity), a cosign payload is checked
against its layer digest and, when public keys are given, against those keys, to name
the key that made it. Everything read is bounded as ``validate`` bounds it, and a broken
signature is reported with its reason, never raised. Sigstore bundle referrers (cosign v3)
are described, unverified, by :func:`ocisign.sigstore.bundle.describe_bundle_referrers`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocisign.envelopes import simplesigning as ss
from ocisign.envelopes.notary import ParsedEnvelope
from ocisign.errors import MALFORMED, NotFoundError, OcisignError
from ocisign.notary.read import read_notary_signature
from ocisign.oci import NOTARY_SIGNATURE, Descriptor, check_digest
from ocisign.registry import open_store, run_client
from ocisign.registry.store import RegistryOptions, Store, read_manifest, sigstore_tag
from ocisign.resolve.targets import resolve_targets
from ocisign.sigstore.bundle import describe_bundle_referrers

if TYPE_CHECKING:
    from ocisign.formats import PublicKeyFile


@dataclass
class NotarySignature:
    """One Notary signature manifest; ``envelope`` is None when it could not be read."""

    digest: str  # the signature manifest's digest
    envelope: ParsedEnvelope | None = None
    error: str = ""


@dataclass
class SigstoreSignature:
    """One layer (payload) of the cosign ``.sig`` manifest."""

    tag: str  # sha256-<hex>.sig
    manifest_digest: str  # the .sig manifest
    layer: Descriptor  # the payload's descriptor
    signature: str  # base64, from the layer annotation
    payload: ss.SimpleSigningPayload | None = None
    payload_text: str = ""
    key_fingerprint: str = ""  # SHA-256 of the verifying key's SubjectPublicKeyInfo
    key_file: str = ""  # the --sigstore-pubkey that verified it
    certificate: x509.Certificate | None = None  # a keyless signature's certificate
    error: str = ""


@dataclass
class Attached:
    """An artifact and what is attached to it."""

    reference: str  # name@digest
    name: str
    digest: str
    media_type: str
    by_tag: bool
    notary: list[NotarySignature] = field(default_factory=list)
    notary_over_limit: bool = False  # more than max_signatures were listed
    sigstore: list[SigstoreSignature] = field(default_factory=list)
    bundles: list[dict[str, Any]] = field(default_factory=list)  # Sigstore bundle referrers


def key_fingerprint(key: object) -> str:
    """``SHA256:<hex>`` of a public key's DER SubjectPublicKeyInfo."""
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return "SHA256:" + digest.finalize().hex()


def attached(
    reference: str,
    *,
    registry: RegistryOptions | None = None,
    oci_layout: bool = False,
    max_signatures: int = 100,
    read_envelopes: bool = False,
    sigstore_keys: Sequence[PublicKeyFile] = (),
) -> Attached:
    """Resolve ``reference`` and read what is attached to the digest it names."""
    with run_client(registry, oci_layout=oci_layout) as client:
        opened = open_store(reference, registry, oci_layout=oci_layout, client=client)
        resolved = resolve_targets(opened, expand=False)
        root = resolved.root
        found = Attached(resolved.display(), resolved.name, root.digest, root.media_type,
                         resolved.by_tag)
        store = resolved.store
        listed = store.referrers(root.digest, NOTARY_SIGNATURE)
        found.notary_over_limit = len(listed) > max_signatures
        for desc in listed[:max_signatures]:
            item = NotarySignature(desc.digest)
            if read_envelopes:
                parsed = read_notary_signature(store, desc.digest, desc.size)
                if isinstance(parsed, OcisignError):
                    item.error = parsed.message
                else:
                    item.envelope = parsed
            found.notary.append(item)
        found.sigstore = _sigstore(store, root.digest, max_signatures, sigstore_keys)
        found.bundles = describe_bundle_referrers(store, root.digest, max_signatures)
        return found


def _sigstore(
    store: Store, digest: str, limit: int, keys: Sequence[PublicKeyFile]
) -> list[SigstoreSignature]:
    tag = sigstore_tag(digest)
    try:
        manifest = read_manifest(store, tag)
    except NotFoundError:
        return []
    try:
        layers = ss.parse_sig_manifest(manifest.raw)
    except (OcisignError, *MALFORMED) as exc:
        reason = exc.message if isinstance(exc, OcisignError) else str(exc)
        empty = Descriptor("", "", 0)
        return [SigstoreSignature(tag, manifest.digest, empty, "", error=reason)]
    return [_layer(store, tag, manifest.digest, layer, digest, keys) for layer in layers[:limit]]


def _layer(
    store: Store, tag: str, manifest_digest: str, layer: ss.SignatureLayer, digest: str,
    keys: Sequence[PublicKeyFile],
) -> SigstoreSignature:
    desc = layer.descriptor
    item = SigstoreSignature(tag, manifest_digest, desc, layer.signature)
    cert_pem = desc.annotations.get(ss.CERTIFICATE_ANNOTATION) if desc.annotations else None
    try:
        if cert_pem:
            item.certificate = x509.load_pem_x509_certificate(cert_pem.encode())
            item.key_fingerprint = key_fingerprint(item.certificate.public_key())
        if desc.size > ss.MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload of {desc.size} bytes is over the 4 MiB limit")
        data = store.fetch_blob(desc.digest, max_bytes=ss.MAX_PAYLOAD_BYTES)
        check_digest(data, desc.digest)
        item.payload_text = data.decode("utf-8", "replace")
        item.payload = ss.parse_payload(data)
        base64.b64decode(layer.signature, validate=True)
        for key in keys:
            if ss.verify_signature(key.key, data, layer.signature):
                item.key_fingerprint, item.key_file = key_fingerprint(key.key), key.path
                break
        if item.payload.manifest_digest != digest:
            item.error = f"the payload signs {item.payload.manifest_digest}, not {digest}"
    except OcisignError as exc:
        item.error = exc.message
    except MALFORMED as exc:
        item.error = f"malformed signature: {exc}"
    return item
