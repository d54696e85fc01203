"""``LayoutStore``: the Store interface over an OCI image layout directory.

Blobs live under ``blobs/<alg>/<hex>``; ``index.json`` lists manifests, tagged with
``org.opencontainers.image.ref.name``. Referrers are found by scanning manifests whose
``subject`` is the target; pushing a referrer appends an untagged descriptor to
``index.json`` (rewritten atomically: tagged entries first, then untagged).

The layout is not trusted: only regular files inside the folder are read (no symlinks,
FIFOs or devices, no path out of it), each read is capped (4 MiB for manifests and blobs,
16 MiB for index.json), and malformed JSON fails with the file and the field.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocisign.errors import DigestMismatchError, NotFoundError, RegistryError, UsageError
from ocisign.oci import INDEX_TYPES, OCI_INDEX, Descriptor, check_digest, is_digest, sha256_digest
from ocisign.registry.store import (
    LAYOUT_INDEX,
    MALFORMED_HINT,
    MAX_MANIFEST_BYTES,
    MAX_REFERRERS,
    Manifest,
    ReferrerPush,
    load_json_object,
    parse_descriptors,
    parse_manifest_bytes,
)
from ocisign.util.fs import atomic_write

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'
_LOCKS: dict[Path, threading.Lock] = {}  # one index.json writer per directory in this process
_LOCKS_GUARD = threading.Lock()
MAX_INDEX_BYTES = 16 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_regular_file(path: Path, root: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file inside ``root`` and at most
    ``max_bytes`` long; FileNotFoundError if absent, RegistryError for anything else."""
    _check_inside(path, root)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(str(path)) from exc
        if exc.errno == errno.ELOOP:
            raise _refused(path, what, "is a symbolic link") from exc
        raise RegistryError(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refused(path, what, "is not a regular file")
        if info.st_size > max_bytes:
            raise _refused(path, what, f"is larger than {max_bytes} bytes")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise _refused(path, what, f"is larger than {max_bytes} bytes")
    return data


def _check_inside(path: Path, root: Path) -> None:
    """Refuse a path whose folder resolves outside ``root`` (a symlinked ``blobs/``)."""
    real_root = os.path.realpath(root)
    real_dir = os.path.realpath(path.parent)
    if real_dir != real_root and not real_dir.startswith(real_root.rstrip(os.sep) + os.sep):
        raise _refused(path, "file", f"leads outside the layout folder (to {real_dir})")


def _refused(path: Path, what: str, problem: str) -> RegistryError:
    return RegistryError(
        f"OCI layout {what} {path} {problem}; refused",
        "an OCI layout must hold only regular files inside its folder",
    )


def parse_layout_reference(text: str) -> tuple[Path, str | None, str | None]:
    """``DIR[:tag|@digest]`` -> (dir, tag, digest). The last ``@`` wins; else the last ``:``
    after the final path separator starts a tag."""
    at = text.rfind("@")
    if at > 0:
        digest = text[at + 1 :]
        if not is_digest(digest):
            raise UsageError(f"invalid OCI layout reference {text!r}: bad digest {digest!r}")
        return Path(text[:at]), None, digest
    sep = max(text.rfind("/"), text.rfind(os.sep))
    colon = text.rfind(":")
    if colon > sep and colon > 1:
        tag = text[colon + 1 :]
        if not tag:
            raise UsageError(f"invalid OCI layout reference {text!r}: empty tag")
        return Path(text[:colon]), tag, None
    return Path(text), None, None


class LayoutStore:
    """An OCI image layout on disk (implements ``ocisign.registry.store.Store``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        with _LOCKS_GUARD:
            self._lock = _LOCKS.setdefault(self.root.resolve(), threading.Lock())

    @property
    def name(self) -> str:
        return str(self.root)

    # -- index.json --------------------------------------------------------------------

    def _read_index(self) -> tuple[dict[str, Any], list[Descriptor]]:
        path = self.root / "index.json"
        try:
            raw = read_regular_file(path, self.root, MAX_INDEX_BYTES, "index")
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX}, []
        doc = load_json_object(raw, str(path))
        return doc, parse_descriptors(doc.get("manifests"), str(path), "manifests")

    def _write_index(self, doc: dict[str, Any], entries: list[Descriptor]) -> None:
        tagged = [d for d in entries if REF_NAME in d.annotations]
        untagged = [d for d in entries if REF_NAME not in d.annotations]
        doc = {**doc, "schemaVersion": 2, "manifests": [d.to_dict() for d in tagged + untagged]}
        if not (self.root / "oci-layout").exists():
            atomic_write(self.root / "oci-layout", LAYOUT_FILE)
        atomic_write(self.root / "index.json", json.dumps(doc, separators=(",", ":")).encode())

    # -- blobs -------------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise RegistryError(f"not a digest: {digest!r}", MALFORMED_HINT)
        algo, _, hexpart = digest.partition(":")
        path = self.root / "blobs" / algo / hexpart
        _check_inside(path, self.root)
        return path

    def blob_exists(self, digest: str) -> bool:
        """True for a regular file (a symlink or FIFO is not a blob: reading it fails)."""
        try:
            return stat.S_ISREG(os.lstat(self._blob_path(digest)).st_mode)
        except FileNotFoundError:
            return False

    def fetch_blob(self, digest: str, *, max_bytes: int | None = None) -> bytes:
        path = self._blob_path(digest)
        try:
            data = read_regular_file(path, self.root, max_bytes or MAX_MANIFEST_BYTES, "blob")
        except FileNotFoundError as exc:
            raise NotFoundError(f"blob {digest} not found in OCI layout {self.root}") from exc
        check_digest(data, digest)
        return data

    def push_blob(self, data: bytes, media_type: str, *, check_exists: bool = True) -> Descriptor:
        desc = Descriptor.of(data, media_type)  # the existence check is a cheap stat: always done
        if not self.blob_exists(desc.digest):
            atomic_write(self._blob_path(desc.digest), data)
        return desc

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        return self.blob_exists(digest)  # one blob folder: present here if anywhere

    def after_run(self, check: Callable[[], object]) -> None:
        """Nothing to reconcile: writers of one layout in this process are serialised."""

    # -- manifests ---------------------------------------------------------------------

    def resolve(self, reference: str) -> Descriptor:
        _, entries = self._read_index()
        if is_digest(reference):
            for entry in entries:
                if entry.digest == reference:
                    return entry.plain()
            return self.fetch_manifest(reference).descriptor
        for entry in entries:
            if entry.annotations.get(REF_NAME) == reference:
                return entry.plain()
        if not os.path.lexists(self.root / "index.json"):
            raise NotFoundError(
                f"{self.root} is not an OCI image layout (it has no index.json)",
                hint="--oci-layout takes DIR:TAG or DIR@sha256:<digest> of a layout folder",
            )
        raise NotFoundError(
            f"tag {reference!r} not found in OCI layout {self.root}",
            "list its tags, or pass DIR@sha256:<digest>",
        )

    def fetch_manifest(self, reference: str) -> Manifest:
        digest = reference if is_digest(reference) else self.resolve(reference).digest
        raw = self.fetch_blob(digest)
        manifest = parse_manifest_bytes(raw, None)
        if not manifest.media_type:
            raise RegistryError(f"manifest {digest} in {self.root} has no mediaType")
        return manifest

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        desc = self.push_blob(data, media_type)
        if tag:
            with self._lock:
                doc, entries = self._read_index()
                kept = [d for d in entries if d.annotations.get(REF_NAME) != tag]
                kept.append(Descriptor(media_type, desc.digest, desc.size, {REF_NAME: tag}))
                self._write_index(doc, kept)
        return desc

    def list_tags(self) -> list[str]:
        _, entries = self._read_index()
        return [d.annotations[REF_NAME] for d in entries if REF_NAME in d.annotations]

    def delete_manifest(self, digest: str) -> None:
        with self._lock:
            doc, entries = self._read_index()
            kept = [d for d in entries if d.digest != digest]
            if len(kept) == len(entries):
                raise NotFoundError(f"manifest {digest} is not listed in {self.root}/index.json")
            self._write_index(doc, kept)

    # -- referrers ---------------------------------------------------------------------

    def _all_manifests(self) -> list[Descriptor]:
        """Manifests reachable from index.json (entries and the entries of indexes)."""
        _, pending = self._read_index()
        seen: set[str] = set()
        found: list[Descriptor] = []
        while pending:
            desc = pending.pop(0)
            if desc.digest in seen or not self.blob_exists(desc.digest):
                continue
            seen.add(desc.digest)
            found.append(desc)
            if desc.media_type in INDEX_TYPES:
                pending.extend(self.fetch_manifest(desc.digest).manifests)
        return found

    def referrers(
        self, subject_digest: str, artifact_type: str | None = None, limit: int = MAX_REFERRERS
    ) -> list[Descriptor]:
        result: list[Descriptor] = []
        for desc in self._all_manifests():
            if len(result) >= limit:
                break
            if desc.media_type in INDEX_TYPES:
                continue
            manifest = self.fetch_manifest(desc.digest)
            subject = manifest.subject
            if subject is None or subject.digest != subject_digest:
                continue
            if artifact_type and manifest.artifact_type != artifact_type:
                continue
            result.append(manifest.referrer_descriptor())
        return result

    def push_referrer(
        self, data: bytes, media_type: str, *, force_tag_schema: bool = True
    ) -> ReferrerPush:
        manifest = parse_manifest_bytes(data, media_type)
        if manifest.subject is None:
            raise RegistryError("a referrer manifest must carry a subject")
        if sha256_digest(data) != manifest.digest:
            raise DigestMismatchError("manifest digest changed while pushing")
        self.push_blob(data, media_type)
        # as oras-go's layout store: annotations, and artifactType only if the manifest has one
        explicit = json.loads(data).get("artifactType")
        entry = Descriptor(
            media_type, manifest.digest, len(data), annotations=manifest.annotations,
            artifact_type=str(explicit or ""),
        )
        with self._lock:
            doc, entries = self._read_index()
            if not any(d.digest == entry.digest and REF_NAME not in d.annotations for d in entries):
                self._write_index(doc, [*entries, entry])
        return ReferrerPush(entry.plain(), LAYOUT_INDEX)
