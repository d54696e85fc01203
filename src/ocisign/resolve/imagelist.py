"""Image-list files (hangar format): one reference per line, with --registry/--project overrides.

Rules (hangar-cosign spec §1.2): each line is whitespace-trimmed; empty lines and lines
starting with ``#`` or ``//`` are skipped; a line of three whitespace-separated fields is a
mirror line, ignored with a warning. Other lines are ``[REGISTRY/][PROJECT/]NAME[:TAG]`` or
``...NAME@sha256:HEX``; a project is always present (``library`` by default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ocisign.batch import Job, in_shard
from ocisign.errors import InvalidReferenceError, OcisignError, UsageError
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
    return parse_image_list_text(_read(path).splitlines(), registry=registry, project=project)


def _read(path: Path | str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read image list {path}: {exc.strerror or exc}",
            "pass an existing image list file to -f/--file",
        ) from exc
    except UnicodeDecodeError as exc:
        line, byte = exc.object[: exc.start].count(b"\n") + 1, exc.object[exc.start]
        raise UsageError(
            f"image list {path}: line {line} is not UTF-8 text (byte 0x{byte:02x})",
            "save the image list as UTF-8, one reference per line",
        ) from None


@dataclass(frozen=True)
class Line:
    """One batch line: the reference to open, or the error its parsing gave."""

    text: str
    error: OcisignError | None = None


def batch_jobs(
    references: Sequence[str],
    image_list: Path | None,
    *,
    oci_layout: bool = False,
    registry: str | None = None,
    project: str | None = None,
    shard: tuple[int, int] | None = None,
) -> list[Job[Line]]:
    """Positional references (each its own line, parsed now), then the image-list lines;
    with ``shard`` (K, N) only the lines of shard K (``batch.in_shard``).

    With ``oci_layout`` the lines name layout folders: taken as written, no overrides.
    """
    jobs = _all_jobs(references, image_list, oci_layout=oci_layout, registry=registry,
                     project=project)
    return [job for job in jobs if in_shard(job.line, shard)]


def _all_jobs(
    references: Sequence[str],
    image_list: Path | None,
    *,
    oci_layout: bool,
    registry: str | None,
    project: str | None,
) -> list[Job[Line]]:
    jobs: list[Job[Line]] = []
    for number, text in enumerate(references, start=1):
        error: OcisignError | None = None
        if not oci_layout:
            try:
                parse_reference(text)
            except InvalidReferenceError as exc:
                error = exc
        jobs.append(Job(text, number, Line(text, error)))
    if image_list is None:
        return jobs
    if oci_layout:
        for number, raw in enumerate(_read(image_list).splitlines(), start=1):
            text = raw.strip()
            if text and not text.startswith(("#", "//")):
                jobs.append(Job(text, number, Line(text)))
        return jobs
    for entry in read_image_list(image_list, registry=registry, project=project):
        text = str(entry.reference) if entry.reference else entry.text
        jobs.append(Job(entry.text, entry.line_no, Line(text, entry.error)))
    return jobs
