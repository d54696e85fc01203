"""What the JWS and COSE envelopes share: the contract between writers, readers and verify.

Codecs are registered by media type, as notation-core-go's envelope registry does: each
codec module (``jws.py``, ``cose.py``) calls :func:`register` with its :class:`Codec`
(``build(request, signer) -> bytes``, ``parse(data) -> ParsedEnvelope``, its payload
encoding), and this module never names one: the package declares the built-in ones
(:func:`declare`), imported on first use. ``parse_envelope`` picks one by media type.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.errors import SignatureError, VerificationError
from ocisign.oci import EMPTY_JSON, NOTARY_PAYLOAD, NOTARY_SIGNATURE, OCI_MANIFEST, Descriptor
from ocisign.util.encoding import go_json

if TYPE_CHECKING:
    from ocisign.signers.base import Signer

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

MAX_ENVELOPE_SIZE = 4 * 1024 * 1024
"""Largest envelope ``parse`` reads (4 MiB; real envelopes are a few KiB)."""
STANDARD_LABELS = frozenset({H_SCHEME, H_SIGNING_TIME, H_AUTHENTIC_SIGNING_TIME, H_EXPIRY})
TIME_LABELS = (H_SIGNING_TIME, H_AUTHENTIC_SIGNING_TIME, H_EXPIRY)  # parsed as times


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

    @property
    def verification_plugin(self) -> str | None:
        """The plugin this envelope says must verify it (``verificationPlugin``), if any."""
        value = self.extended_attributes.get(H_VERIFICATION_PLUGIN)
        return value if isinstance(value, str) else None

    @property
    def time(self) -> datetime | None:
        """The signing time of either scheme."""
        return self.signing_time or self.authentic_signing_time


@dataclass(frozen=True)
class SignRequest:
    """What to sign: the payload's target descriptor plus the signed attributes."""

    target: dict[str, Any]  # mediaType, digest, size[, annotations]
    signing_time: datetime
    expiry: datetime | None = None
    signing_agent: str = ""
    signing_scheme: str = SCHEME_X509
    # extra signed attributes (plugins, conformance tests); names in extended_critical
    # go into ``crit``
    extended_attributes: dict[str, Any] = field(default_factory=dict)
    extended_critical: tuple[str, ...] = ()
    # RFC 3161: (primitive signature, hashlib name of the key spec) -> DER TimeStampToken,
    # stored unsigned (notary.x509 only)
    timestamper: Callable[[bytes, str], bytes] | None = None

    def timestamp(self, signature: bytes, hash_name: str) -> bytes | None:
        """The token over ``signature`` when timestamping is asked for (notary.x509)."""
        if self.timestamper is None or self.signing_scheme != SCHEME_X509:
            return None
        return self.timestamper(signature, hash_name)


@dataclass(frozen=True)
class SignedAttributes:
    """The protected-header attributes both formats share, after validation."""

    signing_scheme: str
    signing_time: datetime | None
    authentic_signing_time: datetime | None
    expiry: datetime | None
    extended_attributes: dict[str, Any]
    extended_critical: list[str]

    def envelope(
        self,
        media_type: str,
        payload: bytes,
        chain: list[x509.Certificate],
        *,
        algorithm: str,
        signature: bytes,
        timestamp_token: bytes | None,
        signing_agent: object,
    ) -> ParsedEnvelope:
        """The ParsedEnvelope of a verified envelope carrying these attributes."""
        return ParsedEnvelope(
            media_type=media_type,
            payload=payload,
            target=check_payload(payload),
            signing_scheme=self.signing_scheme,
            signing_time=self.signing_time,
            authentic_signing_time=self.authentic_signing_time,
            expiry=self.expiry,
            cert_chain=chain,
            signing_agent=signing_agent if isinstance(signing_agent, str) else "",
            algorithm=algorithm,
            signature=signature,
            timestamp_token=timestamp_token,
            extended_attributes=self.extended_attributes,
            extended_critical=self.extended_critical,
        )


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` and whole seconds (``2025-01-21T09:17:46Z``)."""
    if value.tzinfo is None:
        raise SignatureError("signing times must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def sanitize_target(target: Mapping[str, Any]) -> dict[str, Any]:
    """Only mediaType, digest, size and (non-empty) annotations, in OCI struct order."""
    out: dict[str, Any] = {
        "mediaType": target["mediaType"],
        "digest": target["digest"],
        "size": target["size"],
    }
    if target.get("annotations"):
        out["annotations"] = dict(target["annotations"])
    return out


def build_payload(target: Mapping[str, Any], envelope_format: str = "jws") -> bytes:
    """The payload ``{"targetArtifact": ...}`` as notation writes it for ``envelope_format``."""
    return codec_named(envelope_format).payload(sanitize_target(target))


def sorted_payload(descriptor: dict[str, Any]) -> bytes:
    """Keys sorted, compact: how notation re-serialises the payload map for JWS."""
    return go_json(_sorted({"targetArtifact": descriptor}))


def struct_payload(descriptor: dict[str, Any]) -> bytes:
    """Struct order (mediaType, digest, size, annotations), compact: notation's COSE payload."""
    if "annotations" in descriptor:
        descriptor = {**descriptor, "annotations": _sorted(descriptor["annotations"])}
    return go_json({"targetArtifact": descriptor})


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value


def critical_labels(request: SignRequest, *, extended_first: bool) -> list[str]:
    """``crit`` in notation's order: extended names right after the scheme (JWS) or last
    (COSE)."""
    extended = [k for k in request.extended_critical if k in request.extended_attributes]
    crit = [H_SCHEME, *(extended if extended_first else [])]
    if request.signing_scheme == SCHEME_SIGNING_AUTHORITY:
        crit.append(H_AUTHENTIC_SIGNING_TIME)
    if request.expiry is not None:
        crit.append(H_EXPIRY)
    return crit + ([] if extended_first else extended)


def signing_time_label(request: SignRequest) -> str:
    """The protected header that carries the signing time under the request's scheme."""
    if request.signing_scheme == SCHEME_X509:
        return H_SIGNING_TIME
    return H_AUTHENTIC_SIGNING_TIME


def check_request(request: SignRequest) -> None:
    """Refuse a request notation would refuse (unknown scheme, expiry not after signing)."""
    if request.signing_time.tzinfo is None or (
        request.expiry is not None and request.expiry.tzinfo is None
    ):
        raise SignatureError("signing and expiry times must be timezone-aware")
    if request.signing_scheme not in (SCHEME_X509, SCHEME_SIGNING_AUTHORITY):
        raise SignatureError(f"unknown signing scheme {request.signing_scheme!r}")
    if request.expiry is not None and request.expiry <= request.signing_time:
        raise SignatureError("the expiry must be after the signing time")
    clash = STANDARD_LABELS.intersection(request.extended_attributes)
    if clash:
        raise SignatureError(f"extended attributes may not redefine {sorted(clash)}")


def check_payload(payload: bytes) -> dict[str, Any]:
    """Parse the signed payload; returns ``targetArtifact`` or raises VerificationError."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise VerificationError("the signed payload is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("targetArtifact"), dict):
        raise VerificationError('the signed payload must be {"targetArtifact": {...}}')
    target: dict[str, Any] = data["targetArtifact"]
    for name in ("mediaType", "digest"):
        if not isinstance(target.get(name), str) or not target[name]:
            raise VerificationError(f"the signed targetArtifact has no valid {name}")
    size = target.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise VerificationError("the signed targetArtifact has no valid size")
    annotations = target.get("annotations")
    if annotations is not None and not (
        isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
    ):
        raise VerificationError("the signed targetArtifact annotations must map strings")
    return target


def check_attributes(
    content_type: object, crit: object, attributes: Mapping[str, Any]
) -> SignedAttributes:
    """Validate the shared protected-header semantics (notation.md §4).

    ``attributes`` holds every string-labelled protected member except alg/cty/crit, with
    the three time labels already turned into aware datetimes by the format's parser.
    """
    if content_type != NOTARY_PAYLOAD:
        raise VerificationError(
            f"content type {content_type!r} is not the Notary payload type {NOTARY_PAYLOAD}"
        )
    if (
        not isinstance(crit, Sequence)
        or isinstance(crit, str | bytes)
        or not crit
        or not all(isinstance(c, str) for c in crit)
    ):
        raise VerificationError("crit must be a non-empty list of header names")
    labels = list(crit)
    for label in labels:
        if label not in attributes:
            raise VerificationError(f"critical header {label!r} is not present")
    scheme = attributes.get(H_SCHEME)
    if scheme not in (SCHEME_X509, SCHEME_SIGNING_AUTHORITY):
        raise VerificationError(f"unsupported or missing signing scheme {scheme!r}")
    signing_time = attributes.get(H_SIGNING_TIME)
    authentic = attributes.get(H_AUTHENTIC_SIGNING_TIME)
    expiry = attributes.get(H_EXPIRY)
    required = [H_SCHEME]
    if scheme == SCHEME_X509:
        if signing_time is None:
            raise VerificationError(f"{H_SIGNING_TIME} is required for {scheme}")
        if authentic is not None:
            raise VerificationError(f"{H_AUTHENTIC_SIGNING_TIME} is not allowed for {scheme}")
        when = signing_time
    else:
        if authentic is None:
            raise VerificationError(f"{H_AUTHENTIC_SIGNING_TIME} is required for {scheme}")
        if signing_time is not None:
            raise VerificationError(f"{H_SIGNING_TIME} is not allowed for {scheme}")
        required.append(H_AUTHENTIC_SIGNING_TIME)
        when = authentic
    if expiry is not None:
        required.append(H_EXPIRY)
        if expiry <= when:
            raise VerificationError("the expiry is not after the signing time")
    for label in required:
        if label not in labels:
            raise VerificationError(f"header {label!r} must be marked critical")
    extended = {k: v for k, v in attributes.items() if k not in STANDARD_LABELS}
    extended_critical = [c for c in labels if c not in STANDARD_LABELS]
    if extended_critical and not isinstance(extended.get(H_VERIFICATION_PLUGIN), str):
        raise VerificationError(
            f"critical header(s) {extended_critical} are not understood "
            f"and no {H_VERIFICATION_PLUGIN} is named"
        )
    return SignedAttributes(scheme, signing_time, authentic, expiry, extended, extended_critical)


def check_plugin_envelope(parsed: ParsedEnvelope, requested_payload: bytes) -> None:
    """A plugin-made envelope must sign what we asked for (notation-go ``signer/plugin.go``).

    Same mediaType/digest/size, every requested annotation kept with its value (extra
    annotations allowed), no new targetArtifact or payload members.
    """
    requested = json.loads(requested_payload)["targetArtifact"]
    signed = parsed.target
    if set(json.loads(parsed.payload)) != {"targetArtifact"}:
        raise VerificationError("the plugin added members to the signed payload")
    for name in ("mediaType", "digest", "size"):
        if signed.get(name) != requested.get(name):
            raise VerificationError(
                f"the plugin signed {name} {signed.get(name)!r}, not {requested.get(name)!r}"
            )
    added = set(signed) - set(requested) - {"annotations"}
    if added:
        raise VerificationError(f"the plugin added targetArtifact members {sorted(added)}")
    signed_annotations = signed.get("annotations") or {}
    for key, value in (requested.get("annotations") or {}).items():
        if signed_annotations.get(key) != value:
            raise VerificationError(f"the plugin dropped or changed annotation {key!r}")


def load_chain(ders: Sequence[bytes]) -> list[x509.Certificate]:
    """DER certificates -> objects; VerificationError for an empty or unreadable chain."""
    if not ders:
        raise VerificationError("the envelope carries no certificate chain")
    chain = []
    for index, der in enumerate(ders):
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.public_key()  # parsed lazily: fail here, not deep inside a check
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
        except Exception as exc:  # ValueError, UnsupportedAlgorithm, ...
            raise VerificationError(
                f"certificate {index} of the chain cannot be read: {exc}"
            ) from None
        chain.append(cert)
    return chain


def check_size(data: bytes) -> None:
    """Refuse envelopes over :data:`MAX_ENVELOPE_SIZE`."""
    if len(data) > MAX_ENVELOPE_SIZE:
        raise VerificationError(
            f"the envelope is {len(data)} bytes, more than the {MAX_ENVELOPE_SIZE} we read"
        )


@dataclass(frozen=True)
class Codec:
    """One envelope format: its ``--signature-format`` name, media type and functions."""

    name: str  # jws | cose
    media_type: str
    build: Callable[[SignRequest, Signer], bytes]
    parse: Callable[[bytes], ParsedEnvelope]
    payload: Callable[[dict[str, Any]], bytes]  # the sanitized targetArtifact -> payload


_CODECS: dict[str, Codec] = {}
_DECLARED: dict[str, tuple[str, str]] = {}  # media type -> (name, module that registers it)


def register(codec: Codec) -> None:
    """Make ``codec`` the one for its media type (codec modules call this on import)."""
    _CODECS[codec.media_type] = codec


def declare(name: str, media_type: str, module: str) -> None:
    """Name a codec whose ``module`` registers it when first needed (imported lazily)."""
    _DECLARED[media_type] = (name, module)


def _names() -> dict[str, str]:
    """media type -> codec name, registered or declared."""
    return {**{t: n for t, (n, _) in _DECLARED.items()}, **{t: c.name for t, c in _CODECS.items()}}


def codec_for(media_type: str) -> Codec:
    """The registered codec of ``media_type``; VerificationError for any other type."""
    if media_type not in _CODECS and media_type in _DECLARED:
        importlib.import_module(_DECLARED[media_type][1])
    try:
        return _CODECS[media_type]
    except KeyError:
        known = " or ".join(_names())
        raise VerificationError(
            f"unsupported signature envelope type {media_type!r}",
            hint=f"Notary Project envelopes are {known}",
        ) from None


def codec_named(name: str) -> Codec:
    """The registered codec called ``name`` (``jws``, ``cose``)."""
    for media_type, known in _names().items():
        if known == name:
            return codec_for(media_type)
    names = ", ".join(_names().values())
    raise SignatureError(f"unknown signature format {name!r}", hint=f"use {names}")


def build_envelope(media_type: str, request: SignRequest, signer: Signer) -> bytes:
    """Build and sign an envelope; the media type picks the codec."""
    return codec_for(media_type).build(request, signer)


def parse_envelope(media_type: str, data: bytes) -> ParsedEnvelope:
    """Parse and integrity-check an envelope; the media type picks the codec."""
    return codec_for(media_type).parse(data)


def media_type_of(envelope_format: str) -> str:
    """``jws`` -> application/jose+json, ``cose`` -> application/cose (imports no codec)."""
    for media_type, name in _names().items():
        if name == envelope_format:
            return media_type
    return codec_named(envelope_format).media_type  # raises: no such codec


def thumbprints(chain: Sequence[x509.Certificate]) -> list[str]:
    """Lowercase hex SHA-256 of each DER certificate, in chain order."""
    return [hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in chain]


def signature_manifest(
    envelope: bytes,
    media_type: str,
    subject: Descriptor,
    chain: Sequence[x509.Certificate],
    signing_time: datetime,
    extra_annotations: Mapping[str, str] | None = None,
) -> tuple[bytes, Descriptor]:
    """The signature manifest notation v1.x pushes (notation.md §5.1), and its descriptor.

    Config ``application/vnd.cncf.notary.signature`` with the ``{}`` blob, one layer (the
    envelope), ``subject`` without annotations, annotations = plugin extras + thumbprints
    + created (ours win), keys sorted as Go writes a map; compact JSON, no artifactType.
    """
    annotations = dict(extra_annotations or {})
    annotations[THUMBPRINT_ANNOTATION] = go_json(thumbprints(chain)).decode()
    annotations[CREATED_ANNOTATION] = format_time(signing_time)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": Descriptor.of(EMPTY_JSON, NOTARY_SIGNATURE).to_dict(),
        "layers": [Descriptor.of(envelope, media_type).to_dict()],
        "subject": subject.plain().to_dict(),
        "annotations": _sorted(annotations),
    }
    data = go_json(manifest)
    return data, Descriptor.of(data, OCI_MANIFEST, annotations=_sorted(annotations))
