"""From what the user named to the manifests to sign or verify.

One reference may cover several targets: a multi-arch index and the platform manifests
that pass ``--arch``/``--os`` (hangar's filter), or a single image whose platform comes
from its config blob. ``sign`` and ``validate`` both use this.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocisign.errors import RegistryError, UsageError
from ocisign.oci import DOCKER_SCHEMA1, OCI_CONFIG, Descriptor, Platform
from ocisign.registry.store import image_platform, platform_matches, select_platforms

if TYPE_CHECKING:
    from ocisign.registry import StoreTarget
    from ocisign.registry.store import Manifest, Store

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


@dataclass(frozen=True)
class Target:
    """One manifest to sign or verify."""

    descriptor: Descriptor  # mediaType, digest, size of the manifest
    platform: Platform | None = None
    is_index: bool = False


@dataclass(frozen=True)
class Resolved:
    """A reference resolved in its store, with its targets (possibly none: skipped)."""

    store: Store
    name: str  # registry/repository, or the layout folder
    user_ref: str  # the tag or digest the user wrote
    root: Descriptor  # what the reference resolves to
    targets: list[Target]

    @property
    def by_tag(self) -> bool:
        return not self.user_ref.startswith(("sha256:", "sha384:", "sha512:"))

    def display(self, digest: str | None = None) -> str:
        """``name@digest`` (the root digest by default)."""
        return f"{self.name}@{digest or self.root.digest}"

    @property
    def user_reference(self) -> str:
        """The reference as the user addressed it (``name:tag`` or ``name@digest``)."""
        sep = ":" if self.by_tag else "@"
        return f"{self.name}{sep}{self.user_ref}"


def resolve_targets(
    opened: StoreTarget,
    *,
    expand: bool,
    archs: Collection[str] = (),
    oses: Collection[str] = (),
    include_index: bool = True,
) -> Resolved:
    """Resolve ``opened`` and list its targets.

    ``expand=False`` (notation's way): the one manifest the reference names.
    ``expand=True`` (hangar's way): an index and its platform manifests passing the
    filter (the index itself only with ``include_index``), or a single image if its
    platform passes; an empty list means "skipped: no matching platform".
    """
    if not opened.ref:
        raise UsageError(
            f"{opened.display}: no tag or digest given",
            hint="name the artifact as NAME:TAG or NAME@sha256:<digest>",
        )
    store = opened.store
    manifest = store.fetch_manifest(opened.ref)
    root = manifest.descriptor.plain()
    if manifest.media_type == DOCKER_SCHEMA1:
        raise RegistryError(
            f"{opened.display}: unsupported to sign for deprecated image MIME type "
            f"{DOCKER_SCHEMA1}",
            hint="convert the image to an OCI or Docker schema 2 manifest first",
        )
    name = opened.name
    if not expand:
        return Resolved(store, name, opened.ref, root, [Target(root, None, manifest.is_index)])
    if manifest.is_index:
        targets = [Target(root, None, True)] if include_index else []
        targets += [
            Target(d.plain(), d.platform)
            for d in _select(manifest, archs, oses)
        ]
        return Resolved(store, name, opened.ref, root, targets)
    platform = _image_platform(store, manifest)

    keep = platform_matches(platform, archs, oses)
    return Resolved(store, name, opened.ref, root, [Target(root, platform)] if keep else [])


def _select(index: Manifest, archs: Collection[str], oses: Collection[str]) -> list[Descriptor]:
    return select_platforms(index, archs, oses)


def _image_platform(store: Store, manifest: Manifest) -> Platform | None:
    cfg = manifest.config
    if cfg is None or cfg.media_type not in (OCI_CONFIG, DOCKER_CONFIG):
        return None  # an artifact, not an image: no platform to filter on

    return image_platform(store, manifest)
