"""A notation v1.3.2 script (login, cert, policy, sign, ls, inspect, verify, logout) run
against the real distribution registry with ``ocisign`` as the program name."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.notation import schemas
from tests.notation.conftest import Run

pytestmark = pytest.mark.integration


def test_notation_script_against_basic_auth_registry(
    notation: Run, registry_basic: RunningRegistry, tmp_path: Path
) -> None:
    host, user, password = registry_basic.host, registry_basic.username, registry_basic.password
    assert user and password
    digest = push_test_image(registry_basic, "net-monitor:v1")
    docker = {"DOCKER_CONFIG": str(tmp_path / "docker")}

    refused = notation("login", "--insecure-registry", "-u", user, "--password-stdin", host,
                       input="wrong\n", **docker)
    assert refused.returncode == 1 and f"failed to log in to {host}" in refused.stderr
    assert not (tmp_path / "docker" / "config.json").exists()
    ok = notation("login", "--insecure-registry", "-u", user, "--password-stdin", host,
                  input=password + "\n", **docker)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "Login Succeeded"
    assert password not in ok.stdout + ok.stderr
    config = tmp_path / "docker" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert host in json.loads(config.read_text())["auths"]

    assert notation("cert", "generate-test", "--default", "e2e").returncode == 0
    init = notation("policy", "init", "--store", "e2e", "--scope", f"{host}/net-monitor")
    assert init.returncode == 0, init.stderr
    ref = f"{host}/net-monitor@{digest}"
    signed = notation("sign", "--insecure-registry", "-m", "team=web", ref, **docker)
    assert signed.returncode == 0, signed.stderr

    listed = notation("ls", "--insecure-registry", f"{host}/net-monitor:v1", **docker)
    assert listed.returncode == 0, listed.stderr
    assert "Warning: Always list the artifact using digest(@sha256:...)" in listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == ref
    assert lines[1] == "└── application/vnd.cncf.notary.signature"
    assert lines[2].startswith("    └── sha256:")
    doc = schemas.check("list", notation("list", "--insecure-registry", "-o", "json", ref,
                                         **docker).stdout)
    assert [s["kind"] for s in doc["signatures"]] == ["notation"]
    assert doc["signatures"][0]["digest"] == lines[2].split()[-1]

    inspected = notation("inspect", "--insecure-registry", ref, **docker)
    assert inspected.returncode == 0, inspected.stderr
    assert inspected.stdout.startswith("Inspecting all signatures for signed artifact\n")
    assert "│       │   └── team: web" in inspected.stdout or "team: web" in inspected.stdout
    doc = schemas.check("inspect", notation("inspect", "--insecure-registry", "-o", "json", ref,
                                            **docker).stdout)
    signature = doc["Signatures"][0]
    assert signature["signedArtifact"]["digest"] == digest
    assert signature["userDefinedAttributes"] == {"team": "web"}
    assert signature["signatureAlgorithm"] == "RSASSA-PSS-SHA-256"
    assert signature["certificates"][0]["issuedTo"] == "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"

    verified = notation("verify", "--insecure-registry", f"{host}/net-monitor:v1", **docker)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"Successfully verified signature for {ref}\n")
    assert "The artifact was signed with the following user metadata." in verified.stdout
    assert "Warning: Always verify the artifact using digest(@sha256:...)" in verified.stderr
    doc = schemas.check("verify", notation("verify", "--insecure-registry", "-o", "json", ref,
                                           **docker).stdout)
    assert doc["status"] == "passed" and doc["userMetadata"] == {"team": "web"}

    missing = notation("verify", "--insecure-registry", "-m", "team=db", ref, **docker)
    assert missing.returncode == 1
    assert "signature verification failed for all the signatures associated with" in missing.stderr
    failed = notation("verify", "--insecure-registry", "-o", "json", "-m", "team=db", ref,
                      **docker)
    assert schemas.check("verify", failed.stdout)["errorKind"] == "VerificationError"

    out = notation("logout", host, **docker)
    assert out.stdout.strip() == "Logout Succeeded"
    assert host not in json.loads(config.read_text()).get("auths", {})
    anonymous = notation("verify", "--insecure-registry", ref, **docker)
    assert anonymous.returncode != 0


def test_list_and_inspect_show_cosign_signatures(
    notation: Run, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = push_test_image(registry, "cosigned:v1")
    ref = f"{registry.host}/cosigned@{digest}"
    pw = tmp_path / "pw"
    pw.write_text("pass")
    prefix = tmp_path / "cosign"
    made = notation("key", "generate-pair", "--output-key-prefix", str(prefix),
                    "--passphrase-file", str(pw))
    assert made.returncode == 0, made.stderr
    signed = notation("sign", "--insecure-registry", "--sigstore-key", f"{prefix}.key",
                      "--sigstore-passphrase-file", str(pw), ref)
    assert signed.returncode == 0, signed.stderr

    nothing = notation("ls", "--insecure-registry", ref)
    assert "application/vnd.dev.cosign.simplesigning.v1+json" in nothing.stdout
    assert f"docker-reference: {registry.host}/cosigned" in nothing.stdout
    assert "key: unknown" in nothing.stdout
    doc = schemas.check("list", notation("ls", "--insecure-registry", "-o", "json",
                                         "--sigstore-pubkey", f"{prefix}.pub", ref).stdout)
    (cosign,) = doc["signatures"]
    assert cosign["kind"] == "sigstore" and cosign["signedDigest"] == digest
    assert cosign["keyFile"] == f"{prefix}.pub"
    assert cosign["keyFingerprint"].startswith("SHA256:")

    other = tmp_path / "other"
    notation("key", "generate-pair", "--output-key-prefix", str(other), "--passphrase-file",
             str(pw))
    doc = schemas.check("inspect", notation("inspect", "--insecure-registry", "-o", "json",
                                            "--sigstore-pubkey", f"{other}.pub", ref).stdout)
    assert doc["Signatures"] == []
    (cosign,) = doc["sigstoreSignatures"]
    assert cosign["keyFingerprint"] == ""  # the other key did not make it
    assert cosign["payload"]["critical"]["image"]["docker-manifest-digest"] == digest

    empty = push_test_image(registry, "unsigned:v1")
    none = notation("ls", "--insecure-registry", f"{registry.host}/unsigned@{empty}")
    assert none.stdout == f"{registry.host}/unsigned@{empty} has no associated signature\n"
