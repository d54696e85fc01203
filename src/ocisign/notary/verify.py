"""Verify Notary Project signatures (JWS/COSE) of a target, as ``notation verify`` does.

The referrers of the digest the reference names (and of the platforms too when
``-a``/``--os`` were given) are judged by the trust engine (:mod:`ocisign.notary.trust`)
under the trust policy statement for the repository. Everything read from a store is
bounded (4 MiB manifests and envelopes; ``max_signatures`` signatures per digest), and
every malformed structure is a failed verification with a reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocisign.batch import Status
from ocisign.config import paths
from ocisign.config.trustpolicy import (
    TrustPolicyDocument,
    TrustPolicyStatement,
    select_statement,
)
from ocisign.config.truststore import store_loader
from ocisign.envelopes.notary import ParsedEnvelope, codec_for
from ocisign.errors import MALFORMED, OcisignError, UsageError, VerificationError
from ocisign.formats import Check, ImageResult, SignatureFormat, ValidateRequest
from ocisign.notary import revocation
from ocisign.notary.read import read_notary_signature
from ocisign.notary.trust import NotaryOutcome, no_signature_message, verify_any
from ocisign.oci import INDEX_TYPES, NOTARY_SIGNATURE
from ocisign.registry.store import Store
from ocisign.resolve.targets import Resolved, Target

KIND = "notation"


class NotaryChecker:
    """The Notary kind's checker: trust policy + trust store from the request."""

    kind = KIND
    label = "Notary Project"

    def __init__(self, request: ValidateRequest, policy: TrustPolicyDocument) -> None:
        self.request = request
        self.policy = policy
        self.expands_index = request.notation_platforms
        self.stores = store_loader(request.trust_store)
        self._cache_warnings: list[str] = []
        self.revocation = revocation.Options(cache_dir=paths.crl_cache_dir(),
                                             warn=self._cache_warnings.append)

    def targets(self, resolved: Resolved) -> Sequence[Target]:
        """What the reference names (as notation does), or every platform with -a/--os."""
        if self.request.notation_platforms:
            return resolved.targets
        root = resolved.root
        return [Target(root, None, root.media_type in INDEX_TYPES)]

    def check(self, resolved: Resolved, target: Target) -> Check:
        req = self.request
        digest = target.descriptor.digest
        display = resolved.display(digest)
        result = ImageResult(
            Status.FAILED, display, digest, media_type=target.descriptor.media_type,
            platform=target.platform, kind=KIND, error_kind="VerificationError",
        )
        try:
            statement = select_statement(self.policy, req.scope or resolved.name)
            items, total = self._signatures(resolved.store, digest)
        except OcisignError as exc:
            result.detail, result.error_kind = exc.message, type(exc).__name__
            return Check(True, result)
        except MALFORMED as exc:
            result.detail = f"malformed signature data: {type(exc).__name__}: {exc}"
            return Check(True, result)
        if statement.level != "skip" and total == 0:
            result.detail = no_signature_message(display)
            return Check(False, result)
        verdict = verify_any(
            items,
            target=target.descriptor,
            statement=statement,
            stores=self.stores,
            now=req.now,
            user_metadata=req.user_metadata,
            plugin_config=req.plugin_config,
            reference=display,
            max_signatures=req.max_signatures,
            revocation_options=self.revocation,
        )
        result.run_notices.extend(self._cache_warnings)
        for failed in verdict.failures:
            result.warnings.extend(failed.warnings)
        outcome = verdict.outcome
        unenforced = _unenforced(statement)
        judged = outcome if verdict.passed else next(
            (f for f in verdict.failures if f.revocation or f.tsa_revocation), None)
        if judged is not None:
            _fill_revocation(result, judged)
        if verdict.passed and outcome is not None:
            result.status, result.error_kind = Status.PASSED, ""
            result.warnings = list(outcome.warnings)
            result.signer = outcome.signer
            if outcome.signing_time is not None:
                result.signing_time = outcome.signing_time.isoformat()
            if outcome.skipped:
                result.notices = list(outcome.notices)  # notation's skip message
            else:
                result.messages.append(f"Successfully verified signature for {display}")
                _fill_from_envelope(result, items, outcome.signer)
            return Check(total > 0 or outcome.skipped, result, unenforced)
        details = [f.failure for f in verdict.failures if f.failure]
        result.detail = verdict.message
        if details:
            result.detail += ": " + "; ".join(dict.fromkeys(details))
        return Check(True, result, unenforced)

    def _signatures(
        self, store: Store, digest: str
    ) -> tuple[list[ParsedEnvelope | OcisignError], int]:
        """Parsed envelopes (or why each failed) of the first ``max_signatures``
        signatures, plus one marker when there are more; and how many were listed."""
        limit = self.request.max_signatures
        listed = store.referrers(digest, NOTARY_SIGNATURE, limit + 1)  # one more: "over"
        items: list[ParsedEnvelope | OcisignError] = [
            read_notary_signature(store, desc.digest, desc.size) for desc in listed[:limit]
        ]
        if len(listed) > limit:
            items.append(VerificationError("not examined: over --max-signatures"))
        return items, len(listed)


def _unenforced(statement: TrustPolicyStatement) -> str:
    """Why a verdict under ``statement`` rests on no configured trust ('' if it does)."""
    if statement.level == "skip":
        what = "skips verification"
    elif statement.actions()["authenticity"] != "enforce":
        what = "only logs authenticity"
    else:
        return ""
    return (
        f"Notary Project trust policy statement {statement.name!r} (level "
        f"{statement.level}) {what}, which never satisfies --type any on its own (sign with "
        "a key the policy trusts, or require a kind with --type)"
    )


def _fill_revocation(result: ImageResult, outcome: NotaryOutcome) -> None:
    """Per certificate: the chain, method and result (JSON), one verbose line each."""
    for chain, items in (("signing", outcome.revocation),
                         ("timestamping", outcome.tsa_revocation)):
        for item in items:
            result.revocation.append({"chain": chain, **item.to_json()})
            result.messages.append(
                f"revocation ({chain}): {item.subject}: {item.result.value} via {item.method}"
                + "".join(f"; {s.method} {s.server}: {s.error or s.result.value}"
                          for s in item.servers))


def _fill_from_envelope(
    result: ImageResult, items: Sequence[ParsedEnvelope | OcisignError], signer: str
) -> None:
    """Payload, format and issuer of the envelope whose leaf is ``signer``."""
    for item in items:
        if isinstance(item, OcisignError) or not item.cert_chain:
            continue
        if item.cert_chain[0].subject.rfc4514_string() != signer:
            continue
        result.payload = item.payload.decode("utf-8", "replace")
        result.signature_format = codec_for(item.media_type).name
        result.issuer = item.cert_chain[0].issuer.rfc4514_string()
        return


def checker(fmt: SignatureFormat, request: ValidateRequest) -> NotaryChecker | None:
    """The trust-policy checker; None when no trust policy is configured."""
    if request.policy is None:
        if request.kind == fmt.kind:
            raise UsageError(
                f"--type {fmt.kind} needs a trust policy",
                "pass --trust-policy FILE or create trustpolicy.json in the config dir",
            )
        return None
    return NotaryChecker(request, request.policy)
