"""The one signer interface every backend (local key, notation plugin) implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cryptography import x509


@runtime_checkable
class Signer(Protocol):
    """Makes raw primitive signatures for a Notary Project envelope.

    ``sign`` receives the full signing input (JWS: the ASCII ``protected.payload``;
    COSE: the encoded Sig_structure), hashes it with the key spec's hash and returns the
    raw signature (RSASSA-PSS bytes, or ECDSA ``r || s``). ``certificate_chain`` is the
    chain leaf -> root; a plugin signer only knows it after ``sign`` returned.

    A signer that cannot give raw signatures but builds whole envelopes (a plugin with
    only ``SIGNATURE_GENERATOR.ENVELOPE``) has ``generates_envelopes`` True and implements
    ``generate_envelope``; everyone else raises from it.
    """

    generates_envelopes: bool
    signing_agent_suffix: str  # appended to the signing agent, e.g. " my-plugin/1.0.0"

    def key_spec(self) -> str:
        """``RSA-2048`` ... ``EC-521``."""
        ...

    def certificate_chain(self) -> list[x509.Certificate]:
        """The signing chain, leaf first, root last."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Hash ``data`` with the key spec's hash and sign it; raw signature bytes."""
        ...

    def generate_envelope(
        self, payload: bytes, envelope_type: str, expiry_seconds: int | None
    ) -> tuple[bytes, dict[str, str]]:
        """Build a whole envelope over ``payload``; returns it with manifest annotations."""
        ...
