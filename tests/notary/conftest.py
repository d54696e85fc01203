"""Fixtures for trust store / trust policy / engine tests.

Envelopes are turned into ``ParsedEnvelope`` objects here with plain base64/json (the
real parser lives in ``ocisign.envelopes``; these tests do not depend on it).
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ocisign.config.truststore import load_store
from ocisign.envelopes.notary import (
    H_AUTHENTIC_SIGNING_TIME,
    H_EXPIRY,
    H_SCHEME,
    H_SIGNING_TIME,
    H_TIMESTAMP,
    ParsedEnvelope,
)
from tests.conftest import DATA

TRUST = DATA / "trust"
E2E_DIGEST = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
_STANDARD = {"alg", "crit", "cty", H_SCHEME, H_SIGNING_TIME, H_AUTHENTIC_SIGNING_TIME, H_EXPIRY}


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def parse_jws(path: Path) -> ParsedEnvelope:
    """A ParsedEnvelope from a JWS JSON file, decoded with base64/json only."""
    doc = json.loads(path.read_text())
    protected: dict[str, Any] = json.loads(_b64url(doc["protected"]))
    payload = _b64url(doc["payload"])
    header = doc["header"]
    token = header.get(H_TIMESTAMP)
    return ParsedEnvelope(
        media_type="application/jose+json",
        payload=payload,
        target=json.loads(payload)["targetArtifact"],
        signing_scheme=protected[H_SCHEME],
        signing_time=_time(protected.get(H_SIGNING_TIME)),
        authentic_signing_time=_time(protected.get(H_AUTHENTIC_SIGNING_TIME)),
        expiry=_time(protected.get(H_EXPIRY)),
        cert_chain=[x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]],
        signing_agent=header.get("io.cncf.notary.signingAgent", ""),
        algorithm=protected["alg"],
        signature=_b64url(doc["signature"]),
        timestamp_token=base64.b64decode(token) if token else None,
        extended_attributes={k: v for k, v in protected.items() if k not in _STANDARD},
        extended_critical=[c for c in protected["crit"] if c not in _STANDARD],
    )


def make_store(root: Path, layout: dict[str, list[Path | bytes]]) -> Path:
    """A trust store ``root/x509/<type>/<name>/`` from ``{"ca:name": [cert files or PEM]}``."""
    for ref, items in layout.items():
        store_type, _, name = ref.partition(":")
        folder = root / "x509" / store_type / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(items):
            if isinstance(item, Path):
                shutil.copy(item, folder / item.name)
            else:
                (folder / f"cert{i}.pem").write_bytes(item)
    return root


def pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM)


def parse_cose(path: Path) -> ParsedEnvelope:
    """A ParsedEnvelope from a COSE_Sign1 file, decoded with cbor2 only."""
    import cbor2

    protected_bytes, unprotected, payload, signature = cbor2.loads(path.read_bytes()).value
    protected: dict[Any, Any] = cbor2.loads(protected_bytes)
    chain = unprotected[33]
    chain = [chain] if isinstance(chain, bytes) else chain
    return ParsedEnvelope(
        media_type="application/cose",
        payload=payload,
        target=json.loads(payload)["targetArtifact"],
        signing_scheme=protected[H_SCHEME],
        signing_time=protected.get(H_SIGNING_TIME),
        authentic_signing_time=protected.get(H_AUTHENTIC_SIGNING_TIME),
        expiry=protected.get(H_EXPIRY),
        cert_chain=[x509.load_der_x509_certificate(c) for c in chain],
        signature=signature,
        timestamp_token=unprotected.get(H_TIMESTAMP),
    )


@pytest.fixture
def envelope() -> Callable[[str], ParsedEnvelope]:
    """``envelope("e2e-valid-signature.jws")`` -> ParsedEnvelope (JWS or COSE) of
    tests/data/trust/envelopes/."""

    def load(name: str) -> ParsedEnvelope:
        path = TRUST / "envelopes" / name
        return parse_jws(path) if path.read_bytes()[:1] == b"{" else parse_cose(path)

    return load


@pytest.fixture
def e2e_store(tmp_path: Path) -> Callable[[str], list[x509.Certificate]]:
    """notation e2e's trust store: ``ca:e2e`` = e2e.crt, ``tsa:e2e`` = GlobalSign root."""
    root = make_store(
        tmp_path / "truststore",
        {
            "ca:e2e": [TRUST / "keys" / "e2e.crt"],
            "tsa:e2e": [TRUST / "truststore/x509/tsa/test-timestamp/globalsignRoot.cer"],
        },
    )
    return lambda ref: load_store(ref, root)
