"""``LayoutStore``: the Store interface over an OCI image layout directory.

Blobs live under ``blobs/<alg>/<hex>``; ``index.json`` lists manifests, tagged with
``org.opencontainers.image.ref.name``. Referrers are found by scanning manifests whose
``subject`` is the target; pushing a referrer appends an untagged descriptor to
``index.json`` (rewritten atomically: tagged entries first, then untagged).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ocisign.errors import DigestMismatchError, NotFoundError, RegistryError, UsageError
from ocisign.oci import INDEX_TYPES, OCI_INDEX, Descriptor, check_digest, is_digest, sha256_digest
from ocisign.registry.store import (
    LAYOUT_INDEX,
    Manifest,
    ReferrerPush,
    parse_manifest_bytes,
)
from ocisign.util.fs import atomic_write

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'
_LOCKS: dict[Path, threading.Lock] = {}  # one index.json writer per directory in this process
_LOCKS_GUARD = threading.Lock()


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
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX}, []
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot read {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise RegistryError(f"{path} is not a JSON object")
        entries = [Descriptor.from_dict(d) for d in doc.get("manifests") or []]
        return doc, entries

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
            raise RegistryError(f"not a digest: {digest!r}")
        algo, _, hexpart = digest.partition(":")
        return self.root / "blobs" / algo / hexpart

    def blob_exists(self, digest: str) -> bool:
        return self._blob_path(digest).is_file()

    def fetch_blob(self, digest: str, *, max_bytes: int | None = None) -> bytes:
        path = self._blob_path(digest)
        try:
            if max_bytes is not None and path.stat().st_size > max_bytes:
                raise RegistryError(
                    f"blob {digest} in {self.root} is larger than {max_bytes} bytes"
                )
            data = path.read_bytes()
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
        if not (self.root / "index.json").is_file():
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

    def referrers(self, subject_digest: str, artifact_type: str | None = None) -> list[Descriptor]:
        result: list[Descriptor] = []
        for desc in self._all_manifests():
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
