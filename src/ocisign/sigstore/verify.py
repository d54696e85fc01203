"""Verify cosign signatures of a target: v3 bundle referrers first, else simple signing.

As cosign v3 does, the Sigstore bundle referrers of a digest (:mod:`.bundle`) are looked
for first; when there is at least one, only bundles are judged (a DSSE in-toto statement
whose subject is the digest, signed by a given key). Otherwise the ``.sig`` tag is read, as
skopeo/podman read it:

The ``sha256-<hex>.sig`` manifest of every target digest (an index and the platform
manifests passing ``--arch``/``--os``): a target passes if ANY layer verifies with a given
public key, signs this digest, and carries an acceptable ``docker-reference``
(containers-policy ``signedIdentity``). Reads are bounded (4 MiB manifests and payloads,
``max_signatures`` layers), and malformed content fails the target with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocisign.batch import Status
from ocisign.envelopes.simplesigning import parse_sig_manifest, verify_layers
from ocisign.errors import MALFORMED, NotFoundError, OcisignError, UsageError
from ocisign.formats import Check, ImageResult, SignatureFormat, ValidateRequest
from ocisign.oci import Descriptor
from ocisign.registry.store import MAX_MANIFEST_BYTES, read_manifest, sigstore_tag
from ocisign.resolve.targets import Resolved, Target
from ocisign.sigstore.bundle import find_bundles, verify_bundles
from ocisign.sigstore.identity import IdentityMatcher, exact_repository, identity_rule

KIND = "sigstore"
IDENTITY_RULES = {
    "match-repo-digest-or-exact": "matchRepoDigestOrExact",
    "match-repository": "matchRepository",
    "match-exact": "matchExact",
}


def identity_matcher(request: ValidateRequest) -> IdentityMatcher:
    """The containers-policy rule ``--identity``/``--exact-repository`` select."""
    if request.exact_repository:
        return exact_repository(request.exact_repository)
    if request.identity not in IDENTITY_RULES:
        raise UsageError(
            f"unknown --identity {request.identity!r}",
            "use " + ", ".join(IDENTITY_RULES),
        )
    return identity_rule(IDENTITY_RULES[request.identity])


class SigstoreChecker:
    """The sigstore kind's checker: public keys and an identity rule from the request."""

    kind = KIND
    label = "sigstore"
    expands_index = True

    def __init__(self, request: ValidateRequest) -> None:
        self.request = request
        self.matcher = identity_matcher(request)

    def targets(self, resolved: Resolved) -> Sequence[Target]:
        return resolved.targets

    def check(self, resolved: Resolved, target: Target) -> Check:
        digest = target.descriptor.digest
        result = ImageResult(
            Status.FAILED, resolved.display(digest), digest,
            media_type=target.descriptor.media_type, platform=target.platform, kind=KIND,
            signature_format=KIND, error_kind="VerificationError",
        )
        try:
            return self._checked(resolved, target, result)
        except OcisignError as exc:
            result.detail, result.error_kind = exc.message, type(exc).__name__
        except MALFORMED as exc:  # malformed content
            result.detail = f"malformed signature data: {exc}"
        return Check(True, result)

    def _checked(self, resolved: Resolved, target: Target, result: ImageResult) -> Check:
        store, digest = resolved.store, target.descriptor.digest
        bundles = find_bundles(store, digest, self.request.max_signatures)
        if bundles:  # as cosign v3: bundles found -> only bundles count, no .sig fallback
            keys = [(key.path, key.key) for key in self.request.sigstore_keys]
            verdict = verify_bundles(bundles, keys, digest)
            if isinstance(verdict, list):
                result.detail = "; ".join(dict.fromkeys(verdict)) or "no bundle verifies"
                return Check(True, result)
            label, payload, _ = verdict
            result.status, result.detail, result.error_kind = Status.PASSED, "", ""
            result.signature_format = "bundle"
            result.payload = payload.decode("utf-8", "replace")
            result.signer = label
            result.messages.append(
                f"Successfully verified sigstore bundle for {resolved.display(digest)}"
            )
            return Check(True, result)
        try:
            sig_manifest = read_manifest(store, sigstore_tag(digest))
        except NotFoundError:
            result.detail = "no sigstore signature"
            if target.is_index:  # an index's own signature is reported, not required
                result.status, result.error_kind = Status.SKIPPED, ""
                result.detail = "no sigstore signature on the index (not required)"
            return Check(False, result)
        layers = parse_sig_manifest(sig_manifest.raw)
        if not layers:
            result.detail = "the .sig manifest holds no signature"
            return Check(True, result)
        limit = self.request.max_signatures
        examined = layers[:limit]
        payloads: dict[str, bytes] = {}

        def fetch(desc: Descriptor) -> bytes:
            if desc.digest not in payloads:
                payloads[desc.digest] = store.fetch_blob(desc.digest, max_bytes=MAX_MANIFEST_BYTES)
            return payloads[desc.digest]

        image_ref = self._image_ref(resolved, target)
        reasons: list[str] = []
        for key in self.request.sigstore_keys:
            for layer in verify_layers(examined, fetch, [key.key], digest):
                if not layer.ok or layer.payload is None:
                    reasons.append(layer.reason)
                    continue
                signed_ref = layer.payload.docker_reference
                if image_ref is not None and not self.matcher(image_ref, signed_ref):
                    reasons.append(
                        f"identity mismatch: the signature names {signed_ref!r}, which "
                        f"{self._rule_name()} does not accept for {image_ref!r} (sign "
                        f"{image_ref!r} itself, or validate the reference that was signed)"
                    )
                    continue
                result.status, result.detail, result.error_kind = Status.PASSED, "", ""
                result.payload = payloads[layer.layer.descriptor.digest].decode("utf-8")
                result.signer = key.path
                result.messages.append(
                    f"Successfully verified sigstore signature for {resolved.display(digest)}"
                )
                return Check(True, result)
        unique = list(dict.fromkeys(reasons))
        if len(layers) > limit:
            unique.append(f"only the first {limit} of {len(layers)} signatures were examined")
        result.detail = "; ".join(unique) or "no signature verifies"
        return Check(True, result)

    def _image_ref(self, resolved: Resolved, target: Target) -> str | None:
        """The image reference the identity rule judges (None: no identity check).

        The reference the user wrote, for the index and each platform manifest alike (a
        platform signed for ``app:old`` does not pass as ``app:latest``); hangar v1's
        ``NAME@PLATFORM-DIGEST`` only with ``--platform-digest-identity``.
        """
        if self.request.oci_layout and not self.request.exact_repository:
            return None  # a folder is no docker reference: only --exact-repository applies
        digest = target.descriptor.digest
        if self.request.platform_digest_identity and digest != resolved.root.digest:
            return resolved.display(digest)  # hangar v1: NAME@PLATFORM-DIGEST
        return resolved.user_reference  # as containers/image judges every instance

    def _rule_name(self) -> str:
        if self.request.exact_repository:
            return f"exactRepository {self.request.exact_repository!r}"
        return IDENTITY_RULES.get(self.request.identity, self.request.identity)


def checker(fmt: SignatureFormat, request: ValidateRequest) -> SigstoreChecker | None:
    """The public-key checker; None when no ``--sigstore-pubkey`` was given."""
    if not request.sigstore_keys:
        if request.kind == fmt.kind:
            raise UsageError(
                f"--type {fmt.kind} needs at least one --sigstore-pubkey FILE",
                "pass the public key the images were signed with",
            )
        return None
    return SigstoreChecker(request)
