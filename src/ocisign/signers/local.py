"""A signer over a private key (and its certificate chain) already loaded in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocisign.errors import KeyFileError
from ocisign.keys.algorithms import Scheme, key_spec_of, sign_with

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


class LocalSigner:
    """Signs with a local private key; ``chain`` is leaf first and its leaf must match.

    A bare key pair (cosign simple signing) has no chain.
    """

    signing_agent_suffix = ""

    def __init__(self, private_key: Any, chain: Sequence[x509.Certificate] = ()) -> None:
        if chain:
            key_spec_of(private_key)  # a chain means a Notary key: refuse other types now

            fmt = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            mine = private_key.public_key().public_bytes(*fmt)
            if mine != chain[0].public_key().public_bytes(*fmt):
                raise KeyFileError(
                    "the private key does not match the leaf certificate of the chain",
                    hint="the certificate file must start with the certificate of this key",
                )
        self._key = private_key
        self._chain = list(chain)

    def key_spec(self) -> str:
        return key_spec_of(self._key).name

    def certificate_chain(self) -> list[x509.Certificate]:
        return list(self._chain)

    def public_key(self) -> PublicKeyTypes:
        return self._key.public_key()  # type: ignore[no-any-return]

    def sign(self, data: bytes, scheme: Scheme = Scheme.NOTARY) -> bytes:
        return sign_with(self._key, data, scheme)
