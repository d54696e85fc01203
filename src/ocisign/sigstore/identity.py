"""containers-policy ``signedIdentity`` rules on plain reference strings.

A rule decides whether a signature's ``docker-reference`` is acceptable for the image as the
user addressed it, exactly as containers/image (skopeo, podman) decides: both sides are
normalised like Docker references (``busybox`` is ``docker.io/library/busybox``, the
legacy ``index.docker.io`` is ``docker.io``), the image reference gets the default tag
``latest`` when it has neither tag nor digest (what the docker transport does), and a
signature reference that cannot be parsed never matches.

- matchRepoDigestOrExact: the signature's reference carries a tag or digest; it equals
  the image reference if that has a tag, else it names the same repository.
- matchRepository: same repository. matchExact: tag or digest, and equal references.
- exactReference(R): tag or digest, equal to R. exactRepository(R): repository R.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ocisign.errors import InvalidReferenceError, UsageError
from ocisign.oci.reference import parse_reference

IdentityMatcher = Callable[[str, str], bool]
"""``matcher(image_ref, signature_ref) -> accepted``."""

_HEX64_RE = re.compile(r"[a-f0-9]{64}")


@dataclass(frozen=True)
class _Ref:
    name: str  # normalised repository, e.g. docker.io/library/busybox
    tag: str
    digest: str

    @property
    def name_only(self) -> bool:
        return not self.tag and not self.digest

    def __str__(self) -> str:
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def _parse(ref: str) -> _Ref:
    """Parse like distribution's ``ParseNormalizedNamed``; ValueError if invalid."""
    if _HEX64_RE.fullmatch(ref):
        raise ValueError("a 64-character hex string is an image ID, not a repository name")
    try:
        parsed = parse_reference(ref)
    except InvalidReferenceError as exc:
        raise ValueError(exc.message) from None
    return _Ref(parsed.name, parsed.tag or "", parsed.digest or "")


def _image(image_ref: str) -> _Ref:
    ref = image_ref.removeprefix("docker://")
    try:
        parsed = _parse(ref)
    except ValueError as exc:
        raise InvalidReferenceError(f"invalid image reference {image_ref!r}: {exc}") from None
    return _Ref(parsed.name, "latest", "") if parsed.name_only else parsed


def _signature(signature_ref: str) -> _Ref | None:
    try:
        return _parse(signature_ref)
    except ValueError:
        return None


def match_repo_digest_or_exact(image_ref: str, signature_ref: str) -> bool:
    """containers-policy ``matchRepoDigestOrExact`` (the default ``signedIdentity``)."""
    image, sig = _image(image_ref), _signature(signature_ref)
    if sig is None or sig.name_only:
        return False
    if image.tag:
        return str(sig) == str(image)
    return sig.name == image.name


def match_repository(image_ref: str, signature_ref: str) -> bool:
    """containers-policy ``matchRepository``: the same repository, tag/digest ignored."""
    image, sig = _image(image_ref), _signature(signature_ref)
    return sig is not None and sig.name == image.name


def match_exact(image_ref: str, signature_ref: str) -> bool:
    """containers-policy ``matchExact``: the same reference, tag or digest included."""
    image, sig = _image(image_ref), _signature(signature_ref)
    return sig is not None and not sig.name_only and str(sig) == str(image)


def exact_reference(ref: str) -> IdentityMatcher:
    """containers-policy ``exactReference``: the signature must name exactly ``ref``."""
    try:
        wanted = _parse(ref)
    except ValueError as exc:
        raise InvalidReferenceError(f"invalid exactReference {ref!r}: {exc}") from None
    if wanted.name_only:
        raise InvalidReferenceError(f"exactReference {ref!r} has neither a tag nor a digest")

    def matcher(image_ref: str, signature_ref: str) -> bool:
        sig = _signature(signature_ref)
        return sig is not None and not sig.name_only and str(sig) == str(wanted)

    return matcher


def exact_repository(repo: str) -> IdentityMatcher:
    """containers-policy ``exactRepository``: the signature must name repository ``repo``."""
    try:
        wanted = _parse(repo)
    except ValueError as exc:
        raise InvalidReferenceError(f"invalid exactRepository {repo!r}: {exc}") from None

    def matcher(image_ref: str, signature_ref: str) -> bool:
        sig = _signature(signature_ref)
        return sig is not None and sig.name == wanted.name

    return matcher


def identity_rule(rule: str, value: str = "") -> IdentityMatcher:
    """The matcher for a containers-policy rule name (``value`` for the exact* rules)."""
    simple: dict[str, IdentityMatcher] = {
        "matchRepoDigestOrExact": match_repo_digest_or_exact,
        "matchRepository": match_repository,
        "matchExact": match_exact,
    }
    if rule in simple:
        return simple[rule]
    if rule == "exactReference":
        return exact_reference(value)
    if rule == "exactRepository":
        return exact_repository(value)
    raise UsageError(
        f"unknown signedIdentity rule {rule!r}",
        "use matchRepoDigestOrExact, matchRepository, matchExact, exactReference or "
        "exactRepository",
    )
