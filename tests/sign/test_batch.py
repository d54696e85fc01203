"""Batch signing from an image list (hangar's format) against the real registry."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ocisign.oci import NOTARY_SIGNATURE
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.sign.conftest import Env

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _count(registry: RunningRegistry, repo: str, digests: list[str]) -> int:
    store = registry.client().store(f"{registry.host}/{repo}")
    return sum(len(store.referrers(d, NOTARY_SIGNATURE)) for d in digests)


def test_batch_list(env: Env, registry: RunningRegistry, tmp_path: Path) -> None:
    host = registry.host
    single = push_test_image(registry, "batch/single:v1")
    multi = push_test_image(registry, "batch/multi:v1", ("amd64", "arm64", "s390x"))
    store = registry.client().store(f"{host}/batch/multi")
    platforms = [d.digest for d in store.fetch_manifest(multi).manifests]
    bad = [
        f"{host}/batch/missing:v1",
        f"{host}/batch/UPPER:v1",
        "two fields",
        f"127.0.0.1:{_closed_port()}/batch/away:v1",
    ]
    lines = [
        "# a comment",
        f"{host}/batch/single:v1",
        "// another comment",
        bad[0],
        "",
        "src.io/a/b dst.io/a/b v1",  # hangar mirror format: ignored with a warning
        f"{host}/batch/multi:v1",
        bad[1],
        f"{host}/batch/single@{single}",  # the same digest again: signed once
        bad[2],
        bad[3],
    ]
    listing = tmp_path / "images.txt"
    listing.write_text("\n".join(lines) + "\n")
    failed = tmp_path / "failed.txt"
    args = ["sign", "-f", str(listing), "-j", "8", "-a", "amd64,arm64", "-o", str(failed)]

    first = env.run(*args)
    assert first.returncode == 1, first.stderr
    assert "Error: some images failed to sign" in first.stderr
    assert f"Hint: fix the causes above, then re-run with -f {failed}" in first.stderr
    assert "Ignore image list line 'src.io/a/b dst.io/a/b v1': invalid format" in first.stderr
    assert "signed 2, already signed 1, skipped 0, failed 4" in first.stderr
    assert "Traceback" not in first.stderr
    assert failed.read_text() == "\n".join(bad) + "\n"  # original text, list order
    signed = {line.split()[2] for line in first.stdout.splitlines()  # then "(line N)" if late
              if line.startswith("Successfully signed")}
    assert signed == {f"{host}/batch/single@{single}", f"{host}/batch/multi@{multi}",
                      *(f"{host}/batch/multi@{d}" for d in platforms[:2])}
    assert _count(registry, "batch/single", [single]) == 1  # the duplicate line: once
    assert _count(registry, "batch/multi", [multi, *platforms]) == 3  # s390x filtered out

    refailed = env.run("sign", "-f", str(failed), "-o", str(tmp_path / "again.txt"))
    assert refailed.returncode == 1
    assert (tmp_path / "again.txt").read_text() == failed.read_text()

    second = env.run(*args, "--output", "json")
    assert second.returncode == 1
    doc = json.loads(second.stdout)
    assert doc["summary"]["signed"] == 0 and doc["summary"]["failed"] == 4
    assert doc["summary"]["alreadySigned"] == 3
    good = [r for r in doc["results"] if r["status"] != "failed"]
    assert {t["status"] for r in good for t in r["targets"]} == {"already signed"}
    assert _count(registry, "batch/single", [single]) == 1
    assert _count(registry, "batch/multi", [multi, *platforms]) == 3
    bad_rows = [r for r in doc["results"] if r["status"] == "failed"]
    assert [r["reference"] for r in bad_rows] == bad and all(r["message"] for r in bad_rows)
    assert [r["lineNo"] for r in bad_rows] == [4, 8, 10, 11]
    # the ocisign.errors class behind each failure (missing, bad name x2, closed port)
    assert [r["errorKind"] for r in bad_rows] == [
        "NotFoundError", "InvalidReferenceError", "InvalidReferenceError", "NetworkError"]
    assert all(r["errorKind"] is None for r in good)


def test_positional_and_list_combined_all_good(
    env: Env, registry: RunningRegistry, tmp_path: Path
) -> None:
    host = registry.host
    one = push_test_image(registry, "batch/combo-a:v1")
    two = push_test_image(registry, "batch/combo-b:v1", ("arm64",))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{host}/batch/combo-b:v1\n")
    out = env.run("sign", f"{host}/batch/combo-a@{one}", "-f", str(listing), "-a", "amd64")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"Successfully signed {host}/batch/combo-a@{one}\n"
    assert "Skip sign image" in out.stderr and "no available image for specified arch" in (
        out.stderr)
    assert "signed 1, already signed 0, skipped 1, failed 0" in out.stderr
    assert not (tmp_path / "sign-failed.txt").exists()
    assert _count(registry, "batch/combo-b", [two]) == 0


def test_unauthorised_line_then_fixed(
    env: Env, registry: RunningRegistry, registry_basic: RunningRegistry, tmp_path: Path
) -> None:
    good = push_test_image(registry, "batch/auth-good:v1")
    locked = push_test_image(registry_basic, "batch/auth-locked:v1")
    listing = tmp_path / "list.txt"
    locked_line = f"{registry_basic.host}/batch/auth-locked:v1"
    listing.write_text(f"{registry.host}/batch/auth-good:v1\n{locked_line}\n")
    failed = tmp_path / "sign-failed.txt"
    first = env.run("sign", "-f", str(listing), "--skip-login")
    assert first.returncode == 1 and "some images failed to sign" in first.stderr
    assert failed.read_text() == locked_line + "\n"
    assert _count(registry, "batch/auth-good", [good]) == 1
    assert registry_basic.username and registry_basic.password
    fixed = env.run("sign", "-f", str(failed), env=env.env(
        OCISIGN_USERNAME=registry_basic.username, OCISIGN_PASSWORD=registry_basic.password))
    assert fixed.returncode == 0, fixed.stderr
    assert "signed 1, already signed 0, skipped 0, failed 0" in fixed.stderr
    assert _count(registry_basic, "batch/auth-locked", [locked]) == 1
    assert registry_basic.password not in first.stderr + fixed.stderr
