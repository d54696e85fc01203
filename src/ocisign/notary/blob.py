"""Notary Project blob signatures, as ``notation blob sign|verify|inspect`` (notation v2).

A blob signature is the bare envelope (JWS JSON or COSE_Sign1) over the payload
``{"targetArtifact": {mediaType, digest, size[, annotations]}}`` of the file's bytes; the
digest algorithm follows the signing key (sha256/384/512). The file is
``<blob name>.<jws|cose>.sig``, and readers take the envelope type from that name only.
Verification is the image engine (:func:`ocisign.notary.trust.verify_notary`) under a blob
trust policy statement, then the blob binding: digest (with the hash of the envelope's
algorithm) and size always, media type only when asked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.config.blobpolicy import BlobPolicyStatement
from ocisign.config.truststore import store_loader
from ocisign.envelopes.notary import ParsedEnvelope, media_type_of, parse_envelope
from ocisign.errors import OcisignError, PluginError, SignatureError, VerificationError
from ocisign.formats import SignOptions, Warn
from ocisign.keys.algorithms import key_spec, spec_for_jws_alg
from ocisign.notary.attach import _timestamper
from ocisign.notary.sign import sign_descriptor
from ocisign.notary.timestamp import _accuracy, _gentime, _parse
from ocisign.notary.trust import NotaryOutcome, verify_notary
from ocisign.oci import Descriptor
from ocisign.signers.base import EnvelopeSigner, Signer

DEFAULT_MEDIA_TYPE = "application/octet-stream"
SIGNING_AGENT = "notation-go/1.3.0+unreleased"  # what notation v2 writes (no CLI agent)
BLOB_MISMATCH = "integrity check failed. signature does not match the given blob"
_CHUNK = 1 << 20


def digest_file(stream: BinaryIO, hash_name: str) -> tuple[str, int]:
    """``<alg>:<hex>`` and size of a stream's bytes, read in 1 MiB chunks."""
    h = hashlib.new(hash_name)
    size = 0
    while chunk := stream.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return f"{hash_name}:{h.hexdigest()}", size


def signature_file_name(blob: Path, envelope_format: str) -> str:
    """``<blob name>.<format>.sig`` (notation's blob signature file name)."""
    return f"{blob.name}.{envelope_format}.sig"


def envelope_format_of(sig_path: str) -> str:
    """``jws``/``cose`` from a signature file name, with notation's errors (SignatureError)."""
    name = Path(sig_path).name
    if Path(name).suffix.lower() != ".sig":
        raise SignatureError(f"invalid signature filename {name}. The file extension must be .sig",
                             hint="blob signature files are named <blob>.<jws|cose>.sig")
    parts = name.split(".")
    if len(parts) < 3:
        raise SignatureError(f"invalid signature filename {name}. A valid signature file name "
                             "must contain signature format and .sig file extension",
                             hint="blob signature files are named <blob>.<jws|cose>.sig")
    fmt = parts[-2].lower()
    if fmt not in ("jws", "cose"):
        raise SignatureError(f'signature format "{fmt}" not supported\n'
                             'Supported signature envelope formats are "jws" and "cose"',
                             hint="blob signature files are named <blob>.<jws|cose>.sig")
    return fmt


def sign_blob(
    blob: BinaryIO,
    signer: Signer | EnvelopeSigner,
    *,
    envelope_format: str = "jws",
    media_type: str = DEFAULT_MEDIA_TYPE,
    expiry: timedelta | None = None,
    user_metadata: Mapping[str, str] | None = None,
    timestamper: Callable[[bytes, str], bytes] | None = None,
) -> bytes:
    """The envelope bytes signing ``blob`` (the digest algorithm follows the key);
    ``timestamper`` (:func:`blob_timestamper`) countersigns it at an RFC 3161 TSA."""
    if not isinstance(signer, Signer):
        raise PluginError(f'the plugin "{signer.name}" lacks the signature generator '
                          "capability required for blob signing",
                          hint="blob signing needs a key or a plugin with SIGNATURE_GENERATOR.RAW")
    digest, size = digest_file(blob, key_spec(signer.key_spec()).hashlib_name)
    signed = sign_descriptor(
        Descriptor(media_type, digest, size), signer, envelope_format=envelope_format,
        expiry=expiry, user_metadata=user_metadata, signing_agent=SIGNING_AGENT,
        timestamper=timestamper,
    )
    return signed.envelope


def blob_timestamper(
    url: str, root_cert: str, warn: Warn, *, response: bool = False,
) -> Callable[[bytes, str], bytes]:
    """The image signer's RFC 3161 timestamper (``--timestamp-url``/``--timestamp-root-cert``);
    with ``response`` it returns the whole TimeStampResp (for Sigstore bundles)."""
    stamper = _timestamper(SignOptions(timestamp_url=url, timestamp_root_cert=Path(root_cert)),
                           warn, response=response)
    assert stamper is not None
    return stamper


def parse_blob_signature(sig_path: str, data: bytes) -> ParsedEnvelope:
    """Parse (and integrity-check) a blob signature, the type taken from its file name."""
    return parse_envelope(media_type_of(envelope_format_of(sig_path)), data)


@dataclass(frozen=True)
class BlobVerdict:
    """The outcome of ``verify_blob``: what the trust engine said, and the payload."""

    outcome: NotaryOutcome
    envelope: ParsedEnvelope | None = None
    annotations: dict[str, str] = field(default_factory=dict)


def verify_blob(
    blob: BinaryIO,
    sig_path: str,
    signature: bytes,
    statement: BlobPolicyStatement,
    *,
    media_type: str | None = None,
    user_metadata: Mapping[str, str] | None = None,
    trust_store: Path | None = None,
    now: datetime | None = None,
    reference: str = "",
    plugin_config: Mapping[str, str] | None = None,
) -> BlobVerdict:
    """Verify a blob signature under ``statement``; VerificationError when it fails.

    Integrity and the blob binding always fail the verification; the other checks follow
    the statement's level (their logged failures are in ``outcome.warnings``).
    """
    fmt = envelope_format_of(sig_path)
    if statement.level == "skip":
        return BlobVerdict(verify_notary_skip(statement, reference))
    try:
        envelope = parse_envelope(media_type_of(fmt), signature)
    except OcisignError as exc:
        raise VerificationError(f"unable to parse the digital signature, error : {exc.message}",
                                hint=exc.hint) from None
    signed = envelope.target
    hash_name = spec_for_jws_alg(envelope.algorithm).hashlib_name
    digest, size = digest_file(blob, hash_name)
    outcome = verify_notary(
        envelope,
        target=Descriptor(str(signed["mediaType"]), str(signed["digest"]), int(signed["size"])),
        statement=statement, stores=store_loader(trust_store), now=now,
        user_metadata=None, reference=reference, plugin_config=plugin_config,
    )
    if not outcome.passed:
        raise VerificationError(outcome.failure, hint="see docs/blob.md")
    if signed["digest"] != digest or signed["size"] != size or (
        media_type is not None and signed["mediaType"] != media_type
    ):
        raise VerificationError(BLOB_MISMATCH,
                                hint="the signature was made for another file or media type")
    annotations: dict[str, str] = dict(signed.get("annotations") or {})
    for key, value in (user_metadata or {}).items():
        if annotations.get(key) != value:
            raise VerificationError("unable to find specified metadata in the signature",
                                    hint=f"the signature has no user metadata {key}={value}")
    return BlobVerdict(outcome, envelope, annotations)


def verify_notary_skip(statement: BlobPolicyStatement, reference: str) -> NotaryOutcome:
    """A ``skip`` statement: nothing is read or checked."""
    return NotaryOutcome(True, "skip", skipped=True,
                         notices=[f"Trust policy is configured to skip signature verification "
                                  f"for {reference}"])


# ---------------------------------------------------------------------------- inspect

_ALGORITHM_NAMES = {
    "PS256": "RSASSA-PSS-SHA-256", "PS384": "RSASSA-PSS-SHA-384", "PS512": "RSASSA-PSS-SHA-512",
    "ES256": "ECDSA-SHA-256", "ES384": "ECDSA-SHA-384", "ES512": "ECDSA-SHA-512",
}


def _cert_info(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "SHA256Fingerprint": hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        "issuedTo": go_name(cert.subject),
        "issuedBy": go_name(cert.issuer),
        "expiry": cert.not_valid_after_utc,
    }


def _timestamp_info(token: bytes) -> dict[str, Any]:
    """genTime window and certificates of an RFC 3161 token (not verified: inspect only)."""
    try:
        sd = _parse(token).children()[1].children()[0].children()
        tst = _parse(sd[2].children()[1].children()[0].content).children()
        gen_time = _gentime(tst[4])
        accuracy = next((_accuracy(n) for n in tst[5:] if n.tag == 0x30), timedelta())
        certs = [x509.load_der_x509_certificate(c.raw)
                 for n in sd[3:] if n.tag == 0xA0 for c in n.children()]
    except (OcisignError, IndexError, ValueError, UnicodeDecodeError) as exc:
        return {"error": f"malformed timestamp token: {getattr(exc, 'message', exc)}"}
    return {"lower": gen_time - accuracy, "upper": gen_time + accuracy,
            "certificates": [_cert_info(c) for c in certs]}


# Go's pkix.Name.String(): the named fields grouped by type in this order, then reversed,
# after the other attributes (as they appear).
_GO_FIELDS = (("2.5.4.6", "C"), ("2.5.4.8", "ST"), ("2.5.4.7", "L"), ("2.5.4.9", "STREET"),
              ("2.5.4.17", "POSTALCODE"), ("2.5.4.10", "O"), ("2.5.4.11", "OU"),
              ("2.5.4.3", "CN"), ("2.5.4.5", "SERIALNUMBER"))


def _go_escape(value: str) -> str:
    out = "".join("\\" + ch if ch in ',+"\\<>;' else ch for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    return out[:-1] + "\\ " if out.endswith(" ") else out


def go_name(name: x509.Name) -> str:
    """A distinguished name as Go's ``pkix.Name.String()`` prints it (notation's output)."""
    named = {oid for oid, _ in _GO_FIELDS}
    rdns: list[list[str]] = [
        [f"{a.oid.dotted_string}="
         f"{_go_escape(a.value if isinstance(a.value, str) else a.value.hex())}"]
        for a in name if a.oid.dotted_string not in named
    ]
    for oid, label in _GO_FIELDS:
        values = [str(a.value) for a in name if a.oid.dotted_string == oid]
        if values and label in ("CN", "SERIALNUMBER"):
            values = values[:1]
        if values:
            rdns.append([f"{label}={_go_escape(v)}" for v in values])
    return ",".join("+".join(rdn) for rdn in reversed(rdns))


def describe(envelope: ParsedEnvelope) -> dict[str, Any]:
    """What ``blob inspect`` shows, with times as datetimes (the renderer formats them)."""
    signed: dict[str, Any] = {
        "contentType": "application/vnd.cncf.notary.payload.v1+json",
        "signingScheme": envelope.signing_scheme,
    }
    if envelope.signing_time is not None:
        signed["signingTime"] = envelope.signing_time
    if envelope.authentic_signing_time is not None:
        signed["authenticSigningTime"] = envelope.authentic_signing_time
    if envelope.expiry is not None:
        signed["expiry"] = envelope.expiry
    signed.update({k: str(v) for k, v in envelope.extended_attributes.items()})
    unsigned: dict[str, Any] = {"signingAgent": envelope.signing_agent}
    if envelope.timestamp_token:
        unsigned["timestampSignature"] = _timestamp_info(envelope.timestamp_token)
    target = envelope.target
    return {
        "signatureAlgorithm": _ALGORITHM_NAMES.get(envelope.algorithm, envelope.algorithm),
        "signatureEnvelopeType": envelope.media_type,
        "signedAttributes": signed,
        "userDefinedAttributes": dict(target.get("annotations") or {}) or None,
        "unsignedAttributes": unsigned,
        "certificates": [_cert_info(c) for c in envelope.cert_chain],
        "signedArtifact": {"mediaType": target["mediaType"], "digest": target["digest"],
                           "size": target["size"]},
    }

