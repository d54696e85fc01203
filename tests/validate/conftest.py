"""Helpers for validate tests: trust material, layout copies, and signatures pushed by hand.

Signed material is made with the library (``notary_sign``, ``simplesigning``), never with
the ``sign`` CLI, so these tests stand on their own.
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocisign.envelopes.notary import signature_manifest
from ocisign.envelopes.simplesigning import append_signature, build_payload, sign_payload
from ocisign.errors import NotFoundError
from ocisign.oci import (
    EMPTY_JSON,
    NOTARY_SIGNATURE,
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLESIGNING,
    Descriptor,
)
from ocisign.registry.store import Store, sigstore_tag
from ocisign.signers.local import LocalSigner
from tests.conftest import DATA, run_ocisign
from tests.notary.conftest import make_store, pem  # noqa: F401 - shared helpers

LAYOUTS = DATA / "notation" / "oci-layouts"
TRUST = DATA / "trust"
POLICIES = TRUST / "trustpolicies"
E2E_SUBJECT = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def e2e_signer() -> LocalSigner:
    key = serialization.load_pem_private_key((DATA / "notation/keys/e2e.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((DATA / "notation/keys/e2e.crt").read_bytes())
    return LocalSigner(key, [cert])


def leaf_of_layout(layout: Path, manifest_digest: str) -> x509.Certificate:
    """The leaf certificate inside the JWS of a layout's signature manifest."""
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / manifest_digest.split(":")[1]).read_bytes())
    envelope = json.loads((blobs / manifest["layers"][0]["digest"].split(":")[1]).read_bytes())
    return x509.load_der_x509_certificate(base64.b64decode(envelope["header"]["x5c"][0]))


def copy_layout(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(LAYOUTS / name, target)
    return target


def push_envelope(
    store: Store,
    envelope: bytes,
    media_type: str,
    subject: Descriptor,
    chain: list[x509.Certificate] | None = None,
) -> Descriptor:
    """Push an envelope as notation does: blobs, then the signature manifest as a referrer."""
    store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
    store.push_blob(envelope, media_type)
    manifest, _ = signature_manifest(envelope, media_type, subject, chain or [], NOW)
    return store.push_referrer(manifest, OCI_MANIFEST).descriptor


def notary_sign(store: Store, subject: Descriptor, signer: LocalSigner, **kw: Any) -> bytes:
    """Sign ``subject`` with ``notary_sign.sign_descriptor`` and push it; the envelope."""
    from ocisign.notary.sign import sign_descriptor

    signed = sign_descriptor(subject, signer, **kw)
    push_envelope(store, signed.envelope, signed.media_type, subject, signed.parsed.cert_chain)
    return signed.envelope


@dataclass
class SigstoreKeyPair:
    private: ec.EllipticCurvePrivateKey
    pub_path: Path


def make_sigstore_key(path: Path) -> SigstoreKeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(pub)
    return SigstoreKeyPair(key, path)


def attach_sigstore(store: Store, digest: str, payload: bytes, signature: str) -> None:
    """Append one simple-signing layer to ``digest``'s ``.sig`` manifest (as skopeo does)."""
    tag = sigstore_tag(digest)
    try:
        old = store.fetch_manifest(tag)
        cfg = old.config
        old_config = store.fetch_blob(cfg.digest) if cfg else None
        old_raw: bytes | None = old.raw
    except NotFoundError:
        old_raw, old_config = None, None
    result = append_signature(old_raw, old_config, payload, signature)
    store.push_blob(payload, SIMPLESIGNING)
    store.push_blob(result.config, OCI_CONFIG)
    store.push_manifest(result.manifest, OCI_MANIFEST, tag)


def sigstore_sign(store: Store, digest: str, ref: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    payload = build_payload(ref, digest, optional=None)
    attach_sigstore(store, digest, payload, sign_payload(LocalSigner(key), payload))
    return payload


def validate(*args: str, **kw: Any) -> Any:
    """Run ``ocisign validate ARGS`` in a subprocess."""
    return run_ocisign("validate", *args, **kw)


@pytest.fixture
def e2e_trust(tmp_path: Path) -> Path:
    """notation e2e's trust store: ca:e2e = e2e.crt, tsa:e2e = the GlobalSign TSA root."""
    return make_store(
        tmp_path / "truststore",
        {
            "ca:e2e": [TRUST / "keys" / "e2e.crt"],
            "tsa:e2e": [TRUST / "truststore/x509/tsa/test-timestamp/globalsignRoot.cer"],
        },
    )
