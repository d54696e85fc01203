"""Bad input: one ``Error:`` line and one ``Hint:`` line, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from ocisign.oci import OCI_MANIFEST
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.sign.conftest import E2E_DIGEST, Env, Result


def _one_error(result: Result, code: int, text: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith("Warning:")]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Error: ") and text in lines[0], lines
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["-k", "nope"], 1, "signing key 'nope' not found"),
        (["-e", "3 days"], 2, "invalid expiry duration"),
        (["-e", "1.5s"], 2, "whole number of seconds"),
        (["-m", "io.cncf.notary.foo=1"], 2, "reserved prefix"),
        (["-m", "k="], 2, "non-empty key and value"),
        (["-m", "novalue"], 2, "is not KEY=VALUE"),
        (["-k", "e2e", "--plugin", "p", "--id", "x"], 2, "--key cannot be combined"),
        (["--id", "x"], 2, "--id and --plugin must be given together"),
        (["--timeout", "ten"], 2, "invalid --timeout duration"),
        (["--timestamp-url", "http://tsa.invalid"], 2, "missing [timestamp-root-cert]"),
        (["--signature-format", "jws", "--sigstore-key", "k.key"], 2, "--sigstore-key cannot"),
        (["--signature-format", "sigstore"], 2, "needs --sigstore-key"),
        (["--force-referrers-tag=false"], 2, "--oci-layout and --force-referrers-tag"),
        (["--force-referrers-tag=maybe"], 2, "invalid argument 'maybe'"),
        (["-f", "list.txt"], 2, "--oci-layout cannot be combined with -f"),
    ],
)
def test_usage_errors(env: Env, layout: Path, args: list[str], code: int, text: str) -> None:
    (env.root / "k.key").write_text("x")
    result = env.run("sign", "--oci-layout", f"{layout}@{E2E_DIGEST}", *args)
    _one_error(result, code, text)
    assert json.loads((layout / "index.json").read_text())["manifests"][1:] == []


@pytest.mark.parametrize("jobs", ["0", "65", "-3"])
def test_jobs_out_of_range_is_hangars_warning_and_one_worker(env: Env, layout: Path,
                                                              jobs: str) -> None:
    result = env.run("sign", "--oci-layout", f"{layout}@{E2E_DIGEST}", "-j", jobs)
    assert result.returncode == 0, result.stderr
    assert f"Warning: Invalid worker num: {jobs}, set to 1" in result.stderr
    assert "Successfully signed" in result.stdout


def test_jobs_default_is_hangars(env: Env) -> None:
    for command in ("sign", "validate"):
        text = " ".join(env.ok(command, "--help").stdout.split())
        assert "Parallel workers (1..64; outside: a warning and 1, as in hangar). [default: 1]" \
            in text, text


def test_nothing_to_sign(env: Env) -> None:
    _one_error(env.run("sign"), 2, "nothing to sign")
    _one_error(env.run("sign", "reg.example/Bad/Name:v1"), 2, "invalid reference")


def test_missing_cert_file(env: Env, layout: Path, tmp_path: Path) -> None:
    env.ok("key", "generate", "gone")
    stored = json.loads((env.config / "signingkeys.json").read_text())
    Path(next(k for k in stored["keys"] if k["name"] == "gone")["certPath"]).unlink()
    result = env.run("sign", "-k", "gone", "--oci-layout", f"{layout}:v1")
    _one_error(result, 1, "certificate file")


def test_missing_layout_tag(env: Env, layout: Path) -> None:
    _one_error(env.run("sign", "--oci-layout", f"{layout}:nope"), 1, "tag 'nope' not found")


@pytest.mark.integration
def test_unreachable_registry_fails_fast(env: Env) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    result = env.run("sign", f"127.0.0.1:{port}/a/b@{E2E_DIGEST}")
    assert time.monotonic() - start < 30
    _one_error(result, 1, "cannot reach registry")


@pytest.mark.integration
def test_missing_digest_and_tag(env: Env, registry: RunningRegistry) -> None:
    push_test_image(registry, "sign/err:v1")
    missing = env.run("sign", f"{registry.host}/sign/err@sha256:{'0' * 64}")
    assert missing.returncode == 1 and "Error:" in missing.stderr
    assert "Traceback" not in missing.stderr
    tag = env.run("sign", f"{registry.host}/sign/err:nope")
    assert tag.returncode == 1 and "Error:" in tag.stderr


def test_digest_mismatch(env: Env, fake_registry: FakeRegistry) -> None:
    """A registry serving other bytes than the digest asked for is refused, not signed."""
    wanted = "sha256:" + "ab" * 32
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    fake_registry.manifests[f"mismatch/app@{wanted}"] = (body, OCI_MANIFEST)
    result = env.run("sign", f"{fake_registry.host}/mismatch/app@{wanted}")
    _one_error(result, 1, "does not match")
    pushed = [k for k in fake_registry.manifests if k != f"mismatch/app@{wanted}"]
    assert pushed == []  # no signature manifest was pushed


def test_layout_folder_missing(env: Env, tmp_path: Path) -> None:
    _one_error(env.run("sign", "--oci-layout", f"{tmp_path / 'nope'}:v1"), 1,
               "is not an OCI image layout")
    _one_error(env.run("sign", "-f", str(tmp_path / "nope.txt")), 2, "cannot read image list")
