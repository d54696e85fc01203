"""What the JWS and COSE envelopes share: the contract between writers, readers and verify.

``jws.py`` and ``cose.py`` each provide ``build(request, signer) -> bytes`` and
``parse(data) -> ParsedEnvelope``; ``parse_envelope`` picks one by media type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

SCHEME_X509 = "notary.x509"
SCHEME_SIGNING_AUTHORITY = "notary.x509.signingAuthority"
H_SCHEME = "io.cncf.notary.signingScheme"
H_SIGNING_TIME = "io.cncf.notary.signingTime"
H_AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
H_EXPIRY = "io.cncf.notary.expiry"
H_SIGNING_AGENT = "io.cncf.notary.signingAgent"
H_TIMESTAMP = "io.cncf.notary.timestampSignature"
H_VERIFICATION_PLUGIN = "io.cncf.notary.verificationPlugin"
H_VERIFICATION_PLUGIN_MIN_VERSION = "io.cncf.notary.verificationPluginMinVersion"
THUMBPRINT_ANNOTATION = "io.cncf.notary.x509chain.thumbprint#S256"
CREATED_ANNOTATION = "org.opencontainers.image.created"


@dataclass(frozen=True)
class ParsedEnvelope:
    """A Notary Project envelope after parsing and the integrity check.

    A parser returns this only when the primitive signature verified with the leaf
    certificate's key, ``alg`` matched that key, ``cty`` was the Notary payload type and
    every ``crit`` name was present and understood (or is an extended attribute listed in
    ``extended_critical`` for a verification plugin). Anything else raises
    ``ocisign.errors.VerificationError`` with the reason.
    """

    media_type: str  # application/jose+json or application/cose
    payload: bytes  # the exact signed payload bytes
    target: dict[str, Any]  # payload["targetArtifact"]: mediaType, digest, size, annotations?
    signing_scheme: str
    signing_time: datetime | None  # notary.x509
    authentic_signing_time: datetime | None  # notary.x509.signingAuthority
    expiry: datetime | None
    cert_chain: list[x509.Certificate]  # leaf first
    signing_agent: str = ""
    algorithm: str = ""  # JWS name, e.g. "PS256" / "ES256" (COSE mapped to the same names)
    signature: bytes = b""  # raw primitive signature (what an RFC 3161 timestamp covers)
    timestamp_token: bytes | None = None  # DER TimeStampToken, if any
    extended_attributes: dict[str, Any] = field(default_factory=dict)
    extended_critical: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SignRequest:
    """What to sign: the payload's target descriptor plus the signed attributes."""

    target: dict[str, Any]  # mediaType, digest, size[, annotations]
    signing_time: datetime
    expiry: datetime | None = None
    signing_agent: str = ""
    signing_scheme: str = SCHEME_X509
