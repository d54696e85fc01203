"""Every ``--output json`` document validates against its schema in docs/schemas/.

The test iterates over the schema files: each names the command lines that produce its
documents (``x-ocisign-runs``: ``args`` with placeholders from :func:`places`, and the
expected exit code). A command with ``--output json`` that no schema runs fails the
coverage test, so a new command brings its schema along.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from jsonschema import Draft202012Validator

from tests.boot.conftest import ROOT_HASH, SIGN_CONFIG, make_pe, write_artifacts
from tests.conftest import DATA, cli_commands, cli_env, run_ocisign
from tests.fixtures.pkcs11 import MODULE, PIN, make_token, softhsm_conf
from tests.notary.conftest import make_store

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))
LAYOUTS = DATA / "notation" / "oci-layouts"
E2E_KEY = DATA / "notation" / "keys" / "e2e.key"
E2E_CRT = DATA / "notation" / "keys" / "e2e.crt"
SUBJECT = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
VERIFY_TIME = "2026-01-02T03:04:05Z"  # the e2e vectors' signatures are valid then


def places(tmp: Path) -> dict[str, str]:
    """A config dir (key ``e2e`` default, ``spare``; the e2e trust policy and trust store),
    OCI layouts and a boot artifacts folder; the placeholders naming them."""
    config = tmp / "config"
    env = cli_env(OCISIGN_CONFIG_DIR=str(config))
    for name in ("e2e", "spare"):
        done = run_ocisign("key", "add", name, "--key-file", str(E2E_KEY), "--cert-file",
                           str(E2E_CRT), "--default", env=env)
        assert done.returncode == 0, done.stderr
    shutil.copy(DATA / "trust" / "trustpolicies" / "trustpolicy.json", config)
    make_store(config / "truststore", {"ca:e2e": [DATA / "trust" / "keys" / "e2e.crt"]})
    for name in ("e2e", "e2e-valid-signature", "e2e-invalid-signature"):
        shutil.copytree(LAYOUTS / name, tmp / name)
    (tmp / "pass").write_text("schema test\n")
    boot = tmp / "boot"
    write_artifacts(boot / "out" / "artifacts", {
        "ukis/vmlinuz.efi": (make_pe(), "ukis"),
        "verity-hash/root.hash": (ROOT_HASH.encode(), "verity-hash"),
    })
    (boot / "sign.yaml").write_text(SIGN_CONFIG)
    if shutil.which("softhsm2-util") and Path(MODULE).exists():  # a token of our own
        make_token(softhsm_conf(tmp / "softhsm"), "schema", {"k": ("EC:prime256v1", "01")})
    return {
        "tmp": str(tmp), "layout": str(tmp / "e2e"), "subject": SUBJECT,
        "signed_layout": str(tmp / "e2e-valid-signature"),
        "invalid_layout": str(tmp / "e2e-invalid-signature"),
        "e2e_key": str(E2E_KEY), "e2e_crt": str(E2E_CRT), "passfile": str(tmp / "pass"),
        "boot": str(boot), "softhsm": MODULE,
    }


def _schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return schema


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_command_output_matches_schema(path: Path, tmp_path: Path) -> None:
    schema = _schema(path)
    assert schema["properties"]["schemaVersion"] == {"const": 1}
    runs = schema.get("x-ocisign-runs")
    assert runs, f"{path.name} names no x-ocisign-runs"
    values = places(tmp_path)
    env = cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"), OCISIGN_VERIFY_TIME=VERIFY_TIME,
                  SOFTHSM2_CONF=str(tmp_path / "softhsm" / "softhsm2.conf"),
                  OCISIGN_PKCS11_PIN=PIN)
    validator = Draft202012Validator(schema)
    for run in runs:
        args = [arg.format(**values) for arg in run["args"]]
        done = run_ocisign(*args, env=env, cwd=tmp_path)
        assert done.returncode == run["exit"], (args, done.stdout, done.stderr)
        doc = json.loads(done.stdout)  # exactly one document on stdout
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, (args, [f"{list(e.absolute_path)}: {e.message}" for e in errors])


def _json_commands() -> dict[str, click.Command]:
    """Every command (by path) that offers ``--output json``."""
    found: dict[str, click.Command] = {}
    for names, _, command in cli_commands():
        for param in command.params:
            choices = getattr(param.type, "choices", ())
            if "--output" in getattr(param, "opts", ()) and "json" in choices:
                found[" ".join(names)] = command
    return found


def test_every_json_command_has_a_schema_run() -> None:
    commands = _json_commands()
    assert {"sign", "validate", "key list", "sign-artifacts"} <= set(commands)
    covered = set()
    for path in SCHEMA_FILES:
        for run in _schema(path).get("x-ocisign-runs", []):
            if run["exit"] != 0:
                continue
            words = [a for a in run["args"] if not a.startswith("-")]
            covered.update(id(c) for p, c in commands.items()
                           if words[: len(p.split())] == p.split())
    missing = {p for p, c in commands.items() if id(c) not in covered}  # aliases count once
    assert missing == set(), "commands whose JSON no schema checks"
