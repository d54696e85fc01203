"""Orchestration of ``ocisign sign``: references -> targets -> the format's attacher.

One run: one registry client (shared session and tokens), one attacher from the formats
table (key loaded once), one batch of lines (positional references first, then the image
list). This module knows no format: a digest reached twice in a run (for the same
identity) is signed once, and whether a target is already signed is the attacher's call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from ocisign import formats
from ocisign.batch import BatchReport, Outcome, Status, run_batch
from ocisign.errors import NetworkError, OcisignError, UsageError
from ocisign.formats import Attacher, SignOptions, SignResult, Warn
from ocisign.oci import is_digest
from ocisign.registry import StoreTarget, open_store, run_client
from ocisign.resolve.imagelist import Line, batch_jobs
from ocisign.resolve.targets import resolve_targets

if TYPE_CHECKING:
    from ocisign.registry.client import RegistryClient

SKIP_MESSAGE = "no available image for specified arch and os"


def tag_warning(tag: str) -> str:
    """notation's warning for a tag reference."""
    return (
        "Always sign the artifact using digest(@sha256:...) rather than a tag(:"
        f"{tag}) because tags are mutable and a tag reference can point to a different "
        "artifact than the one signed."
    )


def sign(options: SignOptions, *, warn: Warn | None = None) -> BatchReport:
    """Sign every line; per-line failures are in the report, setup failures raise."""
    fmt = formats.get(options.signature_format)
    jobs = batch_jobs(
        options.references, options.image_list, oci_layout=options.oci_layout,
        registry=options.registry_override, project=options.project_override,
        shard=options.shard,
    )
    if not jobs:
        raise UsageError("nothing to sign: the image list has no image lines",
                         hint="add references to the list, or pass them as arguments")
    if len(jobs) == 1 and options.image_list is None and jobs[0].item.error is not None:
        raise jobs[0].item.error  # one reference that does not parse: a usage error
    say = warn or (lambda message: None)
    attacher = fmt.attacher(options, say)
    registry = replace(options.registry, jobs=max(options.registry.jobs, options.jobs))
    with run_client(registry, oci_layout=options.oci_layout) as client:
        run = _Run(options, fmt.expands_index, attacher, say, client)
        return run_batch(jobs, run.work, workers=options.jobs, timeout=options.timeout,
                         progress=options.progress, description="signing")


class _Once:
    """Per-run memory of (store, digest, identity) -> the first result: signed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str, str], threading.Event] = {}
        self._results: dict[tuple[str, str, str], SignResult] = {}

    def run(self, key: tuple[str, str, str], work: Callable[[], SignResult]) -> SignResult:
        with self._lock:
            event = self._events.get(key)
            first = event is None
            if first:
                event = self._events[key] = threading.Event()
        assert event is not None
        if not first:
            event.wait()
            earlier = self._results[key]
            if earlier.status in (Status.SIGNED, Status.ALREADY_SIGNED):
                return replace(earlier, status=Status.ALREADY_SIGNED, detail="signed in this run")
            return earlier
        try:
            outcome = work()
        except OcisignError as exc:
            self._results[key] = SignResult(Status.FAILED, key[0], key[1], exc.message,
                                         type(exc).__name__)
            event.set()
            raise
        except BaseException:
            self._results[key] = SignResult(Status.FAILED, key[0], key[1], "failed in this run")
            event.set()
            raise
        self._results[key] = outcome
        event.set()
        return outcome


class _Run:
    """State shared by the workers of one run."""

    def __init__(
        self, options: SignOptions, expands_index: bool, attacher: Attacher, warn: Warn,
        client: RegistryClient | None,
    ) -> None:
        self.options = options
        self.expand = options.expand or expands_index
        self.attacher = attacher
        self.warn = warn
        self.client = client
        self.once = _Once()
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    def work(self, line: Line, deadline: float) -> list[Outcome]:
        if line.error is not None:
            raise line.error
        opened = open_store(
            line.text, self.options.registry, oci_layout=self.options.oci_layout,
            client=self.client,
        )
        resolved = resolve_targets(
            opened, expand=self.expand, archs=self.options.archs, oses=self.options.oses
        )
        self._tag_warning(opened)
        if not resolved.targets:
            return [SignResult(Status.SKIPPED, resolved.user_reference, resolved.root.digest,
                               SKIP_MESSAGE)]
        outcomes: list[Outcome] = []
        identity = self.attacher.identity(resolved)
        for target in resolved.targets:
            if time.monotonic() > deadline:
                raise NetworkError(f"{resolved.user_reference}: ran out of time")
            key = (resolved.store.name, target.descriptor.digest, identity)
            outcomes.append(self.once.run(key, partial(self.attacher.sign, resolved, target)))
        return outcomes

    def _tag_warning(self, opened: StoreTarget) -> None:
        if not opened.ref or is_digest(opened.ref):
            return
        with self._warn_lock:
            if opened.display in self._warned:
                return
            self._warned.add(opened.display)
        self.warn(tag_warning(opened.ref))
