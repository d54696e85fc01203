"""Orchestration of ``ocisign sign``: references -> targets -> signatures -> push.

One run: one registry client (shared session and tokens), one signer (key loaded and
plugin described once), one batch of lines (positional references first, then the
image list). Notary (JWS/COSE) targets are signed here; sigstore targets go to
``ocisign.sigstore.SigstoreAttacher``. A digest reached twice in a run is signed once;
a target already signed by the same certificate in the same format is left alone unless
``force``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocisign.batch import BatchReport, Job, Outcome, Status, run_batch
from ocisign.errors import InvalidReferenceError, NetworkError, OcisignError, UsageError
from ocisign.oci import EMPTY_JSON, NOTARY_SIGNATURE, OCI_MANIFEST, Descriptor
from ocisign.registry.store import RegistryOptions

if TYPE_CHECKING:
    from ocisign.registry import StoreTarget
    from ocisign.registry.client import RegistryClient
    from ocisign.resolve.targets import Resolved, Target
    from ocisign.signers.base import Signer

SKIP_MESSAGE = "no available image for specified arch and os"
NOTARY_FORMATS = ("jws", "cose")


def tag_warning(tag: str) -> str:
    """notation's warning for a tag reference."""
    return (
        "Always sign the artifact using digest(@sha256:...) rather than a tag(:"
        f"{tag}) because tags are mutable and a tag reference can point to a different "
        "artifact than the one signed."
    )


@dataclass(frozen=True)
class SignOptions:
    """Everything ``sign`` needs, built by the CLI from its flags."""

    references: tuple[str, ...] = ()  # positional references, as typed
    image_list: Path | None = None
    signature_format: str = "jws"  # jws | cose | sigstore
    key_name: str | None = None  # None: the key store's default
    plugin_name: str | None = None  # on-demand plugin key (with key_id)
    key_id: str | None = None
    plugin_config: dict[str, str] = field(default_factory=dict)
    plugin_timeout: float | None = None
    expiry: timedelta | None = None
    user_metadata: dict[str, str] = field(default_factory=dict)
    oci_layout: bool = False
    force_referrers_tag: bool = True
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    expand: bool = False  # hangar's index + platforms (sigstore always expands)
    archs: tuple[str, ...] = ()
    oses: tuple[str, ...] = ()
    registry_override: str | None = None
    project_override: str | None = None
    jobs: int = 4
    timeout: float | None = 600.0  # per line, seconds; None = no limit
    force: bool = False
    progress: bool = False
    sigstore_key: Path | None = None
    sigstore_passphrase_file: Path | None = None
    sigstore_identity: str = "containers"


@dataclass(frozen=True)
class _Line:
    """One batch line: the text to open, or the error its parsing gave."""

    text: str
    error: OcisignError | None = None


def check_user_metadata(metadata: dict[str, str]) -> None:
    """Refuse empty keys/values and the reserved ``io.cncf.notary`` prefix (UsageError)."""
    from ocisign.notary.sign import add_user_metadata

    try:
        add_user_metadata(Descriptor("", "", 0), metadata)
    except UsageError as exc:
        raise UsageError(exc.message, hint="pass -m KEY=VALUE with a non-empty key and value; "
                         "keys starting io.cncf.notary are reserved") from None


def build_jobs(options: SignOptions) -> list[Job[_Line]]:
    """Positional references (line = the reference as typed), then the image-list lines."""
    jobs: list[Job[_Line]] = []
    for number, text in enumerate(options.references, start=1):
        error: OcisignError | None = None
        if not options.oci_layout:
            from ocisign.oci.reference import parse_reference

            try:
                parse_reference(text)
            except InvalidReferenceError as exc:
                error = exc
        jobs.append(Job(text, number, _Line(text, error)))
    if options.image_list is not None:
        from ocisign.resolve.imagelist import read_image_list

        for entry in read_image_list(
            options.image_list,
            registry=options.registry_override,
            project=options.project_override,
        ):
            text = str(entry.reference) if entry.reference else entry.text
            jobs.append(Job(entry.text, entry.line_no, _Line(text, entry.error)))
    return jobs


def load_signer(options: SignOptions) -> tuple[Signer, str]:
    """The Notary signer for the run and a label for it (key name or plugin:id)."""
    from ocisign.signers.plugin import DEFAULT_TIMEOUT, PluginSigner

    timeout = options.plugin_timeout or DEFAULT_TIMEOUT
    if options.plugin_name and options.key_id:
        signer: Signer = PluginSigner(
            options.plugin_name, options.key_id, options.plugin_config, timeout=timeout
        )
        return signer, f"{options.plugin_name}:{options.key_id}"
    from ocisign.config.keystore import KeyStore

    entry = KeyStore.load().get(options.key_name)
    if entry.is_plugin:
        assert entry.plugin_name and entry.id
        config = {**(entry.plugin_config or {}), **options.plugin_config}
        return PluginSigner(entry.plugin_name, entry.id, config, timeout=timeout), entry.name
    from ocisign.keys.pem import load_certificates, load_private_key
    from ocisign.signers.local import LocalSigner

    assert entry.key_path and entry.cert_path
    key = load_private_key(entry.key_path)
    return LocalSigner(key, load_certificates(entry.cert_path)), entry.name


class _Once:
    """Per-run memory of (store, digest, identity) -> the first outcome: signed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str, str], threading.Event] = {}
        self._results: dict[tuple[str, str, str], Outcome] = {}

    def run(self, key: tuple[str, str, str], work: Callable[[], Outcome]) -> Outcome:
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
            outcome = Outcome(Status.FAILED, key[0], key[1], exc.message)
            self._results[key] = outcome
            event.set()
            raise
        except BaseException:
            self._results[key] = Outcome(Status.FAILED, key[0], key[1], "failed in this run")
            event.set()
            raise
        self._results[key] = outcome
        event.set()
        return outcome


class _Run:
    """State shared by the workers of one run."""

    def __init__(
        self, options: SignOptions, warn: Callable[[str], None], client: RegistryClient | None
    ) -> None:
        self.options = options
        self.warn = warn
        self.client = client
        self.once = _Once()
        self.signer: Signer | None = None
        self.key_label = ""
        self.attacher: Any = None
        self._thumbprint: str | None = None
        self._thumb_lock = threading.Lock()
        self._warned: set[str] = set()
        self._has_config: set[str] = set()
        self._warn_lock = threading.Lock()
        fmt = options.signature_format
        if fmt == "sigstore":
            # ocisign.sigstore.attach lands from the sigstore-sign branch
            from ocisign.sigstore.attach import (  # type: ignore[import-not-found,unused-ignore]
                SigstoreAttacher,
                load_sigstore_key,
            )

            assert options.sigstore_key is not None
            key = load_sigstore_key(options.sigstore_key, options.sigstore_passphrase_file)
            self.attacher = SigstoreAttacher(key, identity=options.sigstore_identity)
            self.key_label = str(options.sigstore_key)
        else:
            from ocisign.envelopes.notary import media_type_of

            self.media_type = media_type_of(fmt)
            self.signer, self.key_label = load_signer(options)
            self._thumbprint = self._known_thumbprint()

    def _known_thumbprint(self) -> str | None:
        from ocisign.envelopes.notary import thumbprints
        from ocisign.errors import PluginError

        assert self.signer is not None
        try:
            return thumbprints(self.signer.certificate_chain()[:1])[0]
        except PluginError:
            return None  # a plugin tells its chain only when it signs

    # -- one line ----------------------------------------------------------------------

    def work(self, line: _Line, deadline: float) -> list[Outcome]:
        if line.error is not None:
            raise line.error
        from ocisign.registry import open_store
        from ocisign.resolve.targets import resolve_targets

        opened = open_store(
            line.text, self.options.registry, oci_layout=self.options.oci_layout,
            client=self.client,
        )
        expand = self.options.expand or self.options.signature_format == "sigstore"
        resolved = resolve_targets(
            opened, expand=expand, archs=self.options.archs, oses=self.options.oses
        )
        self._tag_warning(opened)
        if not resolved.targets:
            return [Outcome(Status.SKIPPED, resolved.user_reference, resolved.root.digest,
                            SKIP_MESSAGE)]
        outcomes: list[Outcome] = []
        for target in resolved.targets:
            if time.monotonic() > deadline:
                raise NetworkError(f"{resolved.user_reference}: ran out of time")
            key = (resolved.store.name, target.descriptor.digest, self._identity(resolved))
            outcomes.append(self.once.run(key, partial(self._sign_one, resolved, target)))
        return outcomes

    def _identity(self, resolved: Resolved) -> str:
        """What besides the digest makes a signature distinct: the reference as written,
        for sigstore's default identity (its docker-reference names the tag)."""
        if self.attacher is not None and self.options.sigstore_identity == "containers":
            return resolved.user_ref
        return ""

    def _tag_warning(self, opened: StoreTarget) -> None:
        from ocisign.oci import is_digest

        if not opened.ref or is_digest(opened.ref):
            return
        with self._warn_lock:
            if opened.display in self._warned:
                return
            self._warned.add(opened.display)
        self.warn(tag_warning(opened.ref))

    def _sign_one(self, resolved: Resolved, target: Target) -> Outcome:
        if self.attacher is not None:
            outcome: Outcome = self.attacher.sign(resolved, target, force=self.options.force)
            outcome.data.setdefault("format", "sigstore")
            outcome.data.setdefault("key", self.key_label)
            return outcome
        return self._sign_notary(resolved, target)  # an error fails the line, with its hint

    # -- Notary Project signatures -----------------------------------------------------

    def _data(self, signature: str, mechanism: str, annotations: dict[str, str]) -> dict[str, Any]:
        return {
            "signatureDigest": signature,
            "format": self.options.signature_format,
            "mediaType": self.media_type,
            "key": self.key_label,
            "mechanism": mechanism,
            "annotations": annotations,
        }

    def _sign_notary(self, resolved: Resolved, target: Target) -> Outcome:
        from ocisign.envelopes.notary import thumbprints
        from ocisign.notary.sign import sign_descriptor

        assert self.signer is not None
        store, desc = resolved.store, target.descriptor
        display = resolved.display(desc.digest)
        force = self.options.force
        thumb = self._thumbprint
        if thumb and not force:
            existing = self._existing(resolved, target, thumb)
            if existing:
                return Outcome(Status.ALREADY_SIGNED, display, desc.digest,
                               data=self._data(existing, "", {}))
        signed = sign_descriptor(
            desc, self.signer, envelope_format=self.options.signature_format,
            expiry=self.options.expiry or None, user_metadata=self.options.user_metadata,
        )
        if thumb is None:
            with self._thumb_lock:
                self._thumbprint = thumb = thumbprints(signed.parsed.cert_chain[:1])[0]
            existing = "" if force else self._existing(resolved, target, thumb)
            if existing:
                return Outcome(Status.ALREADY_SIGNED, display, desc.digest,
                               data=self._data(existing, "", {}))
        store.push_blob(signed.envelope, signed.media_type, check_exists=False)  # always new
        if store.name not in self._has_config:  # the `{}` config: once per repository
            store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
            with self._warn_lock:
                self._has_config.add(store.name)
        pushed = store.push_referrer(
            signed.manifest, OCI_MANIFEST, force_tag_schema=self.options.force_referrers_tag
        )
        for message in pushed.warnings:
            self.warn(message)
        data = self._data(pushed.descriptor.digest, pushed.mechanism, signed.annotations)
        data["warnings"] = list(pushed.warnings)
        return Outcome(Status.SIGNED, display, desc.digest, data=data)

    def _existing(self, resolved: Resolved, target: Target, thumb: str) -> str:
        """The digest of a valid signature of ours (same leaf, same format), or ''."""
        from ocisign.envelopes.notary import THUMBPRINT_ANNOTATION
        from ocisign.verify import read_notary_signature

        store, digest = resolved.store, target.descriptor.digest
        for ref in store.referrers(digest, NOTARY_SIGNATURE):
            try:
                prints = json.loads(ref.annotations.get(THUMBPRINT_ANNOTATION, "[]"))
            except ValueError:
                continue
            if not isinstance(prints, list) or not prints or prints[0] != thumb:
                continue
            parsed = read_notary_signature(store, ref.digest, ref.size)
            if isinstance(parsed, OcisignError) or parsed.media_type != self.media_type:
                continue  # unreadable, broken or another format: not one we can count on
            signed = parsed.target
            if signed.get("digest") != digest or signed.get("size") != target.descriptor.size:
                continue
            if parsed.expiry is not None and parsed.expiry <= datetime.now(UTC):
                continue
            annotations = signed.get("annotations") or {}
            if any(annotations.get(k) != v for k, v in self.options.user_metadata.items()):
                continue
            return ref.digest
        return ""


def _client(options: SignOptions) -> RegistryClient | None:
    if options.oci_layout:
        return None
    from ocisign.registry.client import RegistryClient

    jobs = max(options.registry.jobs, options.jobs)
    return RegistryClient(replace(options.registry, jobs=jobs))


def sign(options: SignOptions, *, warn: Callable[[str], None] | None = None) -> BatchReport:
    """Sign every line; per-line failures are in the report, setup failures raise."""
    if options.signature_format not in (*NOTARY_FORMATS, "sigstore"):
        raise UsageError(f"unknown signature format {options.signature_format!r}",
                         hint="use jws, cose or sigstore")
    if options.user_metadata:
        check_user_metadata(options.user_metadata)
    jobs = build_jobs(options)
    if not jobs:
        raise UsageError("nothing to sign: the image list has no image lines",
                         hint="add references to the list, or pass them as arguments")
    if len(jobs) == 1 and options.image_list is None and jobs[0].item.error is not None:
        raise jobs[0].item.error  # one reference that does not parse: a usage error
    client = _client(options)
    try:
        run = _Run(options, warn or (lambda message: None), client)
        return run_batch(
            jobs, run.work, workers=options.jobs, timeout=options.timeout,
            progress=options.progress, description="signing",
        )
    finally:
        if client is not None:
            client.close()
