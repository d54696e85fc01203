"""The formats table: one entry per format, read by the CLI, sign and validate."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ocisign import formats
from ocisign.cli import cli
from ocisign.errors import UsageError
from ocisign.formats import Attacher, Checker, LazyFormat, SignatureFormat, SignOptions
from tests.conftest import ROOT

TOY = LazyFormat("toy", "toy", False, "tests.toy_format:attacher", "tests.toy_format:checker",
                 "a toy format for the tests")


@pytest.fixture
def toy() -> Iterator[SignatureFormat]:
    formats.register(TOY)
    try:
        yield TOY
    finally:
        formats.unregister(TOY.name)


def test_the_built_in_table() -> None:
    assert formats.names() == ["sigstore", "jws", "cose"]
    assert formats.kinds() == ["sigstore", "notation"]
    assert {k: f.name for k, f in formats.by_kind().items()} == {
        "sigstore": "sigstore", "notation": "jws"}
    assert all(isinstance(formats.get(n), SignatureFormat) for n in formats.names())
    with pytest.raises(UsageError, match="unknown signature format 'pgp'"):
        formats.get("pgp")


def test_a_registered_format_is_offered_signed_and_checked(
    toy: SignatureFormat, tmp_path: Path, config_dir: Path
) -> None:
    runner = CliRunner()
    sign_help = runner.invoke(cli, ["sign", "--help"]).output
    assert "[sigstore|jws|cose|toy]" in sign_help
    assert "[sigstore|notation|toy|any]" in runner.invoke(cli, ["validate", "--help"]).output
    attacher = toy.attacher(SignOptions(), print)
    assert isinstance(attacher, Attacher)

    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    before = runner.invoke(cli, ["validate", "--oci-layout", f"{layout}:v1", "--type", "toy"])
    assert before.exit_code == 1 and "no toy signature" in before.output

    signed = runner.invoke(cli, ["sign", "--oci-layout", f"{layout}:v1",
                                 "--signature-format", "toy", "--output", "json"])
    assert signed.exit_code == 0, signed.output
    doc = json.loads(signed.stdout)
    assert doc["results"][0]["targets"][0]["format"] == "toy"
    assert doc["results"][0]["targets"][0]["mechanism"] == "oci-layout"

    after = runner.invoke(cli, ["validate", "--oci-layout", f"{layout}:v1", "--type", "toy"])
    assert after.exit_code == 0 and "PASS:" in after.output
    checker = toy.checker(formats.ValidateRequest(kind="toy"))
    assert isinstance(checker, Checker)


def test_config_json_signature_format_reads_the_table(
    toy: SignatureFormat, config_dir: Path, tmp_path: Path
) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text('{"signatureFormat": "toy"}')
    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    result = CliRunner().invoke(cli, ["sign", "--oci-layout", f"{layout}:v1"])
    assert result.exit_code == 0, result.output
    formats.unregister("toy")
    refused = CliRunner().invoke(cli, ["sign", "--oci-layout", f"{layout}:v1"])
    assert refused.exit_code == 1 and "signatureFormat 'toy' is not one of" in refused.output
