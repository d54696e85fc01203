"""Hints that name the fix: registry error codes, credentials (source, never values), and
hangar's -k / -p spellings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import cli_env, run_ocisign
from tests.fixtures.registry import RunningRegistry, push_test_image

pytestmark = pytest.mark.integration


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"), DOCKER_CONFIG=str(tmp_path),
                  **extra)
    for name in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "NOTATION_USERNAME",
                 "NOTATION_PASSWORD"):
        if not extra.get(name):
            env.pop(name, None)
    return env


def _pub(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "cosign.pub"
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_manifest_unknown_says_the_tag_does_not_exist(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    push_test_image(registry, "hints/app:v1")
    done = run_ocisign("validate", f"{registry.host}/hints/app:nosuchtag", "--sigstore-pubkey",
                       str(_pub(tmp_path)), "-v", "--output", "json", env=_env(tmp_path))
    assert done.returncode == 1


    line = json.loads(done.stdout)["results"][0]
    assert line["errorKind"] == "NotFoundError" and "MANIFEST_UNKNOWN" in line["message"]
    assert line["hint"].startswith("the tag or digest does not exist in that repository")


@pytest.mark.parametrize("source", ["flags", "env", "docker"])
def test_rejected_credentials_name_their_source_not_their_value(
    registry_basic: RunningRegistry, tmp_path: Path, source: str
) -> None:
    push_test_image(registry_basic, "hints/locked:v1")
    secret = "not-the-password-6a1f"
    flags: list[str] = []
    extra: dict[str, str] = {}
    if source == "flags":
        flags = ["-u", "alice", "-p", secret]
    elif source == "env":
        extra = {"OCISIGN_USERNAME": "alice", "OCISIGN_PASSWORD": secret}
    else:
        import base64
        import json

        auth = base64.b64encode(f"alice:{secret}".encode()).decode()
        (tmp_path / "config.json").write_text(
            json.dumps({"auths": {registry_basic.host: {"auth": auth}}}))
    done = run_ocisign("validate", f"{registry_basic.host}/hints/locked:v1",
                       "--sigstore-pubkey", str(_pub(tmp_path)), "-v", *flags,
                       env=_env(tmp_path, **extra))
    assert done.returncode == 1
    text = done.stdout + done.stderr
    assert secret not in text
    expected = {"flags": "-u/--username, -p/--password",
                "env": "OCISIGN_USERNAME/OCISIGN_PASSWORD",
                "docker": f"docker's {tmp_path / 'config.json'}"}[source]
    assert f"the credentials tried came from {expected}" in text, text


def test_missing_credentials_say_where_we_looked(
    registry_basic: RunningRegistry, tmp_path: Path
) -> None:
    done = run_ocisign("validate", f"{registry_basic.host}/hints/locked:v1",
                       "--sigstore-pubkey", str(_pub(tmp_path)), "-v", env=_env(tmp_path))
    assert done.returncode == 1
    assert "no credentials were found (looked at -u/-p, OCISIGN_USERNAME" in done.stdout


def test_hangar_key_and_pubkey_spellings_get_a_hint(tmp_path: Path) -> None:
    pub = _pub(tmp_path)
    key = tmp_path / "cosign.key"
    key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n")
    signed = run_ocisign("sign", "-k", str(key), "reg.example/app:v1", env=_env(tmp_path))
    assert signed.returncode == 2
    assert f"Hint: to sign with a cosign key file use --sigstore-key {key}" in signed.stderr
    checked = run_ocisign("validate", "-p", str(pub), "reg.example/app:v1", env=_env(tmp_path))
    assert checked.returncode == 2
    assert f"Hint: to verify with a cosign key file use --sigstore-pubkey {pub}" \
        in checked.stderr
    assert "Traceback" not in signed.stderr + checked.stderr
