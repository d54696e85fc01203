"""Orchestration of ``ocisign validate``: references -> targets -> checkers -> verdicts.

The formats table gives one checker per kind the user configured trust for (a sigstore
public key, a Notary trust policy). ``--type KIND`` requires that kind; without ``--type``
the kind is sigstore when public keys were given, else Notary (``formats.default_kind``);
only ``--type any`` is an any-of over the kinds: the kinds that found a signature must
pass, and at least one of them must have verified it against configured trust (notation's
``skip``/``audit`` verdicts are reported but never enough). This module knows no format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ocisign import formats
from ocisign.batch import BatchReport, LineResult, Outcome, Status, run_batch
from ocisign.errors import UsageError
from ocisign.formats import ANY_KIND, Check, Checker, ImageResult, ValidateRequest
from ocisign.registry import open_store, run_client
from ocisign.resolve.imagelist import Line, batch_jobs
from ocisign.resolve.targets import Resolved, resolve_targets

if TYPE_CHECKING:
    from ocisign.registry.client import RegistryClient

NO_PLATFORM = "no platform matches --arch/--os"
NOTHING_TO_VERIFY = "nothing to verify with: no --sigstore-pubkey and no trust policy"
NOTHING_TO_VERIFY_HINT = (
    "pass --sigstore-pubkey FILE (sigstore), or --trust-policy FILE and --trust-store "
    "DIR (or a trustpolicy.json in the config dir) for JWS/COSE signatures"
)


def validate(request: ValidateRequest) -> BatchReport:
    """Validate every reference of ``request``; failures are per line, never raised."""
    _check_request(request)
    if not request.kind:
        request = dataclasses.replace(
            request, kind=formats.default_kind(bool(request.sigstore_keys))
        )
    checkers = _checkers(request)
    jobs = batch_jobs(
        request.references, request.image_list, oci_layout=request.oci_layout,
        registry=request.registry_override, project=request.project_override,
        shard=request.shard,
    )
    with run_client(request.registry, oci_layout=request.oci_layout) as client:
        validator = _Validator(request, checkers, client)
        return run_batch(jobs, validator.line, workers=request.jobs, timeout=request.timeout,
                         progress=request.progress, description="validating")


def line_images(line: LineResult) -> list[ImageResult]:
    """The per-digest results of one line (for reports and rendering)."""
    return [o for o in line.outcomes if isinstance(o, ImageResult)]


def _checkers(request: ValidateRequest) -> list[Checker]:
    """The checkers of the kinds asked for that have trust configured, in table order."""
    kinds = formats.kinds()
    if request.kind != ANY_KIND and request.kind not in kinds:
        raise UsageError(f"unknown --type {request.kind!r}",
                         hint="use " + ", ".join([*kinds, ANY_KIND]))
    checkers = []
    for kind, fmt in formats.by_kind().items():
        if request.kind in (ANY_KIND, kind):
            checker = fmt.checker(request)  # raises when --type names it and it has no trust
            if checker is not None:
                checkers.append(checker)
    if not checkers:
        raise UsageError(NOTHING_TO_VERIFY, NOTHING_TO_VERIFY_HINT)
    return checkers


def _check_request(request: ValidateRequest) -> None:
    if not request.kind and not request.sigstore_keys and request.policy is None:
        raise UsageError(NOTHING_TO_VERIFY, NOTHING_TO_VERIFY_HINT)
    if request.max_signatures < 1:
        raise UsageError("--max-signatures must be at least 1")
    if not request.references and request.image_list is None:
        raise UsageError(
            "no image to validate",
            "name one or more references, or pass an image list with -f FILE",
        )


def any_of(groups: Sequence[Sequence[Check]], labels: Sequence[str]) -> list[ImageResult]:
    """``--type any`` over the kinds' checks (one group per kind, in table order).

    The kinds that found a signature count and must pass; at least one of them must rest on
    configured trust. A verdict that does not (``Check.unenforced``: notation's ``skip``,
    ``audit``) is reported as skipped, not counted. When no kind qualifies, the first kind
    that found nothing (else the first kind) fails the line with the reason.
    """
    groups = [g for g in groups if g]
    if len(groups) < 2:
        return [c.result for group in groups for c in group]
    found = [i for i, g in enumerate(groups) if any(c.found for c in g)]
    trusted = [i for i in found if not any(c.unenforced for c in groups[i])]
    for i in found:
        for check in groups[i]:
            if check.unenforced and check.result.status is Status.PASSED:
                check.result.status = Status.SKIPPED
                check.result.detail = f"not counted: {check.unenforced}"
    if not trusted:
        failing = next((i for i in range(len(groups)) if i not in found), 0)
        reason = f"no signature found ({' or '.join(labels)})"
        why = [c.unenforced for i in found for c in groups[i] if c.unenforced]
        if why:
            reason = f"no signature verified against configured trust; {why[0]}"
        for check in groups[failing]:
            check.result.status = Status.FAILED
            check.result.detail = reason
            check.result.error_kind = "VerificationError"
        found = sorted({*found, failing})
    return [c.result for i in found for c in groups[i]]


class _Validator:
    """Per-run state shared by the worker threads (read-only after construction)."""

    def __init__(
        self, request: ValidateRequest, checkers: list[Checker], client: RegistryClient | None
    ) -> None:
        self.request = request
        self.checkers = checkers
        self.client = client
        self.expand = any(c.expands_index for c in checkers)

    def line(self, line: Line, deadline: float) -> list[Outcome]:
        if line.error is not None:
            raise line.error
        req = self.request
        opened = open_store(line.text, req.registry, oci_layout=req.oci_layout,
                            client=self.client)
        resolved = resolve_targets(opened, expand=self.expand, archs=req.archs, oses=req.oses)
        outcomes: list[Outcome] = [] if resolved.targets else [self._skipped(resolved)]
        groups = [[c.check(resolved, t) for t in c.targets(resolved)] for c in self.checkers]
        outcomes.extend(any_of(groups, [c.label for c in self.checkers]))
        return outcomes

    def _skipped(self, resolved: Resolved) -> Outcome:
        return Outcome(Status.SKIPPED, resolved.user_reference, resolved.root.digest,
                       NO_PLATFORM)
