"""`ocisign key` through the real CLI in a subprocess."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ocisign.keys import cosign
from ocisign.keys.pem import load_certificates, load_private_key, load_public_key, public_key_der
from tests.conftest import cli_env, run_ocisign
from tests.keys.conftest import E2E, NOTATION_CONFIG, SIGSTORE, write


def _env(config: Path, **extra: str) -> dict[str, str]:
    env = cli_env(OCISIGN_CONFIG_DIR=str(config), **extra)
    for name in ("OCISIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"):
        env.pop(name, None)
    env.update(extra)
    return env


def _ok(config: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    result = run_ocisign(*args, env=_env(config, **extra))
    assert result.returncode == 0, result.stderr
    return result


def _fails(
    config: Path, *args: str, code: int = 1, match: str = "", **extra: str
) -> subprocess.CompletedProcess[str]:
    """Assert a clean failure: exit ``code``, `Error:` + `Hint:` lines, no traceback."""
    result = run_ocisign(*args, env=_env(config, **extra), cwd=config.parent)
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: "), result.stderr
    assert match in lines[0], result.stderr
    assert len(lines) == 2 and lines[1].startswith("Hint: "), result.stderr
    assert "Traceback" not in result.stderr
    return result


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generate_list_default_delete(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    out = _ok(cfg, "key", "generate", "alpha", "--default", "--days", "30").stdout
    assert "Successfully added alpha" in out and "marked as default" in out
    key_file, cert_file = cfg / "localkeys" / "alpha.key", cfg / "localkeys" / "alpha.crt"
    trust = cfg / "truststore" / "x509" / "ca" / "alpha" / "alpha.crt"
    assert _mode(key_file) == 0o600 and _mode(cfg / "signingkeys.json") == 0o600
    assert _mode(cfg) == 0o700 and _mode(cfg / "localkeys") == 0o700
    assert trust.read_bytes() == cert_file.read_bytes()
    cert = load_certificates(cert_file)[0]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=30)
    assert public_key_der(load_private_key(key_file)) == public_key_der(cert.public_key())  # type: ignore[arg-type]

    doc = json.loads(
        _ok(cfg, "key", "generate", "beta", "--type", "ecdsa-p384", "--output", "json").stdout
    )
    assert doc["type"] == "ecdsa-p384" and doc["default"] is False and doc["days"] == 365
    assert doc["keyPath"] == str(cfg / "localkeys" / "beta.key")

    listing = _ok(cfg, "key", "ls").stdout.splitlines()
    assert listing[0].split() == [
        "NAME",
        "KEY",
        "PATH",
        "/",
        "PLUGIN",
        "CERT",
        "PATH",
        "/",
        "KEY",
        "ID",
    ]
    assert listing[1].startswith("* alpha") and str(key_file) in listing[1]
    assert listing[2].startswith("  beta")

    _ok(cfg, "key", "update", "beta", "--default")
    doc = json.loads(_ok(cfg, "key", "list", "--output", "json").stdout)
    assert doc["default"] == "beta"
    assert [(k["name"], k["default"]) for k in doc["keys"]] == [("alpha", False), ("beta", True)]

    _ok(cfg, "key", "default", "alpha")
    _ok(cfg, "key", "delete", "alpha", "beta")
    assert json.loads((cfg / "signingkeys.json").read_text()) == {"keys": []}
    assert key_file.exists()  # entries only, never files


def test_generate_refuses_duplicates_and_bad_names(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    _ok(cfg, "key", "generate", "a", "--type", "ecdsa-p256")
    _fails(cfg, "key", "generate", "a", match="a key named 'a' already exists")
    _fails(cfg, "key", "generate", "../evil", code=2, match="invalid key name")
    # files left behind by an earlier store are not overwritten either
    _ok(cfg, "key", "delete", "a")
    _fails(cfg, "key", "generate", "a", match="a.key already exists")
    result = run_ocisign("key", "generate", "x", "--type", "dsa", env=_env(cfg))
    assert result.returncode == 2 and "Invalid value for '--type'" in result.stderr


def test_unknown_key_name(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    _fails(cfg, "key", "default", "nope", match="signing key 'nope' not found")
    _fails(cfg, "key", "delete", "nope", match="signing key 'nope' not found")


def metadata_plugin(plugins: Path, name: str) -> Path:
    """A plugin that only answers get-plugin-metadata (what `key add --plugin` asks)."""
    exe = plugins / name / f"notation-{name}"
    exe.parent.mkdir(parents=True)
    meta = {"name": name, "description": "test", "version": "1.0.0", "url": "https://x",
            "supportedContractVersions": ["1.0"], "capabilities": ["SIGNATURE_GENERATOR.RAW"]}
    exe.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{json.dumps(meta)}'\n")
    exe.chmod(0o755)
    return exe


def test_add_local_and_plugin(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    metadata_plugin(cfg / "plugins", "azure-kv")
    out = _ok(
        cfg,
        "key",
        "add",
        "e2e",
        "--key-file",
        str(E2E / "e2e.key"),
        "--cert-file",
        str(E2E / "e2e.crt"),
    ).stdout
    assert "Successfully added e2e" in out
    doc = json.loads(
        _ok(
            cfg,
            "key",
            "add",
            "kms",
            "--plugin",
            "azure-kv",
            "--id",
            "https://vault/key",
            "--plugin-config",
            "self_signed=true",
            "--plugin-config",
            "ca_certs=a=b",
            "--default",
            "--output",
            "json",
        ).stdout
    )
    assert doc == {
        "schemaVersion": 1,
        "name": "kms",
        "id": "https://vault/key",
        "pluginName": "azure-kv",
        "pluginConfig": {"self_signed": "true", "ca_certs": "a=b"},
        "default": True,
    }
    stored = json.loads((cfg / "signingkeys.json").read_text())
    assert stored["default"] == "kms"
    assert stored["keys"][0]["keyPath"] == str(E2E / "e2e.key")
    _fails(cfg, "key", "add", "kms", "--plugin", "azure-kv", "--id", "i",
           match="already exists")
    _fails(cfg, "key", "add", "other", "--plugin", "p", "--id", "i", match="is not installed")


def test_add_bad_input(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    key, cert = str(E2E / "e2e.key"), str(E2E / "e2e.crt")
    ed = write(
        tmp_path / "ed.key",
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _ok(cfg, "key", "generate", "other", "--type", "ecdsa-p256")
    other_cert = str(cfg / "localkeys" / "other.crt")
    local = ("--key-file", "--cert-file")
    cases: list[tuple[tuple[str, ...], int, str]] = [
        ((local[0], "missing.key", local[1], cert), 1, "does not exist"),
        ((local[0], key, local[1], "missing.crt"), 1, "does not exist"),
        ((local[0], cert, local[1], cert), 1, "holds no private key"),
        ((local[0], str(ed), local[1], cert), 1, "ed25519 key"),
        ((local[0], key, local[1], other_cert), 1, "does not match"),
        ((local[0], key, local[1], key), 1, "no readable X.509"),
        ((local[0], key), 2, "needs both --key-file and --cert-file"),
        (("--plugin", "p"), 2, "needs both --plugin and --id"),
        (("--plugin", "p", "--id", "i", local[0], key), 2, "not both"),
        (("--plugin", "p", "--id", "i", "--plugin-config", "novalue"), 2,
         "--plugin-config: 'novalue' is not KEY=VALUE"),
    ]
    for args, code, match in cases:
        _fails(cfg, "key", "add", "k", *args, code=code, match=match)
    assert [k["name"] for k in json.loads((cfg / "signingkeys.json").read_text())["keys"]] == [
        "other"
    ]


def test_notation_config_folder_just_works(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    shutil.copytree(NOTATION_CONFIG / "valid", cfg)
    lines = _ok(cfg, "key", "ls").stdout.splitlines()
    assert lines[1].startswith("* wabbit-networks")
    assert "/home/demo/.config/notation/localkeys/wabbit-networks.key" in lines[1]
    assert lines[3].split() == ["external-key", "plugin:pluginX", "id1"]
    for name in ("malformed-duplicate", "malformed-invalid-default"):
        bad = tmp_path / name
        shutil.copytree(NOTATION_CONFIG / name, bad)
        _fails(bad, "key", "ls", match=f"malformed key store {bad / 'signingkeys.json'}")


def test_generate_pair(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    prefix = tmp_path / "sub" / "cosign"
    prefix.parent.mkdir()
    doc = json.loads(
        _ok(
            cfg,
            "key",
            "generate-pair",
            "--output-prefix",
            str(prefix),
            "--output",
            "json",
            OCISIGN_KEY_PASSPHRASE="right",
            COSIGN_PASSWORD="ignored",
        ).stdout
    )
    key_file, pub_file = Path(doc["privateKey"]), Path(doc["publicKey"])
    assert key_file == tmp_path / "sub" / "cosign.key" and doc["type"] == "ecdsa-p256"
    assert _mode(key_file) == 0o600
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    key = cosign.decrypt_private_key(pem, b"right")
    assert public_key_der(key) == public_key_der(load_public_key(pub_file))
    with pytest.raises(Exception, match="wrong passphrase"):
        cosign.decrypt_private_key(pem, b"wrong")

    _fails(
        cfg,
        "key",
        "generate-pair",
        "--output-prefix",
        str(prefix),
        match="already exists",
        OCISIGN_KEY_PASSPHRASE="x",
    )
    assert key_file.read_bytes() == pem
    pw = write(tmp_path / "pw.txt", b"from file\n")
    _ok(
        cfg,
        "key",
        "generate-pair",
        "--output-prefix",
        str(prefix),
        "--force",
        "--passphrase-file",
        str(pw),
        "--type",
        "rsa-2048",
        OCISIGN_KEY_PASSPHRASE="not this",
    )
    assert cosign.decrypt_private_key(key_file.read_bytes(), b"from file").key_size == 2048  # type: ignore[union-attr]
    _fails(
        cfg, "key", "generate-pair", "--output-prefix", str(tmp_path / "p2"), match="no terminal"
    )
    assert not (tmp_path / "p2.key").exists()


def test_signing_key_from_real_cosign_vector_via_empty_env(tmp_path: Path) -> None:
    # COSIGN_PASSWORD="" means an empty passphrase, as cosign treats it
    cfg = tmp_path / "cfg"
    _ok(cfg, "key", "generate-pair", "--output-prefix", str(tmp_path / "e"), COSIGN_PASSWORD="")
    assert cosign.decrypt_private_key((tmp_path / "e.key").read_bytes(), b"") is not None
    assert cosign.is_cosign_key((SIGSTORE / "skopeo-generated.private").read_bytes())


_CRASH = (
    "import sys\n"
    "import ocisign.config.keystore as ks\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('kaboom')\n"
    "ks.KeyStore.load = boom\n"
    "from ocisign.cli import cli\n"
    "cli.main(sys.argv[1:], prog_name='ocisign')\n"
)


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_error_points_to_debug(tmp_path: Path, debug: bool) -> None:
    args = ["--debug", "key", "ls"] if debug else ["key", "ls"]
    result = subprocess.run(
        [sys.executable, "-c", _CRASH, *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "cfg"),
        timeout=120,
    )
    assert result.returncode == 1
    assert "Error: unexpected RuntimeError: kaboom" in result.stderr
    assert "Hint: run again with --debug" in result.stderr
    if debug:
        assert "Traceback" in result.stderr
    else:
        assert result.stderr.splitlines()[0] == "Error: unexpected RuntimeError: kaboom"
        assert len(result.stderr.splitlines()) == 2


def test_notation_spellings(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    doc = json.loads(
        _ok(cfg, "key", "generate", "big", "--bits", "3072", "--output", "json").stdout
    )
    assert doc["type"] == "rsa-3072"
    assert load_private_key(cfg / "localkeys" / "big.key").key_size == 3072  # type: ignore[union-attr]
    _ok(cfg, "key", "generate", "small", "--type", "ecdsa-p256")
    _ok(cfg, "key", "set", "small", "--default")
    assert json.loads((cfg / "signingkeys.json").read_text())["default"] == "small"
    _fails(cfg, "key", "update", "small", code=2, match="nothing to update")
