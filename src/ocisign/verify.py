"""Orchestration of ``ocisign validate``: references -> targets -> signatures -> verdicts.

Two kinds of signature are checked, each against what its upstream verifier reads:

- sigstore (cosign simple signing): the ``sha256-<hex>.sig`` manifest of every target
  digest (an index and the platform manifests passing ``--arch``/``--os``); a target
  passes if ANY layer verifies with a given public key, signs this digest, and carries an
  acceptable ``docker-reference`` (containers-policy ``signedIdentity``).
- Notary Project (JWS/COSE): the referrers of the digest the reference names (and of the
  platforms too when ``-a``/``--os`` were given), judged by the trust engine
  (``ocisign.notary.trust``) under the trust policy statement for the repository.

Everything read from a store is bounded (4 MiB manifests, envelopes and payloads;
``max_signatures`` signatures per digest), and every malformed structure is a failed
verification with a reason, never an exception out of a line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ocisign.batch import BatchReport, Job, LineResult, Outcome, Status, run_batch
from ocisign.errors import NotFoundError, OcisignError, UsageError, VerificationError
from ocisign.oci import INDEX_TYPES, NOTARY_SIGNATURE, Descriptor, Platform

if TYPE_CHECKING:
    from ocisign.config.trustpolicy import TrustPolicyDocument
    from ocisign.envelopes.notary import ParsedEnvelope
    from ocisign.envelopes.simplesigning import PublicKey
    from ocisign.notary.trust import StoreLoader
    from ocisign.registry.client import RegistryClient
    from ocisign.registry.store import Manifest, RegistryOptions, Store
    from ocisign.resolve.targets import Resolved, Target
    from ocisign.sigstore.identity import IdentityMatcher

log = logging.getLogger(__name__)

Kind = Literal["sigstore", "notation", "any"]
MAX_READ = 4 * 1024 * 1024  # manifests, envelopes and payloads read from a store
IDENTITY_RULES = {
    "match-repo-digest-or-exact": "matchRepoDigestOrExact",
    "match-repository": "matchRepository",
    "match-exact": "matchExact",
}
# what malformed JSON/descriptors raise below the OcisignError layer (deep nesting included)
MALFORMED = (KeyError, ValueError, TypeError, RecursionError)
OFFLINE_REVOCATION = (
    "revocation not checked (offline): OCSP responders and CRL distribution points are "
    "not contacted; a revoked signing certificate is not detected"
)


@dataclass(frozen=True)
class PublicKeyFile:
    """A public key to verify sigstore signatures with, and the file it came from."""

    path: str
    key: PublicKey


@dataclass(frozen=True)
class ValidateRequest:
    """Everything ``validate`` needs (built by the CLI from its flags)."""

    references: Sequence[str] = ()
    image_list: Path | None = None
    oci_layout: bool = False
    registry: RegistryOptions | None = None
    archs: Sequence[str] = ()
    oses: Sequence[str] = ()
    registry_override: str | None = None
    project_override: str | None = None
    jobs: int = 4
    timeout: float | None = 600.0
    kind: Kind = "any"
    sigstore_keys: Sequence[PublicKeyFile] = ()
    identity: str = "match-repo-digest-or-exact"
    exact_repository: str | None = None
    policy: TrustPolicyDocument | None = None
    trust_store: Path | None = None
    scope: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    max_signatures: int = 100
    notation_platforms: bool = False  # -a/--os given: verify platforms' notary signatures too
    now: datetime | None = None
    progress: bool = False


@dataclass
class ImageResult:
    """The verdict on one digest (what a report row holds)."""

    reference: str  # name@digest
    digest: str
    media_type: str
    platform: Platform | None
    kind: str  # sigstore | notation
    status: Status
    reason: str = ""
    signature_format: str = ""  # sigstore | jws | cose
    payload: str = ""  # the verified payload (JSON text)
    signer: str = ""  # key file (sigstore) or leaf certificate subject (notation)
    issuer: str = ""  # leaf certificate issuer (notation)
    signing_time: str = ""
    evaluated: bool = False  # the Notary trust engine judged at least one signature
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # always printed (stderr)
    messages: list[str] = field(default_factory=list)  # verbose success lines


@dataclass(frozen=True)
class _Check:
    """One kind's verdict on one target: ``found`` False = no signature of that kind."""

    found: bool
    result: ImageResult


# ----------------------------------------------------------------------------- public


def validate(request: ValidateRequest) -> BatchReport:
    """Validate every reference of ``request``; failures are per line, never raised."""
    _check_request(request)
    jobs = build_jobs(request)
    client = None
    if not request.oci_layout:
        from ocisign.registry.client import RegistryClient

        client = RegistryClient(request.registry)
    validator = _Validator(request, client)
    try:
        return run_batch(
            jobs,
            validator.line,
            workers=request.jobs,
            timeout=request.timeout,
            progress=request.progress,
            description="validating",
        )
    finally:
        if client is not None:
            client.close()


def build_jobs(request: ValidateRequest) -> list[Job[str | OcisignError]]:
    """One job per reference argument and per image-list line (bad lines fail as jobs)."""
    jobs: list[Job[str | OcisignError]] = [
        Job(text, number, text) for number, text in enumerate(request.references, start=1)
    ]
    if request.image_list is None:
        return jobs
    if request.oci_layout:
        try:
            lines = request.image_list.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read image list {request.image_list}: {exc}") from exc
        for number, raw in enumerate(lines, start=1):
            text = raw.strip()
            if text and not text.startswith(("#", "//")):
                jobs.append(Job(text, number, text))
        return jobs
    from ocisign.resolve.imagelist import read_image_list

    for entry in read_image_list(
        request.image_list,
        registry=request.registry_override,
        project=request.project_override,
    ):
        item: str | OcisignError = entry.error or str(entry.reference)
        jobs.append(Job(entry.text, entry.line_no, item))
    return jobs


def identity_matcher(request: ValidateRequest) -> IdentityMatcher:
    """The containers-policy rule ``--identity``/``--exact-repository`` select."""
    from ocisign.sigstore.identity import exact_repository, identity_rule

    if request.exact_repository:
        return exact_repository(request.exact_repository)
    if request.identity not in IDENTITY_RULES:
        raise UsageError(
            f"unknown --identity {request.identity!r}",
            "use " + ", ".join(IDENTITY_RULES),
        )
    return identity_rule(IDENTITY_RULES[request.identity])


def line_images(line: LineResult) -> list[ImageResult]:
    """The per-digest results of one line (for reports and rendering)."""
    return [o.data["image"] for o in line.outcomes if isinstance(o.data.get("image"), ImageResult)]


# ------------------------------------------------------------------------- internals


def _check_request(request: ValidateRequest) -> None:
    if request.kind == "sigstore" and not request.sigstore_keys:
        raise UsageError(
            "--type sigstore needs at least one --sigstore-pubkey FILE",
            "pass the public key the images were signed with",
        )
    if request.kind == "notation" and request.policy is None:
        raise UsageError(
            "--type notation needs a trust policy",
            "pass --trust-policy FILE or create trustpolicy.json in the config dir",
        )
    if not request.sigstore_keys and request.policy is None:
        raise UsageError(
            "nothing to verify with: no --sigstore-pubkey and no trust policy",
            "pass --sigstore-pubkey FILE (sigstore), or --trust-policy FILE and --trust-store "
            "DIR (or a trustpolicy.json in the config dir) for JWS/COSE signatures",
        )
    if request.max_signatures < 1:
        raise UsageError("--max-signatures must be at least 1")
    if not request.references and request.image_list is None:
        raise UsageError(
            "no image to validate",
            "name one or more references, or pass an image list with -f FILE",
        )


class _Validator:
    """Per-run state shared by the worker threads (read-only after construction)."""

    def __init__(self, request: ValidateRequest, client: RegistryClient | None) -> None:
        self.request = request
        self.client = client
        self.sigstore = bool(request.sigstore_keys) and request.kind in ("sigstore", "any")
        self.notation = request.policy is not None and request.kind in ("notation", "any")
        self.matcher = identity_matcher(request) if self.sigstore else None
        self.stores: StoreLoader | None = None
        if self.notation:
            from ocisign.config.truststore import store_loader

            self.stores = store_loader(request.trust_store)

    # -- one line --------------------------------------------------------------------

    def line(self, item: str | OcisignError, deadline: float) -> list[Outcome]:
        if isinstance(item, OcisignError):
            raise item
        from ocisign.registry import open_store
        from ocisign.resolve.targets import Target, resolve_targets

        req = self.request
        opened = open_store(item, req.registry, oci_layout=req.oci_layout, client=self.client)
        expand = self.sigstore or req.notation_platforms
        resolved = resolve_targets(opened, expand=expand, archs=req.archs, oses=req.oses)
        skipped = [] if resolved.targets else [self._skipped(resolved)]
        sig_checks: list[_Check] = []
        not_checks: list[_Check] = []
        if self.sigstore:
            sig_checks = [self._sigstore(resolved, t) for t in resolved.targets]
        if self.notation:
            targets = resolved.targets
            if not req.notation_platforms:  # notation: only what the reference names
                root = resolved.root
                targets = [Target(root, None, root.media_type in INDEX_TYPES)]
            not_checks = [self._notation(resolved, t) for t in targets]
        return self._combine(sig_checks, not_checks, skipped)

    def _skipped(self, resolved: Resolved) -> Outcome:
        reason = "no platform matches --arch/--os"
        return Outcome(Status.SKIPPED, resolved.user_reference, resolved.root.digest, reason)

    def _combine(
        self, sig: list[_Check], notary: list[_Check], skipped: list[Outcome]
    ) -> list[Outcome]:
        kind = self.request.kind
        groups = [g for g in (sig, notary) if g]
        if kind == "any" and len(groups) == 2:
            found = [g for g in groups if any(c.found for c in g)]
            # a kind that found nothing at all is not required under --type any
            groups = found or [g for g in groups if g is sig]
            if not found:
                for c in sig:
                    c.result.status = Status.FAILED
                    c.result.reason = "no signature found (sigstore or Notary Project)"
        outcomes = list(skipped)
        for group in groups:
            outcomes.extend(_outcome(c.result) for c in group)
        return outcomes

    # -- sigstore --------------------------------------------------------------------

    def _sigstore(self, resolved: Resolved, target: Target) -> _Check:
        digest = target.descriptor.digest
        result = ImageResult(
            resolved.display(digest), digest, target.descriptor.media_type, target.platform,
            "sigstore", Status.FAILED, signature_format="sigstore",
        )
        try:
            return self._sigstore_checked(resolved, target, result)
        except OcisignError as exc:
            result.reason = exc.message
        except MALFORMED as exc:  # malformed content
            result.reason = f"malformed signature data: {exc}"
        return _Check(True, result)

    def _sigstore_checked(self, resolved: Resolved, target: Target, result: ImageResult) -> _Check:
        from ocisign.envelopes.simplesigning import parse_sig_manifest, verify_layers
        from ocisign.registry.store import sigstore_tag

        store, digest = resolved.store, target.descriptor.digest
        try:
            sig_manifest = _fetch_manifest(store, sigstore_tag(digest))
        except NotFoundError:
            result.reason = "no sigstore signature"
            if target.is_index:  # an index's own signature is reported, not required
                result.status = Status.SKIPPED
                result.reason = "no sigstore signature on the index (not required)"
            return _Check(False, result)
        layers = parse_sig_manifest(sig_manifest.raw)
        if not layers:
            result.reason = "the .sig manifest holds no signature"
            return _Check(True, result)
        limit = self.request.max_signatures
        examined = layers[:limit]
        payloads: dict[str, bytes] = {}

        def fetch(desc: Descriptor) -> bytes:
            if desc.digest not in payloads:
                payloads[desc.digest] = store.fetch_blob(desc.digest, max_bytes=MAX_READ)
            return payloads[desc.digest]

        image_ref = self._image_ref(resolved, target)
        reasons: list[str] = []
        for key in self.request.sigstore_keys:
            for layer in verify_layers(examined, fetch, [key.key], digest):
                if not layer.ok or layer.payload is None:
                    reasons.append(layer.reason)
                    continue
                signed_ref = layer.payload.docker_reference
                rejected = image_ref is not None and self.matcher is not None and not (
                    self.matcher(image_ref, signed_ref)
                )
                if rejected:
                    reasons.append(
                        f"identity mismatch: the signature names {signed_ref!r}, which "
                        f"{self._rule_name()} does not accept for {image_ref!r}"
                    )
                    continue
                result.status = Status.PASSED
                result.reason = ""
                result.payload = payloads[layer.layer.descriptor.digest].decode("utf-8")
                result.signer = key.path
                result.messages.append(
                    f"Successfully verified sigstore signature for {resolved.display(digest)}"
                )
                return _Check(True, result)
        unique = list(dict.fromkeys(reasons))
        if len(layers) > limit:
            unique.append(f"only the first {limit} of {len(layers)} signatures were examined")
        result.reason = "; ".join(unique) or "no signature verifies"
        return _Check(True, result)

    def _image_ref(self, resolved: Resolved, target: Target) -> str | None:
        """The image reference the identity rule judges (None: no identity check)."""
        if self.request.oci_layout and not self.request.exact_repository:
            return None  # a folder is no docker reference: only --exact-repository applies
        if target.descriptor.digest == resolved.root.digest:
            return resolved.user_reference
        return resolved.display(target.descriptor.digest)

    def _rule_name(self) -> str:
        if self.request.exact_repository:
            return f"exactRepository {self.request.exact_repository!r}"
        return IDENTITY_RULES.get(self.request.identity, self.request.identity)

    # -- Notary Project --------------------------------------------------------------

    def _notation(self, resolved: Resolved, target: Target) -> _Check:
        from ocisign.config.trustpolicy import select_statement
        from ocisign.notary.trust import verify_any

        req = self.request
        assert req.policy is not None and self.stores is not None
        digest = target.descriptor.digest
        display = resolved.display(digest)
        result = ImageResult(
            display, digest, target.descriptor.media_type, target.platform, "notation",
            Status.FAILED,
        )
        try:
            statement = select_statement(req.policy, req.scope or resolved.name)
            items, total = self._notary_signatures(resolved.store, digest)
        except OcisignError as exc:
            result.reason = exc.message
            return _Check(True, result)
        except MALFORMED as exc:
            result.reason = f"malformed signature data: {type(exc).__name__}: {exc}"
            return _Check(True, result)
        if statement.level != "skip" and total == 0:
            from ocisign.notary.trust import no_signature_message

            result.reason = no_signature_message(display)
            return _Check(False, result)
        result.evaluated = statement.level != "skip"
        verdict = verify_any(
            items,
            target=target.descriptor,
            statement=statement,
            stores=self.stores,
            now=req.now,
            user_metadata=req.user_metadata,
            reference=display,
            max_signatures=req.max_signatures,
        )
        for failed in verdict.failures:
            result.warnings.extend(failed.warnings)
        outcome = verdict.outcome
        if verdict.passed and outcome is not None:
            result.status = Status.PASSED
            result.warnings = list(outcome.warnings)
            result.signer = outcome.signer
            if outcome.signing_time is not None:
                result.signing_time = outcome.signing_time.isoformat()
            if outcome.skipped:
                result.notices = list(outcome.notices)  # notation's skip message
            else:
                result.messages.append(f"Successfully verified signature for {display}")
                self._fill_from_envelope(result, items, outcome.signer)
            return _Check(total > 0 or outcome.skipped, result)
        details = [f.failure for f in verdict.failures if f.failure]
        result.reason = verdict.message
        if details:
            result.reason += ": " + "; ".join(dict.fromkeys(details))
        return _Check(True, result)

    def _fill_from_envelope(
        self, result: ImageResult, items: Sequence[ParsedEnvelope | OcisignError], signer: str
    ) -> None:
        """Payload, format and issuer of the envelope whose leaf is ``signer``."""
        from ocisign.oci import COSE_MEDIA_TYPE

        for item in items:
            if isinstance(item, OcisignError) or not item.cert_chain:
                continue
            if item.cert_chain[0].subject.rfc4514_string() != signer:
                continue
            result.payload = item.payload.decode("utf-8", "replace")
            result.signature_format = "cose" if item.media_type == COSE_MEDIA_TYPE else "jws"
            result.issuer = item.cert_chain[0].issuer.rfc4514_string()
            return

    def _notary_signatures(
        self, store: Store, digest: str
    ) -> tuple[list[ParsedEnvelope | OcisignError], int]:
        """Parsed envelopes (or why each failed) of the first ``max_signatures``
        signatures, plus one marker when there are more; and how many were listed."""
        limit = self.request.max_signatures
        listed = store.referrers(digest, NOTARY_SIGNATURE)
        items: list[ParsedEnvelope | OcisignError] = [
            read_notary_signature(store, desc.digest, desc.size) for desc in listed[:limit]
        ]
        if len(listed) > limit:
            items.append(VerificationError("not examined: over --max-signatures"))
        return items, len(listed)


def _fetch_manifest(store: Store, reference: str, size: int | None = None) -> Manifest:
    if size is not None and size > MAX_READ:
        raise VerificationError(f"manifest {reference} is {size} bytes, over the 4 MiB limit")
    manifest = store.fetch_manifest(reference)
    if len(manifest.raw) > MAX_READ:
        raise VerificationError(f"manifest {reference} is over the 4 MiB limit")
    return manifest


def read_notary_signature(store: Store, digest: str, size: int) -> ParsedEnvelope | OcisignError:
    """Fetch one signature manifest and its envelope (4 MiB limits), and parse it.

    Errors are returned, not raised: a broken signature is a failed one. ``sign`` uses
    this too, to find a signature of its own already there.
    """
    from ocisign.envelopes.notary import MAX_ENVELOPE_SIZE, parse_envelope

    try:
        manifest = _fetch_manifest(store, digest, size)
        layers = manifest.layers
        if len(layers) != 1:
            raise VerificationError(
                f"signature manifest {digest} has {len(layers)} layers, expected exactly one"
            )
        layer = layers[0]
        if layer.size > MAX_ENVELOPE_SIZE:
            raise VerificationError(
                f"signature envelope {layer.digest} is {layer.size} bytes, over the 4 MiB limit"
            )
        blob = store.fetch_blob(layer.digest, max_bytes=MAX_ENVELOPE_SIZE)
        if len(blob) != layer.size:
            raise VerificationError(
                f"signature envelope {layer.digest} is {len(blob)} bytes, its descriptor "
                f"says {layer.size}"
            )
        return parse_envelope(layer.media_type, blob)
    except OcisignError as exc:
        return exc
    except MALFORMED as exc:
        return VerificationError(f"malformed signature manifest {digest}: {exc}")


def _outcome(result: ImageResult) -> Outcome:
    return Outcome(result.status, result.reference, result.digest, result.reason, {"image": result})

