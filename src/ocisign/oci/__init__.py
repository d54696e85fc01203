"""OCI data shapes shared by every layer: media types, descriptors, digests."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ocisign.errors import DigestMismatchError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"
NOTARY_PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"
JWS_MEDIA_TYPE = "application/jose+json"
COSE_MEDIA_TYPE = "application/cose"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    """True for a well-formed ``sha256:``/``sha384:``/``sha512:`` digest."""
    return bool(_DIGEST_RE.fullmatch(value))


def check_digest(data: bytes, digest: str) -> None:
    """Raise DigestMismatchError unless ``data`` hashes to ``digest``."""
    algo, _, expected = digest.partition(":")
    if algo not in ("sha256", "sha384", "sha512"):
        raise DigestMismatchError(f"unsupported digest algorithm in {digest!r}")
    actual = hashlib.new(algo, data).hexdigest()
    if actual != expected:
        raise DigestMismatchError(
            f"content digest {algo}:{actual} does not match the expected {digest}"
        )


@dataclass(frozen=True)
class Platform:
    """An OCI platform (architecture/os/variant)."""

    architecture: str = ""
    os: str = ""
    variant: str = ""
    os_version: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Platform | None:
        if not data:
            return None
        return cls(
            architecture=str(data.get("architecture", "")),
            os=str(data.get("os", "")),
            variant=str(data.get("variant", "")),
            os_version=str(data.get("os.version", "")),
        )

    def to_dict(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor. ``to_dict`` keeps the OCI field order."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str = ""
    platform: Platform | None = None

    @classmethod
    def of(cls, data: bytes, media_type: str, **kwargs: Any) -> Descriptor:
        """The descriptor of ``data``."""
        return cls(media_type=media_type, digest=sha256_digest(data), size=len(data), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Descriptor:
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=str(data["digest"]),
            size=int(data["size"]),
            annotations=dict(data.get("annotations") or {}),
            artifact_type=str(data.get("artifactType", "")),
            platform=Platform.from_dict(data.get("platform")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["digest"] = self.digest
        out["size"] = self.size
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        return out

    def plain(self) -> Descriptor:
        """Only mediaType, digest and size (what a signature's subject carries)."""
        return Descriptor(self.media_type, self.digest, self.size)
