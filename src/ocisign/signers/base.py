"""The two signer levels, as notation-go has them.

- :class:`Signer`, the primitive one: a key that signs bytes, with the certificate chain of
  that key (none for a bare key pair). Every format signs through it: Notary envelopes
  (``Scheme.NOTARY``) and cosign simple signing (``Scheme.CONTAINERS``), so one new key
  backend (a local file, a notation plugin's RAW signer, a PKCS#11 token) serves them all.
- :class:`EnvelopeSigner`: something that builds whole Notary envelopes itself (a plugin
  with only ``SIGNATURE_GENERATOR.ENVELOPE``). Only the Notary formats can use one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from ocisign.keys.algorithms import Scheme


@runtime_checkable
class Signer(Protocol):
    """Makes primitive signatures with one key.

    ``sign`` receives the full signing input (JWS: the ASCII ``protected.payload``; COSE:
    the encoded Sig_structure; simple signing: the payload), hashes it as ``scheme`` says
    and returns the signature bytes. ``certificate_chain`` is leaf -> root, empty for a bare
    key pair; a plugin signer knows it only after ``sign`` returned.
    """

    signing_agent_suffix: str  # appended to the Notary signing agent, e.g. " my-plugin/1.0.0"

    def key_spec(self) -> str:
        """``RSA-2048`` ... ``EC-521`` (SignatureError for a key no Notary spec covers)."""
        ...

    def certificate_chain(self) -> list[x509.Certificate]:
        """The signing chain, leaf first, root last."""
        ...

    def public_key(self) -> PublicKeyTypes:
        """The public key of the signing key."""
        ...

    def sign(self, data: bytes, scheme: Scheme) -> bytes:
        """Hash ``data`` and sign it under ``scheme``; the signature bytes."""
        ...


@runtime_checkable
class EnvelopeSigner(Protocol):
    """Builds whole Notary Project envelopes (the caller parses and checks them)."""

    name: str  # who made the envelope, for error messages

    def generate_envelope(
        self, payload: bytes, envelope_type: str, expiry_seconds: int | None
    ) -> tuple[bytes, dict[str, str]]:
        """An envelope over ``payload``, with the annotations for its signature manifest."""
        ...
