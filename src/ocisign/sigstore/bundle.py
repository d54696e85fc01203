"""cosign v3 image signatures: a Sigstore bundle stored as an OCI 1.1 referrer.

The bundle (:mod:`ocisign.envelopes.bundle`) is a DSSE envelope over an in-toto statement
whose subject is the image digest; it is the one layer of a manifest with
``artifactType application/vnd.dev.sigstore.bundle.v0.3+json`` whose ``subject`` is the
image, found through the Referrers API or the referrers tag schema. Listing does not filter
by artifactType (go-containerregistry's fallback index drops it, cosign #4641): every
referrer is fetched and kept if it has exactly one bundle layer of version >= 0.3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ocisign.batch import Status
from ocisign.envelopes.bundle import (
    BUNDLE_V03,
    COSIGN_SIGN_PREDICATE,
    dsse_bundle,
    intoto_statement,
    intoto_subject_digests,
    parse_bundle,
    verify_dsse_bundle,
)
from ocisign.errors import MALFORMED, OcisignError, RegistryError, VerificationError
from ocisign.formats import SignResult
from ocisign.oci import EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from ocisign.registry.store import MAX_MANIFEST_BYTES, Store, read_manifest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from sigstore_models.bundle.v1 import Bundle

    from ocisign.resolve.targets import Resolved, Target
    from ocisign.signers.base import Signer

BUNDLE_PREFIX = "application/vnd.dev.sigstore.bundle"
CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
CREATED_ANNOTATION = "org.opencontainers.image.created"


def bundle_version(media_type: str) -> tuple[int, ...] | None:
    """``v0.3+json`` or ``+json;version=0.3`` -> (0, 3); None if not a bundle type."""
    if not media_type.startswith(BUNDLE_PREFIX):
        return None
    rest = media_type[len(BUNDLE_PREFIX):]
    text = rest.split("version=", 1)[1] if "version=" in rest else rest.strip(".v").split("+")[0]
    try:
        return tuple(int(p) for p in text.strip().split("."))
    except ValueError:
        return None


@dataclass
class BundleReferrer:
    """One bundle referrer of a digest: the manifest and the bundle (or why it is unusable)."""

    digest: str  # the referrer manifest
    annotations: dict[str, str] = field(default_factory=dict)
    layer_media_type: str = ""
    bundle: Bundle | None = None
    error: str = ""


def find_bundles(store: Store, digest: str, limit: int = 100) -> list[BundleReferrer]:
    """The bundle referrers of ``digest``; [] when listing fails.

    Referrers whose artifactType names something else (Notary signatures, SBOMs) are not
    fetched; of the rest (bundles, and entries of indexes that drop artifactType) at most
    ``limit`` manifests are read."""
    try:
        listed = store.referrers(digest)
    except RegistryError:
        return []  # cosign falls back to the .sig tag when referrers cannot be listed
    found: list[BundleReferrer] = []
    candidates = [d for d in listed
                  if not d.artifact_type or d.artifact_type.startswith(BUNDLE_PREFIX)]
    for desc in candidates[:limit]:  # a hostile index cannot make us fetch more than limit
        try:
            manifest = read_manifest(store, desc.digest, desc.size)
            layers = manifest.layers
            if len(layers) != 1 or (bundle_version(layers[0].media_type) or (0,)) < (0, 3):
                continue
            if manifest.subject is None or manifest.subject.digest != digest:
                continue
            item = BundleReferrer(manifest.digest, manifest.annotations, layers[0].media_type)
            try:
                data = store.fetch_blob(layers[0].digest, max_bytes=MAX_MANIFEST_BYTES)
                item.bundle = parse_bundle(data)
            except OcisignError as exc:
                item.error = exc.message
        except OcisignError:
            continue
        except MALFORMED:
            continue
        found.append(item)
    return found


def verify_bundles(
    found: list[BundleReferrer], keys: list[tuple[str, PublicKeyTypes]], digest: str
) -> tuple[str, bytes, BundleReferrer] | list[str]:
    """(key label, payload, referrer) of the first bundle a key verifies for ``digest``;
    else the reasons, as cosign's ``IntotoSubjectClaimVerifier`` words them."""
    reasons: list[str] = []
    for item in found:
        if item.bundle is None:
            reasons.append(f"bundle {item.digest}: {item.error}")
            continue
        for label, key in keys:
            try:
                kind, payload = verify_dsse_bundle(item.bundle, key)
                if digest not in intoto_subject_digests(kind, payload):
                    raise VerificationError("no matching subject digest found")
            except VerificationError as exc:
                reasons.append(f"bundle {item.digest}: {exc.message}")
                continue
            return label, payload, item
    return reasons


def describe_bundle_referrers(store: Store, digest: str, limit: int = 100) -> list[dict[str, Any]]:
    """What ``list``/``inspect`` show about the bundle referrers of ``digest`` (unverified)."""
    out: list[dict[str, Any]] = []
    for item in find_bundles(store, digest, limit):
        entry: dict[str, Any] = {"digest": item.digest, "artifactType": BUNDLE_V03,
                                 "mediaType": item.layer_media_type,
                                 "annotations": item.annotations}
        bundle = item.bundle
        if bundle is None:
            entry["error"] = item.error
            out.append(entry)
            continue
        material = bundle.verification_material
        if material.public_key is not None:
            entry["verificationMaterial"] = {"publicKey": {"hint": material.public_key.hint}}
        else:
            der = (material.certificate.raw_bytes if material.certificate is not None else
                   material.x509_certificate_chain.certificates[0].raw_bytes
                   if material.x509_certificate_chain else b"")
            try:
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
            except ValueError:
                subject = "(unreadable certificate)"
            entry["verificationMaterial"] = {"certificate": {"subject": subject}}
        entry["tlogEntries"] = len(material.tlog_entries)
        stamps = material.timestamp_verification_data
        entry["rfc3161Timestamps"] = len(stamps.rfc3161_timestamps) if stamps else 0
        if bundle.dsse_envelope is not None:
            envelope = bundle.dsse_envelope
            entry["content"] = "dsseEnvelope"
            entry["payloadType"] = envelope.payload_type
            try:
                entry["subjects"] = intoto_subject_digests(envelope.payload_type,
                                                           envelope.payload)
                entry["predicateType"] = json.loads(envelope.payload).get("predicateType")
            except (VerificationError, *MALFORMED, UnicodeDecodeError):
                entry["subjects"] = []
        else:
            entry["content"] = "messageSignature"
        out.append(entry)
    return out


def bundle_manifest(bundle: bytes, subject: Descriptor, created: datetime | None = None) -> bytes:
    """The referrer manifest cosign v3 pushes for an image signature bundle."""
    when = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = Descriptor.of(EMPTY_JSON, OCI_EMPTY).to_dict()
    config["artifactType"] = BUNDLE_V03  # cosign sets it on the config too
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_V03,
        "config": config,
        "layers": [Descriptor.of(bundle, BUNDLE_V03).to_dict()],
        "subject": subject.plain().to_dict(),
        "annotations": {
            CONTENT_ANNOTATION: "dsse-envelope",
            PREDICATE_ANNOTATION: COSIGN_SIGN_PREDICATE,
            CREATED_ANNOTATION: when,
        },
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


class BundleAttacher:
    """Signs targets as ``cosign sign --key`` v3 does: a DSSE bundle referrer per digest."""

    def __init__(self, signer: Signer, *, force: bool, force_tag_schema: bool,
                 key_label: str) -> None:
        self.signer = signer
        self.public_key = signer.public_key()
        self.force = force
        self.force_tag_schema = force_tag_schema
        self.key_label = key_label

    def identity(self, resolved: Resolved) -> str:
        return ""  # a bundle names the digest only

    def sign(self, resolved: Resolved, target: Target) -> SignResult:
        store, desc = resolved.store, target.descriptor
        display = resolved.display(desc.digest)

        def result(status: Status, digest: str, mechanism: str = "") -> SignResult:
            return SignResult(status, display, desc.digest, format="sigstore", key=self.key_label,
                              signature_digest=digest, mechanism=mechanism)

        if not self.force:
            mine = verify_bundles(find_bundles(store, desc.digest),
                                  [(self.key_label, self.public_key)], desc.digest)
            if isinstance(mine, tuple):
                return result(Status.ALREADY_SIGNED, mine[2].digest)
        bundle = dsse_bundle(self.signer, intoto_statement(desc.digest))
        store.push_blob(bundle, BUNDLE_V03, check_exists=False)
        store.push_blob(EMPTY_JSON, OCI_EMPTY)
        pushed = store.push_referrer(bundle_manifest(bundle, desc), OCI_MANIFEST,
                                     force_tag_schema=self.force_tag_schema)
        out = result(Status.SIGNED, pushed.descriptor.digest, pushed.mechanism)
        out.warnings = list(pushed.warnings)
        return out
