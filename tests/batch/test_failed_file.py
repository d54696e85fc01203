"""The failed file: only for -f input or when -o is given; -o FORMAT is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli_env, run_ocisign
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import push_test_image
from tests.validate.conftest import make_sigstore_key


@pytest.mark.parametrize("value", ["json", "text", "yaml", "YAML"])
def test_output_format_as_failed_file_is_a_usage_error(tmp_path: Path, value: str) -> None:
    for command in ("sign", "validate"):
        done = run_ocisign(command, "-o", value, "reg.example/app:v1", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "names the failed-lines file, not an output format" in done.stderr
        assert "Hint: for a JSON document on stdout use --output json" in done.stderr
        assert not (tmp_path / value).exists()


def test_failed_file_only_for_a_list_or_when_asked(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    ref = f"{fake_registry.host}/ff/app@{push_test_image(fake_registry, 'ff/app:v1')}"
    pub = make_sigstore_key(tmp_path / "k.pub").pub_path
    env = cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"))
    flags = ("--insecure-registry", "--sigstore-pubkey", str(pub))
    one = run_ocisign("validate", ref, *flags, env=env, cwd=tmp_path)
    assert one.returncode == 1 and "the FAIL lines above say why" in one.stderr
    assert not list(tmp_path.glob("*failed*"))  # one reference: no failed file
    listing = tmp_path / "list.txt"
    listing.write_text(ref + "\n")
    run_ocisign("validate", "-f", str(listing), *flags, env=env, cwd=tmp_path)
    assert (tmp_path / "validate-failed.txt").read_text() == ref + "\n"
    assert not (tmp_path / "sign-failed.txt").exists()
    asked = run_ocisign("validate", ref, *flags, "-o", "mine.txt", env=env, cwd=tmp_path)
    assert asked.returncode == 1 and "rerun with -f mine.txt" in asked.stderr
    assert (tmp_path / "mine.txt").read_text() == ref + "\n"
