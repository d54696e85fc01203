"""A signer over a private key and certificate chain already loaded in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocisign.errors import KeyFileError, SignatureError
from ocisign.keys.algorithms import key_spec_of, sign_raw

if TYPE_CHECKING:
    from cryptography import x509


class LocalSigner:
    """Signs with a local private key; ``chain`` is leaf first and its leaf must match."""

    generates_envelopes = False
    signing_agent_suffix = ""

    def __init__(self, private_key: Any, chain: list[x509.Certificate]) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        if not chain:
            raise KeyFileError("the signing certificate chain is empty")
        spec = key_spec_of(private_key)
        fmt = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if private_key.public_key().public_bytes(*fmt) != chain[0].public_key().public_bytes(*fmt):
            raise KeyFileError(
                "the private key does not match the leaf certificate of the chain",
                hint="the certificate file must start with the certificate of this key",
            )
        self._key = private_key
        self._chain = list(chain)
        self._spec = spec.name

    def key_spec(self) -> str:
        return self._spec

    def certificate_chain(self) -> list[x509.Certificate]:
        return list(self._chain)

    def sign(self, data: bytes) -> bytes:
        return sign_raw(self._key, data)

    def generate_envelope(
        self, payload: bytes, envelope_type: str, expiry_seconds: int | None
    ) -> tuple[bytes, dict[str, str]]:
        raise SignatureError("a local key signer makes raw signatures, not envelopes")
