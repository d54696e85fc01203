"""Image references ``registry/repo[:tag][@digest]``, parsed and normalised as docker does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocisign.errors import InvalidReferenceError
from ocisign.oci import is_digest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

# distribution's reference grammar (github.com/distribution/reference regexp.go), ASCII only,
# always matched whole (``fullmatch``: ``$`` would let a trailing newline through)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
REFERENCE_HINT = "write the reference as REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]"


@dataclass(frozen=True)
class Reference:
    """A parsed image reference, ``registry/repository[:tag][@digest]``.

    ``tag`` and ``digest`` may both be set (the digest wins).
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def ref(self) -> str | None:
        """What to ask the registry for: the digest if known, else the tag (may be None)."""
        return self.digest or self.tag

    @property
    def api_host(self) -> str:
        """The host:port the distribution API is served on (docker.io -> registry-1.docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def is_loopback(self) -> bool:
        """True for localhost, 127.0.0.1 and [::1] (any port)."""
        return is_loopback_host(self.registry)

    def with_digest(self, digest: str) -> Reference:
        """This reference pinned to ``digest`` (the tag is dropped)."""
        return Reference(self.registry, self.repository, None, digest)

    def with_tag(self, tag: str) -> Reference:
        """This reference with ``tag`` and no digest."""
        return Reference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_loopback_host(host: str) -> bool:
    """True if ``host`` (optionally with a port) is localhost, 127.0.0.1 or [::1]."""
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in _LOOPBACK


def _split_domain(name: str) -> tuple[str, str]:
    """Split ``name`` into (registry, remainder) with docker's rules."""
    first, sep, rest = name.partition("/")
    if sep and (any(c in first for c in ".:[") or first == "localhost" or first != first.lower()):
        registry = "docker.io" if first == "index.docker.io" else first
        return registry, rest
    return DOCKER_HUB, name


def parse_reference(text: str, *, default_tag: str | None = None) -> Reference:
    """Parse ``registry/repo[:tag][@digest]``.

    ``nginx`` becomes ``docker.io/library/nginx``; ``localhost:5000/x``, ``reg.io/x`` and
    ``[::1]:5000/x`` keep their registry. Raises InvalidReferenceError with the reason otherwise.
    ``default_tag`` is applied only when neither tag nor digest is given.
    """
    raw = text  # as written: no trimming (containers/image parses signatures so)
    if not raw:
        raise InvalidReferenceError("empty image reference", REFERENCE_HINT)
    if any(c.isspace() for c in raw):
        raise InvalidReferenceError(
            f"invalid reference {text!r}: contains whitespace", REFERENCE_HINT
        )
    if not raw.isascii():
        raise InvalidReferenceError(
            f"invalid reference {text!r}: contains non-ASCII characters", REFERENCE_HINT
        )
    rest, at, digest = raw.partition("@")
    if at and not is_digest(digest):
        raise InvalidReferenceError(
            f"invalid reference {text!r}: bad digest {digest!r}",
            "a digest is sha256: followed by 64 lowercase hex characters",
        )
    registry, remainder = _split_domain(rest)
    tag: str | None = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReferenceError(
                f"invalid reference {text!r}: bad tag {tag!r}",
                "a tag is up to 128 of A-Z a-z 0-9 _ . - and does not start with . or -",
            )
    if not _DOMAIN_RE.fullmatch(registry):
        raise InvalidReferenceError(
            f"invalid reference {text!r}: bad registry {registry!r}", REFERENCE_HINT
        )
    if not remainder:
        raise InvalidReferenceError(
            f"invalid reference {text!r}: no repository name", REFERENCE_HINT
        )
    for component in remainder.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            hint = REFERENCE_HINT
            if component.lower() != component:
                hint = "repository names must be lowercase"
            raise InvalidReferenceError(
                f"invalid reference {text!r}: bad repository component {component!r}", hint
            )
    if registry == DOCKER_HUB and "/" not in remainder:
        remainder = f"library/{remainder}"
    if len(f"{registry}/{remainder}") > 255:
        raise InvalidReferenceError(f"invalid reference {text!r}: name longer than 255 characters")
    if tag is None and not at and default_tag:
        tag = default_tag
    return Reference(registry, remainder, tag, digest if at else None)
