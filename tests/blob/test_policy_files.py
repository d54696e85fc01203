"""notation v2's OCI policy file names: trustpolicy.oci.json first, trustpolicy.json as the
silent fallback (notation-go's LoadOCIDocument); the blob file is never read for images."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import cli_env, run_ocisign
from tests.validate.conftest import E2E_SUBJECT, LAYOUTS, POLICIES, e2e_trust

__all__ = ["e2e_trust"]  # the fixture, shared with tests/validate

LAYOUT = f"{LAYOUTS / 'e2e-valid-signature'}@{E2E_SUBJECT}"


def _validate(config: Path, store: Path, tmp: Path) -> tuple[int, str, str]:
    done = run_ocisign("validate", "--type", "notation", "--oci-layout", LAYOUT,
                       "--trust-store", str(store), "-o", str(tmp / "failed.txt"),
                       env=cli_env(OCISIGN_CONFIG_DIR=str(config)))
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr


def test_oci_policy_first_then_legacy(e2e_trust: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(POLICIES / "trustpolicy.json", config / "trustpolicy.json")
    rc, _, err = _validate(config, e2e_trust, tmp_path)
    assert rc == 0, err
    assert "deprecated" not in err  # policy init/import write this name: no nagging
    # a trustpolicy.oci.json wins (here a malformed one: no fallback, the error is reported)
    (config / "trustpolicy.oci.json").write_text("{")
    rc, _, err = _validate(config, e2e_trust, tmp_path)
    assert rc != 0 and "trustpolicy.oci.json" in err and "deprecated" not in err
    shutil.copy(POLICIES / "trustpolicy.json", config / "trustpolicy.oci.json")
    (config / "trustpolicy.json").write_text("{")
    rc, _, err = _validate(config, e2e_trust, tmp_path)
    assert rc == 0 and "deprecated" not in err, err


def test_blob_policy_is_not_an_oci_policy(e2e_trust: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(Path(__file__).parent.parent / "data" / "blob" / "notation" /
                "trustpolicy.blob.json", config)
    rc, _, err = _validate(config, e2e_trust, tmp_path)
    assert rc != 0 and "trust policy is not present" in err
