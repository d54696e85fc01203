"""Unit tests: reference parsing and image-list files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ocisign.errors import InvalidReferenceError, UsageError
from ocisign.oci.reference import Reference, is_loopback_host, parse_reference
from ocisign.registry.layout import parse_layout_reference
from ocisign.resolve.imagelist import parse_image_list_text, read_image_list

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", Reference("docker.io", "library/nginx")),
        ("nginx:1.25", Reference("docker.io", "library/nginx", "1.25")),
        ("user/app", Reference("docker.io", "user/app")),
        ("docker.io/nginx", Reference("docker.io", "library/nginx")),
        ("index.docker.io/user/app:v1", Reference("docker.io", "user/app", "v1")),
        ("localhost/x", Reference("localhost", "x")),
        ("localhost:5000/x:t", Reference("localhost:5000", "x", "t")),
        ("[::1]:5000/x", Reference("[::1]:5000", "x")),
        ("reg.io/a/b/c@" + D, Reference("reg.io", "a/b/c", None, D)),
        ("reg.io/a:v1@" + D, Reference("reg.io", "a", "v1", D)),
        ("Reg.IO/a", Reference("Reg.IO", "a")),
        ("reg.io:443/a-b/c_d/e__f/g.h", Reference("reg.io:443", "a-b/c_d/e__f/g.h")),
    ],
)
def test_parse_reference(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "reg.io/Upper",
        "reg.io/a@sha256:abc",
        "reg.io/a@md5:" + "a" * 32,
        "reg.io/a:bad/tag",
        "reg.io/a:-dash",
        "reg.io/",
        "reg.io/a b",
        "reg.io/a//b",
        "-bad.io/a",
        "reg.io/a__-b",
        "reg.io/" + "a" * 300,
    ],
)
def test_bad_references(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert info.value.exit_code == 2


def test_uppercase_hint() -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference("reg.io/MyApp:v1")
    assert "lowercase" in (info.value.hint or "")


def test_reference_helpers() -> None:
    ref = parse_reference("nginx", default_tag="latest")
    assert str(ref) == "docker.io/library/nginx:latest"
    assert ref.api_host == "registry-1.docker.io"
    pinned = ref.with_digest(D)
    assert str(pinned) == f"docker.io/library/nginx@{D}" and pinned.ref == D
    assert parse_reference(f"r.io/a@{D}", default_tag="latest").tag is None
    assert all(is_loopback_host(h) for h in ("localhost", "127.0.0.1:5000", "[::1]:5000"))
    assert not is_loopback_host("reg.io:5000")


def test_image_list_overrides(caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        "  # comment",
        "",
        "// another comment",
        "nginx",
        "user/app:v2 ",
        "reg.io/nginx",
        "reg.io/proj/name@" + D,
        "reg.io/proj/sub/name:t",
        "a/b/c",
        "src dest tag",
        "Bad/Upper",
        "two fields",
    ]
    with caplog.at_level(logging.WARNING):
        entries = parse_image_list_text(lines)
    assert "Ignore image list line 'src dest tag'" in caplog.text
    got = [(e.line_no, e.text, str(e.reference) if e.reference else None) for e in entries]
    assert got == [
        (4, "nginx", "docker.io/library/nginx:latest"),
        (5, "user/app:v2", "docker.io/user/app:v2"),
        (6, "reg.io/nginx", "reg.io/library/nginx:latest"),
        (7, "reg.io/proj/name@" + D, f"reg.io/proj/name@{D}"),
        (8, "reg.io/proj/sub/name:t", "reg.io/proj/sub/name:t"),
        (9, "a/b/c", "docker.io/a/b/c:latest"),
        (11, "Bad/Upper", None),
        (12, "two fields", None),
    ]
    assert all(isinstance(e.error, InvalidReferenceError) for e in entries[-2:])

    over = parse_image_list_text(lines[3:9], registry="127.0.0.1:5000", project="mirror")
    assert [str(e.reference) for e in over] == [
        "127.0.0.1:5000/mirror/nginx:latest",
        "127.0.0.1:5000/mirror/app:v2",
        "127.0.0.1:5000/mirror/nginx:latest",
        f"127.0.0.1:5000/mirror/name@{D}",
        "127.0.0.1:5000/mirror/sub/name:t",
        "127.0.0.1:5000/mirror/b/c:latest",
    ]
    assert over[0].text == "nginx"


def test_read_image_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("reg.io/p/a:1\n\nreg.io/p/b:2\n")
    assert [e.line_no for e in read_image_list(path)] == [1, 3]
    with pytest.raises(UsageError):
        read_image_list(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dir", (Path("dir"), None, None)),
        ("dir:v1", (Path("dir"), "v1", None)),
        ("./a:b/dir:v1", (Path("./a:b/dir"), "v1", None)),
        ("./a:b/dir", (Path("./a:b/dir"), None, None)),
        (f"dir@x@{D}", (Path("dir@x"), None, D)),
        (f"/tmp/x:y@{D}", (Path("/tmp/x:y"), None, D)),
    ],
)
def test_layout_reference(text: str, expected: tuple[Path, str | None, str | None]) -> None:
    assert parse_layout_reference(text) == expected


def test_layout_reference_bad_digest() -> None:
    with pytest.raises(UsageError):
        parse_layout_reference("dir@sha256:zz")
