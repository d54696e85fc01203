"""verify's flag rules and OCI-layout texts, login through a credsStore helper, version,
completion and the small spellings."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT
from tests.fixtures.registry import RunningRegistry
from tests.notation import schemas
from tests.notation.conftest import Run

LAYOUTS = DATA / "notation" / "oci-layouts"


@pytest.fixture
def signed_layout(notation: Run, tmp_path: Path) -> Path:
    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    assert notation("cert", "generate-test", "--default", "demo").returncode == 0
    assert notation("policy", "init", "--store", "demo").returncode == 0
    assert notation("sign", "--oci-layout", f"{layout}:v1").returncode == 0
    return layout


def test_verify_layout_texts_and_flag_rules(notation: Run, signed_layout: Path,
                                            notation_dir: Path) -> None:
    ok = notation("verify", "--oci-layout", "--scope", "local/demo", f"{signed_layout}:v1")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"Successfully verified signature for {signed_layout}@sha256:")
    assert "Always verify the artifact using digest(@sha256:...) rather than a tag(:v1)" \
        in ok.stderr
    alone = notation("verify", "--oci-layout", f"{signed_layout}:v1")
    assert alone.returncode == 2
    assert "if any flags in the group [oci-layout scope] are set they must all be set; " \
        "missing [scope]" in alone.stderr
    assert "must be a positive number" in notation(
        "verify", "--max-signatures", "0", "x/y:z").stderr
    assert "missing reference to the artifact" in notation("verify").stderr
    warned = notation("verify", "--allow-referrers-api", "--oci-layout", "--scope", "local/x",
                      f"{signed_layout}:v1")
    assert "Warning: This feature is experimental" in warned.stderr
    assert "flag '--allow-referrers-api' is deprecated" in warned.stderr

    policy = json.loads((notation_dir / "trustpolicy.json").read_text())
    policy["trustPolicies"][0]["signatureVerification"] = {"level": "skip"}
    del policy["trustPolicies"][0]["trustStores"], policy["trustPolicies"][0]["trustedIdentities"]
    (notation_dir / "trustpolicy.json").write_text(json.dumps(policy))
    skipped = notation("verify", "--oci-layout", "--scope", "local/x", f"{signed_layout}:v1")
    assert skipped.stdout.startswith(
        "Trust policy is configured to skip signature verification for ")
    doc = schemas.check("verify", notation("verify", "--oci-layout", "--scope", "local/x",
                                           "-o", "json", f"{signed_layout}:v1").stdout)
    assert doc["status"] == "skipped"

    (notation_dir / "trustpolicy.json").unlink()
    none = notation("verify", "--oci-layout", "--scope", "local/x", f"{signed_layout}:v1")
    assert none.returncode == 1 and "trust policy is not present" in none.stderr


def test_verify_expired_signature_vector(notation: Run, notation_dir: Path) -> None:
    crt = DATA / "notation" / "keys" / "e2e.crt"
    assert notation("cert", "add", "-t", "ca", "-s", "e2e", str(crt)).returncode == 0
    assert notation("policy", "init", "--store", "e2e").returncode == 0
    out = notation("verify", "--oci-layout", "--scope", "local/e2e",
                   f"{LAYOUTS / 'e2e-expired-signature'}:v1")
    assert out.returncode == 1
    assert "signature verification failed for all the signatures associated with" in out.stderr
    assert "expiry validation failed" in out.stderr


def test_inspect_timestamped_vector(notation: Run) -> None:
    out = notation("inspect", "--oci-layout", f"{LAYOUTS / 'e2e-with-timestamped-signature'}:v1")
    assert out.returncode == 0, out.stderr
    assert "│   │   ├── timestamp: [Tue Jan 21 09:17:46 2025, Tue Jan 21 09:17:47 2025]" \
        in out.stdout
    assert "signingAgent: notation-go/1.3.0+unreleased" in out.stdout
    assert "SHA256 fingerprint: 1717fa9d18f7e9c0f609499474adfe2b8e44172454f1d6e2183d5d04f79af475" \
        in out.stdout
    doc = schemas.check("inspect", notation(
        "inspect", "--oci-layout", "-o", "json",
        f"{LAYOUTS / 'e2e-with-timestamped-signature'}:v1").stdout)
    stamp = doc["Signatures"][0]["unsignedAttributes"]["timestampSignature"]
    assert stamp["timestamp"] == "[2025-01-21T09:17:46Z, 2025-01-21T09:17:47Z]"
    assert len(stamp["certificates"]) == 2


def test_login_through_creds_store(notation: Run, registry_basic: RunningRegistry,
                                   tmp_path: Path) -> None:
    bin_dir, saved = tmp_path / "bin", tmp_path / "saved.jsonl"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open({str(saved)!r}, 'a').write(repr(sys.argv[1:]) + ' ' + "
                      "sys.stdin.read() + '\\n')\n")
    helper.chmod(0o755)
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    env = {"DOCKER_CONFIG": str(docker), "PATH": f"{bin_dir}:/usr/bin:/bin",
           "NOTATION_USERNAME": str(registry_basic.username),
           "NOTATION_PASSWORD": str(registry_basic.password)}
    out = notation("login", "--insecure-registry", registry_basic.host, **env)
    assert out.returncode == 0, out.stderr
    assert str(registry_basic.password) not in out.stdout + out.stderr
    argv, _, request = saved.read_text().partition(" ")
    assert argv == "['store']"  # the secret travels on stdin only
    assert json.loads(request) == {"ServerURL": registry_basic.host,
                                   "Username": registry_basic.username,
                                   "Secret": registry_basic.password}
    assert json.loads((docker / "config.json").read_text()) == {"credsStore": "fake"}
    assert notation("logout", registry_basic.host, **env).returncode == 0
    assert saved.read_text().splitlines()[-1] == f"['erase'] {registry_basic.host}"
    assert notation("login").stderr.startswith("Error: no hostname specified")


def test_version_completion_and_spellings(notation: Run, tmp_path: Path) -> None:
    out = notation("version")
    assert out.stdout.splitlines()[2].startswith("Version:")
    assert "Python version:" in out.stdout and "cryptography:" in out.stdout
    doc = schemas.check("version", notation("version", "-o", "json").stdout)
    assert doc["version"] == out.stdout.splitlines()[2].split()[-1]
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "#compdef ocisign"),
                          ("fish", "complete --no-files --command ocisign")):
        assert marker in notation("completion", shell).stdout
    assert notation("completion", "tcsh").returncode == 2
    made = notation("key", "generate", "-b", "3072", "k3")
    assert made.returncode == 0 and "rsa-3072" in made.stdout
    pw = tmp_path / "pw"
    pw.write_text("x")
    pair = notation("key", "generate-pair", "--output-key-prefix", str(tmp_path / "c"),
                    "--passphrase-file", str(pw))
    assert pair.returncode == 0 and (tmp_path / "c.key").exists()


def test_list_max_signatures_and_inspect_skips(notation: Run) -> None:
    multi = f"{LAYOUTS / 'e2e-valid-multiple-signatures'}:v1"
    every = notation("ls", "--oci-layout", multi).stdout.splitlines()
    assert len([line for line in every if line.startswith("    ")]) > 1
    one = notation("ls", "--oci-layout", "--max-signatures", "1", multi)
    lines = one.stdout.splitlines()
    assert lines[2].startswith("    └── sha256:") and len(lines) == 4
    assert lines[3] == "Warning: exceeded configured limit of max signatures 1 to examine"
    skipped = notation("inspect", "--oci-layout", f"{LAYOUTS / 'e2e-invalid-signature'}:v1")
    assert skipped.returncode == 1
    assert "Warning: Skipping signature sha256:" in skipped.stderr
    assert "at least one signature was skipped and not displayed" in skipped.stderr
