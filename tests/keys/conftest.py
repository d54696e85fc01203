"""Fixtures for key tests: paths to copied vectors, key-type helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ocisign.keys.pem import PrivateKey, PublicKey
from tests.conftest import DATA

KEYS_DATA = DATA / "keys"
SIGSTORE = KEYS_DATA / "sigstore"
NOTATION_CONFIG = KEYS_DATA / "notation-config"
E2E = KEYS_DATA / "notation-e2e"
MESSAGE = b"ocisign test message"


def sign(key: PrivateKey, data: bytes = MESSAGE) -> bytes:
    """Sign ``data`` the way each key type is used for signatures."""
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return key.sign(data, pss, hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign(data)


def verify(public: PublicKey, signature: bytes, data: bytes = MESSAGE) -> None:
    """Raise cryptography's InvalidSignature unless ``signature`` is good."""
    if isinstance(public, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        public.verify(signature, data, pss, hashes.SHA256())
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(signature, data)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key shared by the tests that need any RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
