"""Sign one descriptor the way ``notation sign`` does, up to (not including) the push.

target descriptor + user metadata -> payload -> envelope (ours, or a plugin's) -> parse
and verify what was built -> code-signing chain rules at signing time -> signature
manifest. Pure: no network, no registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ocisign import __version__
from ocisign.envelopes.notary import (
    ParsedEnvelope,
    SignRequest,
    build_envelope,
    build_payload,
    check_plugin_envelope,
    media_type_of,
    parse_envelope,
    signature_manifest,
)
from ocisign.errors import PluginError, SignatureError, UsageError, VerificationError
from ocisign.keys.codesigning import validate_signing_chain
from ocisign.oci import Descriptor
from ocisign.signers.base import EnvelopeSigner, Signer

RESERVED_PREFIX = "io.cncf.notary"


@dataclass(frozen=True)
class SignedEnvelope:
    """Everything a push needs: the envelope blob and the signature manifest."""

    envelope: bytes
    media_type: str
    manifest: bytes
    manifest_descriptor: Descriptor  # carries the manifest's annotations
    annotations: dict[str, str]  # the signature manifest's annotations
    parsed: ParsedEnvelope
    signed_target: dict[str, Any] = field(default_factory=dict)  # targetArtifact as signed


def add_user_metadata(target: Descriptor, user_metadata: Mapping[str, str]) -> dict[str, Any]:
    """The payload's targetArtifact: mediaType, digest, size, annotations (+ user metadata)."""
    annotations = dict(target.annotations)
    for key, value in user_metadata.items():
        if not key or not value:
            raise UsageError(f"user metadata needs a non-empty key and value: {key!r}={value!r}")
        if key.startswith(RESERVED_PREFIX):
            raise UsageError(
                f"user metadata key {key!r} uses the reserved prefix {RESERVED_PREFIX}"
            )
        if key in annotations:
            raise UsageError(f"user metadata key {key!r} is already present in the descriptor")
        annotations[key] = value
    out: dict[str, Any] = {
        "mediaType": target.media_type,
        "digest": target.digest,
        "size": target.size,
    }
    if annotations:
        out["annotations"] = annotations
    return out


def sign_descriptor(
    target: Descriptor,
    signer: Signer | EnvelopeSigner,
    *,
    envelope_format: str = "jws",
    expiry: timedelta | None = None,
    user_metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
    signing_agent: str | None = None,
    timestamper: Callable[[bytes, str], bytes] | None = None,
) -> SignedEnvelope:
    """Sign ``target`` and return the envelope and its signature manifest (not pushed).

    Raises UsageError (bad metadata/expiry), SignatureError/VerificationError (the
    envelope does not check out), CertificateError (the chain breaks §3 at signing time),
    PluginError (plugin failures). ``timestamper`` (signature, hash name) -> RFC 3161
    token countersigns the signature (notary.x509; not with envelope plugins).
    """
    media_type = media_type_of(envelope_format)
    signed_target = add_user_metadata(target, user_metadata or {})
    if expiry is not None and (expiry < timedelta(0) or expiry % timedelta(seconds=1)):
        raise UsageError("the expiry must be a non-negative whole number of seconds")
    signing_time = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    expires = signing_time + expiry if expiry else None
    extra: dict[str, str] = {}
    if isinstance(signer, EnvelopeSigner):
        if timestamper is not None:
            raise UsageError(
                f"plugin {signer.name!r} generates whole envelopes, which ocisign does not "
                "timestamp",
                hint="sign without --timestamp-url, or with a key the plugin signs with")
        payload = build_payload(signed_target, envelope_format)
        seconds = int(expiry.total_seconds()) if expiry else None
        envelope, extra = signer.generate_envelope(payload, media_type, seconds)
    else:
        agent = signing_agent or f"ocisign/{__version__}{signer.signing_agent_suffix}"
        request = SignRequest(signed_target, signing_time, expires, agent,
                              timestamper=timestamper)
        envelope = build_envelope(media_type, request, signer)
        payload = build_payload(signed_target, envelope_format)
    try:
        parsed = parse_envelope(media_type, envelope)
        check_plugin_envelope(parsed, payload)
    except VerificationError as exc:
        if isinstance(signer, EnvelopeSigner):
            raise PluginError(
                f"plugin {signer.name!r} generate-envelope: the returned envelope is invalid: "
                f"{exc.message}"
            ) from None
        raise SignatureError(
            f"the signature just made does not verify: {exc.message}",
            hint="the signing key and the leaf certificate of the chain must belong together",
        ) from None
    when = parsed.time
    assert when is not None  # parse guarantees one of the two times
    validate_signing_chain(parsed.cert_chain, when)
    manifest, descriptor = signature_manifest(
        envelope, media_type, target.plain(), parsed.cert_chain, when, extra
    )
    return SignedEnvelope(
        envelope=envelope,
        media_type=media_type,
        manifest=manifest,
        manifest_descriptor=descriptor,
        annotations=dict(descriptor.annotations),
        parsed=parsed,
        signed_target=signed_target,
    )
