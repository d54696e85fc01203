"""The ``x-ocisign-runs`` of the notation commands' schemas (docs/schemas/), run here the
way the JSON-contract test runs every schema: the e2e trust store and policy, copies of
the e2e OCI layouts, verification at a time the vectors' certificates are valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA, cli_env, run_ocisign
from tests.notation import schemas

NOTATION_SCHEMAS = ["verify", "list", "inspect", "plugin-list", "version"]
LAYOUTS = DATA / "notation" / "oci-layouts"


@pytest.mark.parametrize("name", NOTATION_SCHEMAS)
def test_schema_runs(name: str, tmp_path: Path) -> None:
    config = tmp_path / "config"
    store = config / "truststore" / "x509" / "ca" / "e2e"
    store.mkdir(parents=True)
    shutil.copy(DATA / "trust" / "keys" / "e2e.crt", store)
    shutil.copy(DATA / "trust" / "trustpolicies" / "trustpolicy.json", config)
    values = {"layout": "e2e", "signed_layout": "e2e-valid-signature",
              "invalid_layout": "e2e-invalid-signature"}
    for folder in values.values():
        shutil.copytree(LAYOUTS / folder, tmp_path / folder)
    values = {k: str(tmp_path / v) for k, v in values.items()}
    env = cli_env(OCISIGN_CONFIG_DIR=str(config), OCISIGN_VERIFY_TIME="2026-01-02T03:04:05Z")
    runs = json.loads((schemas.SCHEMAS / f"{name}.schema.json").read_text())["x-ocisign-runs"]
    for run in runs:
        args = [a.format(**values) for a in run["args"]]
        done = run_ocisign(*args, env=env, cwd=tmp_path)
        assert done.returncode == run["exit"], (args, done.stderr)
        schemas.check(name, done.stdout)
