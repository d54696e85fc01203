"""Image-list files (hangar format): one reference per line, with --registry/--project overrides.

Rules (hangar-cosign spec §1.2): each line is whitespace-trimmed; empty lines and lines
starting with ``#`` or ``//`` are skipped; a line of three whitespace-separated fields is a
mirror line, ignored with a warning. Other lines are ``[REGISTRY/][PROJECT/]NAME[:TAG]`` or
``...NAME@sha256:HEX``; a project is always present (``library`` by default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ocisign.errors import InvalidReferenceError, UsageError
from ocisign.oci.reference import DOCKER_HUB, Reference, parse_reference

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageListEntry:
    """One usable line: its 1-based number, its original (trimmed) text, and the result.

    Exactly one of ``reference`` and ``error`` is set; a line that does not parse is kept so
    the batch can report it as failed under its original text.
    """

    line_no: int
    text: str
    reference: Reference | None = None
    error: InvalidReferenceError | None = None


def _is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def apply_overrides(text: str, registry: str | None = None, project: str | None = None) -> str:
    """Rewrite one image-list line as ``registry/project/name[:tag|@digest]`` (hangar rules)."""
    parts = [p for p in text.split("/") if p]
    if not parts:
        raise InvalidReferenceError(f"invalid image list line {text!r}")
    has_registry = len(parts) > 1 and _is_registry(parts[0])
    if has_registry:
        reg, rest = parts[0], parts[1:]
    else:
        reg, rest = DOCKER_HUB, parts
    if len(rest) == 1:
        proj, name = "library", rest[0]
    else:
        proj, name = rest[0], "/".join(rest[1:])
    return f"{registry or reg}/{project or proj}/{name}"


def parse_image_list_text(
    lines: Iterable[str], *, registry: str | None = None, project: str | None = None
) -> list[ImageListEntry]:
    """Parse image-list ``lines``; see the module docstring for the rules."""
    entries: list[ImageListEntry] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#") or text.startswith("//"):
            continue
        fields = text.split()
        if len(fields) == 3:
            log.warning("Ignore image list line %r: invalid format", text)
            continue
        try:
            if len(fields) != 1:
                raise InvalidReferenceError(f"invalid image list line {number}: {text!r}")
            reference = parse_reference(
                apply_overrides(text, registry, project), default_tag="latest"
            )
        except InvalidReferenceError as exc:
            entries.append(ImageListEntry(number, text, error=exc))
        else:
            entries.append(ImageListEntry(number, text, reference=reference))
    return entries


def read_image_list(
    path: Path | str, *, registry: str | None = None, project: str | None = None
) -> list[ImageListEntry]:
    """Read and parse an image-list file."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read image list {path}: {exc.strerror or exc}",
            "pass an existing image list file to -f/--file",
        ) from exc
    return parse_image_list_text(content.splitlines(), registry=registry, project=project)
