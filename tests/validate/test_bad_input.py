"""Issue 11, case 8 at the command line: malformed input is one named error line with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.validate.conftest import copy_layout, make_sigstore_key, validate


def _one_error(proc: object, *expected: str) -> None:
    stderr = proc.stderr  # type: ignore[attr-defined]
    assert proc.returncode in (1, 2), stderr  # type: ignore[attr-defined]
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    for text in expected:
        assert text in errors[0], stderr
    assert "unexpected" not in stderr and "Traceback" not in stderr
    assert any(line.startswith("Hint: ") for line in stderr.splitlines()), stderr


def test_deeply_nested_trust_policy(tmp_path: Path) -> None:
    policy = tmp_path / "deep.json"
    policy.write_text('{"version": "1.0", "trustPolicies": ' + "[" * 100_000 + "]" * 100_000 + "}")
    layout = copy_layout("e2e", tmp_path)
    proc = validate("--oci-layout", f"{layout}:v1", "--trust-policy", str(policy))
    _one_error(proc, str(policy), "malformed trust policy JSON")


@pytest.mark.parametrize("content", [b"localhost:5000/a:v1\n\xff\xfe bad\n", b"\xe9t\xe9:v1\n"])
def test_non_utf8_image_list(tmp_path: Path, content: bytes) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(content)
    key = make_sigstore_key(tmp_path / "k.pub")
    proc = validate("-f", str(listing), "--sigstore-pubkey", str(key.pub_path))
    _one_error(proc, str(listing), "is not UTF-8 text", "line ")
