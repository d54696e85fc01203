"""The one storage interface (``Store``) over a registry repository or an OCI layout.

Shared shapes: ``Manifest`` (exact bytes + media type + digest), ``ReferrerPush``,
``RegistryOptions``; tag naming for the referrers tag schema and sigstore ``.sig`` tags;
platform selection over an index (hangar's --arch/--os filter).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Literal, Protocol, runtime_checkable

from ocisign.errors import RegistryError, VerificationError
from ocisign.oci import INDEX_TYPES, MANIFEST_TYPES, Descriptor, Platform, is_digest, sha256_digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the most a manifest, envelope or payload read may be
MAX_REFERRERS = 10_000  # referrers listed per subject when the caller sets no lower limit
MALFORMED_HINT = "the registry or OCI layout holds malformed content; it is not trusted"
REFERRERS_API: Final = "referrers-api"
TAG_SCHEMA: Final = "tag-schema"
LAYOUT_INDEX: Final = "oci-layout"
Mechanism = Literal["referrers-api", "tag-schema", "oci-layout"]


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: credentials, TLS and transport limits."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False
    insecure_registries: frozenset[str] = frozenset()  # hosts reached over plain HTTP
    tls_verify: bool = True
    ca_file: str | None = None
    timeout: float = 30.0  # per socket read
    connect_timeout: float = 10.0
    request_timeout: float = 120.0  # total per request, body included (and never past --timeout)
    jobs: int = 8
    max_retries: int = 5  # repeats per operation ...
    retry_budget: float = 60.0  # ... and seconds per operation (pauses included)
    backoff: float = 0.25
    max_retry_after: float = 10.0
    chunk_size: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as stored: raw bytes, media type and digest."""

    raw: bytes
    media_type: str
    digest: str

    @cached_property
    def _doc(self) -> dict[str, Any]:
        return load_json_object(self.raw, f"manifest {self.digest}")

    @property
    def descriptor(self) -> Descriptor:
        """The plain descriptor (mediaType, digest, size) of this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw))

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def is_image(self) -> bool:
        return self.media_type in MANIFEST_TYPES

    @property
    def _where(self) -> str:
        return f"manifest {self.digest}"

    @property
    def config(self) -> Descriptor | None:
        cfg = self._doc.get("config")
        return None if cfg is None else parse_descriptor(cfg, self._where, "config")

    @property
    def layers(self) -> list[Descriptor]:
        return parse_descriptors(self._doc.get("layers"), self._where, "layers")

    @property
    def manifests(self) -> list[Descriptor]:
        """An index's entries (empty for an image manifest)."""
        return parse_descriptors(self._doc.get("manifests"), self._where, "manifests")

    @property
    def subject(self) -> Descriptor | None:
        subj = self._doc.get("subject")
        return None if subj is None else parse_descriptor(subj, self._where, "subject")

    @property
    def annotations(self) -> dict[str, str]:
        return _annotations(self._doc.get("annotations"), self._where, "annotations")

    @property
    def artifact_type(self) -> str:
        """``artifactType``, else ``config.mediaType`` (how referrers lists classify it)."""
        explicit = _string(self._doc.get("artifactType"), self._where, "artifactType")
        if explicit:
            return explicit
        cfg = self.config
        return cfg.media_type if cfg else ""

    def referrer_descriptor(self) -> Descriptor:
        """The descriptor a referrers list holds for this manifest."""
        return Descriptor(
            self.media_type,
            self.digest,
            len(self.raw),
            annotations=self.annotations,
            artifact_type=self.artifact_type,
        )


@dataclass(frozen=True)
class ReferrerPush:
    """The result of ``push_referrer``: the pushed manifest and how it was indexed."""

    descriptor: Descriptor
    mechanism: Mechanism
    warnings: tuple[str, ...] = ()


@runtime_checkable
class Store(Protocol):
    """One repository on a registry, or one OCI image layout directory."""

    @property
    def name(self) -> str:
        """Display name: ``registry/repository`` or the layout directory."""
        ...

    def resolve(self, reference: str) -> Descriptor:
        """Tag or digest -> descriptor of the manifest (NotFoundError if absent)."""
        ...

    def fetch_manifest(self, reference: str) -> Manifest:
        """Manifest bytes for a tag or digest, digest-checked."""
        ...

    def fetch_blob(self, digest: str, *, max_bytes: int | None = None) -> bytes:
        """Blob bytes, digest-checked; more than ``max_bytes`` is refused unread."""
        ...

    def blob_exists(self, digest: str) -> bool: ...

    def push_blob(self, data: bytes, media_type: str, *, check_exists: bool = True) -> Descriptor:
        """Store a blob (skipped if already present; ``check_exists=False`` saves the
        existence check for content known to be new, such as a fresh signature)."""
        ...

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Link a blob that ``from_repository`` (same registry) holds, in one request;
        False when it was not linked (then push it)."""
        ...

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        """Store manifest bytes as they are, under ``tag`` or by digest only."""
        ...

    def list_tags(self) -> list[str]: ...

    def delete_manifest(self, digest: str) -> None: ...

    def after_run(self, check: Callable[[], object]) -> None:
        """Call ``check`` in the end-of-run reconciliation pass (registries: other writers
        may have dropped what this run appended; an OCI layout has none: no-op)."""
        ...

    def referrers(
        self, subject_digest: str, artifact_type: str | None = None, limit: int = MAX_REFERRERS
    ) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``subject_digest``, optionally of one artifact type;
        at most ``limit`` of them (no more is read or kept)."""
        ...

    def push_referrer(
        self, data: bytes, media_type: str, *, force_tag_schema: bool = True
    ) -> ReferrerPush:
        """Push a manifest carrying ``subject`` and make it findable by ``referrers``."""
        ...


def read_manifest(store: Store, reference: str, size: int | None = None) -> Manifest:
    """``store.fetch_manifest`` refusing anything over 4 MiB (announced ``size`` or bytes)."""
    if size is not None and size > MAX_MANIFEST_BYTES:
        raise VerificationError(f"manifest {reference} is {size} bytes, over the 4 MiB limit")
    manifest = store.fetch_manifest(reference)
    if len(manifest.raw) > MAX_MANIFEST_BYTES:
        raise VerificationError(f"manifest {reference} is over the 4 MiB limit")
    return manifest


def referrers_tag(digest: str) -> str:
    """The referrers tag schema tag of ``digest``: ``sha256-<hex>``."""
    if not is_digest(digest):
        raise RegistryError(f"not a digest: {digest!r}")
    algo, _, hexpart = digest.partition(":")
    return f"{algo}-{hexpart}"


def sigstore_tag(digest: str, suffix: str = "sig") -> str:
    """The cosign attachment tag of ``digest``: ``sha256-<hex>.sig`` (or ``.att``...)."""
    return f"{referrers_tag(digest)}.{suffix}"


def platform_matches(
    platform: Platform | None, archs: Collection[str] = (), oses: Collection[str] = ()
) -> bool:
    """Hangar's filter: an empty arch/os or an empty set passes; ``unknown`` never does."""
    if platform is None:
        return True
    for value, allowed in ((platform.architecture, archs), (platform.os, oses)):
        if value == "unknown":
            return False
        if value and allowed and value not in allowed:
            return False
    return True


def select_platforms(
    index: Manifest, archs: Collection[str] = (), oses: Collection[str] = ()
) -> list[Descriptor]:
    """The entries of ``index`` that pass the --arch/--os filter, in index order."""
    return [d for d in index.manifests if platform_matches(d.platform, archs, oses)]


def image_platform(store: Store, manifest: Manifest) -> Platform | None:
    """A single-image manifest's platform, read from its config blob (None if it has none)."""
    cfg = manifest.config
    if cfg is None:
        return None
    try:
        doc = json.loads(store.fetch_blob(cfg.digest))
    except ValueError as exc:
        raise RegistryError(f"config blob {cfg.digest} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        return None
    return Platform(
        architecture=str(doc.get("architecture") or ""),
        os=str(doc.get("os") or ""),
        variant=str(doc.get("variant") or ""),
        os_version=str(doc.get("os.version") or ""),
    )


def build_index(manifests: list[Descriptor], annotations: dict[str, str] | None = None) -> bytes:
    """Compact JSON bytes of an OCI index holding ``manifests``."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [d.to_dict() for d in manifests],
    }
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc, separators=(",", ":")).encode()


def malformed(where: str, field: str, problem: str) -> RegistryError:
    """The error for a malformed field of a manifest, index or index.json."""
    return RegistryError(f"{where}: {field} {problem}", MALFORMED_HINT)


def load_json_object(raw: bytes, where: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or a RegistryError naming ``where`` (deep nesting too)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        problem = "is nested too deeply" if isinstance(exc, RecursionError) else (
            f"is not valid JSON ({exc})")
        raise RegistryError(f"{where} {problem}", MALFORMED_HINT) from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{where} is not a JSON object", MALFORMED_HINT)
    return doc


def _string(value: Any, where: str, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise malformed(where, field, "is not a string")
    return value


def _annotations(value: Any, where: str, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise malformed(where, field, "is not an object of strings")
    return dict(value)


def parse_descriptor(value: Any, where: str, field: str) -> Descriptor:
    """A descriptor checked field by field (digest, size, strings, annotations, platform)."""
    if not isinstance(value, dict):
        raise malformed(where, field, "is not an object")
    digest, size = value.get("digest"), value.get("size")
    if not isinstance(digest, str) or not is_digest(digest):
        raise malformed(where, f"{field}.digest", f"is not a digest ({str(digest)[:80]!r})")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise malformed(where, f"{field}.size", f"is not a size in bytes ({str(size)[:80]!r})")
    for name in ("mediaType", "artifactType"):
        _string(value.get(name), where, f"{field}.{name}")
    _annotations(value.get("annotations"), where, f"{field}.annotations")
    platform = value.get("platform")
    if platform is not None and (
        not isinstance(platform, dict) or not all(isinstance(v, str) for v in platform.values()
                                                  if not isinstance(v, list))
    ):
        raise malformed(where, f"{field}.platform", "is not an object of strings")
    return Descriptor.from_dict(value)


def parse_descriptors(
    value: Any, where: str, field: str, limit: int | None = None
) -> list[Descriptor]:
    """A list of descriptors (``None`` = empty); only the first ``limit`` are parsed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise malformed(where, field, "is not a list")
    items = value if limit is None else value[:limit]
    return [parse_descriptor(item, where, f"{field}[{i}]") for i, item in enumerate(items)]


def parse_manifest_bytes(data: bytes, media_type: str | None = None) -> Manifest:
    """Wrap pushed bytes as a Manifest (media type from the argument or the JSON)."""
    digest = sha256_digest(data)
    if media_type:
        return Manifest(data, media_type, digest)
    probe = Manifest(data, "", digest)
    return Manifest(data, str(probe._doc.get("mediaType") or ""), digest)
