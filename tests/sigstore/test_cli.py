"""``ocisign sign --sigstore-key`` end to end: the real CLI in a subprocess, a real registry,
skopeo as the verifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env, run_ocisign
from tests.fixtures.registry import RunningRegistry, free_port, push_test_image

from .conftest import SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB, accepts

pytestmark = pytest.mark.integration
KEY_ARGS = ("--sigstore-key", str(SKOPEO_KEY), "--sigstore-passphrase-file", str(SKOPEO_PASS))


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No registry credentials or passphrases from the environment; empty docker config."""
    out = cli_env(DOCKER_CONFIG=str(tmp_path / "docker"), OCISIGN_CONFIG_DIR=str(tmp_path / "cfg"))
    for name in (
        "OCISIGN_USERNAME",
        "OCISIGN_PASSWORD",
        "NOTATION_USERNAME",
        "NOTATION_PASSWORD",
        "COSIGN_PASSWORD",
        "OCISIGN_KEY_PASSPHRASE",
    ):
        out.pop(name, None)
    out.update(extra)
    return out


def sign_json(*args: str, environ: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    proc = run_ocisign("sign", *KEY_ARGS, "--output", "json", *args, env=environ)
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


def test_sign_references(registry: RunningRegistry, skopeo: Path, tmp_path: Path) -> None:
    host = registry.host
    push_test_image(registry, "cli/app:v1", ("amd64", "arm64"))
    solo = push_test_image(registry, "cli/solo:v1")
    refs = (f"{host}/cli/app:v1", f"{host}/cli/solo@{solo}")
    proc = run_ocisign("sign", *KEY_ARGS, *refs, env=env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Successfully signed") == 4  # index + 2 platforms + solo
    assert f"Successfully signed {host}/cli/solo@{solo}" in proc.stdout
    assert "Always sign the artifact using digest" in proc.stderr  # the tag reference
    assert accepts(skopeo, refs[0], [SKOPEO_PUB], "matchRepoDigestOrExact", all_instances=True)
    assert accepts(skopeo, refs[1], [SKOPEO_PUB], "matchRepoDigestOrExact")
    again = run_ocisign("sign", *KEY_ARGS, *refs, env=env(tmp_path))
    assert again.returncode == 0 and "Successfully signed" not in again.stdout


def test_sign_list_bad_lines_rerun_and_nothing_new(
    registry: RunningRegistry, registry_basic: RunningRegistry, skopeo: Path, tmp_path: Path
) -> None:
    host, basic = registry.host, registry_basic.host
    good = []
    for i in range(6):
        archs = ("amd64", "arm64") if i % 2 else ("amd64",)
        push_test_image(registry, f"clilist/img{i}:v1", archs)
        good.append(f"{host}/clilist/img{i}:v1")
    push_test_image(registry_basic, "clilist/locked:v1")
    bad = [
        f"127.0.0.1:{free_port()}/clilist/gone:v1",  # unreachable
        f"{host}/clilist/missing:v1",  # missing
        f"{host}/clilist/BAD:tag",  # malformed
        f"{basic}/clilist/locked:v1",  # unauthorised
    ]
    lines = ["# list", *good[:3], bad[0], "src dest tag", bad[1], *good[3:], bad[2], bad[3]]
    image_list, failed = tmp_path / "list.txt", tmp_path / "failed.txt"
    image_list.write_text("\n".join(lines) + "\n")

    code, doc, stderr = sign_json(
        "-f", str(image_list), "-j", "8", "-o", str(failed), environ=env(tmp_path)
    )
    assert code == 1 and "some images failed to sign" in stderr
    assert failed.read_text() == "".join(f"{line}\n" for line in bad)
    assert doc["summary"]["signed"] == 6 and doc["summary"]["failed"] == 4
    for ref in good:
        assert accepts(skopeo, ref, [SKOPEO_PUB], "matchRepoDigestOrExact", all_instances=True)

    # fix the missing image and the credentials, re-run with the failed file
    push_test_image(registry, "clilist/missing:v1")
    creds = {
        "OCISIGN_USERNAME": registry_basic.username or "",
        "OCISIGN_PASSWORD": registry_basic.password or "",
    }
    failed2 = tmp_path / "failed2.txt"
    code, doc, _ = sign_json(
        "-f", str(failed), "-j", "8", "-o", str(failed2), environ=env(tmp_path, **creds)
    )
    assert code == 1
    assert doc["summary"]["signed"] == 2 and doc["summary"]["failed"] == 2
    assert failed2.read_text() == f"{bad[0]}\n{bad[2]}\n"
    assert accepts(skopeo, bad[1], [SKOPEO_PUB], "matchRepoDigestOrExact")

    # a second full run signs nothing new
    code, doc, _ = sign_json(
        "-f",
        str(image_list),
        "-j",
        "8",
        "-o",
        str(tmp_path / "f3.txt"),
        environ=env(tmp_path, **creds),
    )
    assert doc["summary"]["signed"] == 0
    assert doc["summary"]["alreadySigned"] == 8
