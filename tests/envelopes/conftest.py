"""Fixtures: one key + self-signed code-signing certificate per supported key spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocisign.signers.local import LocalSigner
from tests.conftest import DATA
from tests.envelopes.certs import SPECS, make_cert, make_key

NOTATION = DATA / "notation"
_SIGNERS: dict[str, LocalSigner] = {}


def local_signer(spec: str) -> LocalSigner:
    """A cached LocalSigner for ``spec`` over a self-signed code-signing certificate."""
    if spec not in _SIGNERS:
        key = make_key(spec)
        _SIGNERS[spec] = LocalSigner(key, [make_cert(key, f"signer-{spec}")])
    return _SIGNERS[spec]


@pytest.fixture(params=SPECS)
def signer(request: pytest.FixtureRequest) -> LocalSigner:
    return local_signer(request.param)


@pytest.fixture
def notation_data() -> Path:
    return NOTATION


@pytest.fixture
def e2e_signer() -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key((NOTATION / "keys/e2e.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((NOTATION / "keys/e2e.crt").read_bytes())
    return LocalSigner(key, [cert])
