"""Fixtures for the sigstore tests: vector paths and public keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ocisign.envelopes.simplesigning import PublicKey
from tests.conftest import DATA

VECTORS = DATA / "sigstore"
FIXTURES = VECTORS / "containers-image-fixtures"


def load_public_key(path: Path) -> PublicKey:
    return load_pem_public_key(path.read_bytes())  # type: ignore[return-value]


@pytest.fixture
def skopeo_pub() -> PublicKey:
    return load_public_key(VECTORS / "skopeo-generated.pub")


@pytest.fixture
def cosign_pub() -> PublicKey:
    return load_public_key(FIXTURES / "cosign.pub")


@pytest.fixture
def cosign2_pub() -> PublicKey:
    return load_public_key(FIXTURES / "cosign2.pub")
