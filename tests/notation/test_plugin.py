"""`plugin install/list/uninstall`, `key add --plugin`, and what a plugin process sees."""

from __future__ import annotations

import json
import shutil
import stat
import tarfile
from pathlib import Path

from tests.conftest import ROOT, python_script
from tests.notation import schemas
from tests.notation.conftest import Run

PLUGIN_SOURCE = ROOT / "tests" / "plugins" / "notation-pytest"
# as notation's e2e plugin: refuse any call that still carries registry credentials (and ours:
# key passphrases, PKCS#11 PINs)
ENV_CHECK = (
    "import os\n"
    "if any(os.environ.get(v) for v in ('NOTATION_USERNAME', 'NOTATION_PASSWORD',\n"
    "                                   'OCISIGN_PASSWORD', 'COSIGN_PASSWORD',\n"
    "                                   'OCISIGN_KEY_PASSPHRASE', 'OCISIGN_PKCS11_PIN',\n"
    "                                   'COSIGN_PKCS11_PIN')):\n"
    "    sys.stderr.write(json.dumps({'errorCode': 'VALIDATION_ERROR',\n"
    "        'errorMessage': 'registry credentials are not eliminated'}))\n"
    "    sys.exit(1)\n"
)


def make_plugin(folder: Path, version: str = "1.0.0") -> Path:
    """``notation-pytest`` (this interpreter) with the credential check before main()."""
    text = PLUGIN_SOURCE.read_text()
    text = text.replace("\ndef main():", "\n" + ENV_CHECK + "\n\ndef main():", 1)
    text = text.replace('"version": "1.2.3"', f'"version": "{version}"')
    return python_script(folder / "notation-pytest", text)


def test_install_list_uninstall(notation: Run, tmp_path: Path) -> None:
    libexec = {"NOTATION_LIBEXEC": str(tmp_path / "libexec")}
    exe = make_plugin(tmp_path / "src")
    assert notation("plugin", "install", "--file", str(exe), **libexec).stdout == (
        "Successfully installed plugin pytest, version 1.0.0\n")
    installed = tmp_path / "libexec" / "plugins" / "pytest" / "notation-pytest"
    assert stat.S_IMODE(installed.stat().st_mode) == 0o700
    again = notation("plugin", "install", "--file", str(exe), **libexec)
    assert again.returncode == 1 and "already exists" in again.stderr

    newer = make_plugin(tmp_path / "v2", "1.2.0")
    archive = tmp_path / "plugin.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(newer, arcname="notation-pytest")
    updated = notation("plugin", "install", "--file", str(archive), **libexec)
    assert updated.stdout == "Successfully updated plugin pytest from version 1.0.0 to 1.2.0\n"
    older = notation("plugin", "install", "--file", str(exe), **libexec)
    assert older.returncode == 1 and "lower than the existing plugin version" in older.stderr

    listed = notation("plugin", "ls", **libexec).stdout.splitlines()
    assert listed[0].split() == ["NAME", "DESCRIPTION", "VERSION", "CAPABILITIES", "ERROR"]
    assert listed[1].startswith("pytest ") and " 1.2.0 " in listed[1]
    doc = schemas.check("plugin-list", notation("plugin", "list", "-o", "json", **libexec).stdout)
    assert doc["plugins"][0]["version"] == "1.2.0"

    bad = tmp_path / "evil.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(newer, arcname="../notation-pytest")
    refused = notation("plugin", "install", "--file", str(bad), "--force", **libexec)
    assert refused.returncode == 1 and "cannot contain '..'" in refused.stderr
    assert notation("plugin", "install", "--url", "https://example.com/p.tgz",
                    **libexec).returncode == 1

    kept = notation("plugin", "uninstall", "pytest", input="n\n", **libexec)
    assert "Operation cancelled." in kept.stdout and installed.exists()
    gone = notation("plugin", "uninstall", "pytest", "-y", **libexec)
    assert gone.stdout == "Successfully uninstalled plugin pytest\n" and not installed.exists()
    missing = notation("plugin", "uninstall", "pytest", "-y", **libexec)
    assert missing.returncode == 1 and "unable to find plugin pytest." in missing.stderr


def test_plugin_signs_without_seeing_credentials(
    notation: Run, notation_dir: Path, tmp_path: Path
) -> None:
    libexec = {"NOTATION_LIBEXEC": str(tmp_path / "libexec")}
    secrets = {"NOTATION_USERNAME": "alice", "NOTATION_PASSWORD": "s3cret",
               "OCISIGN_PASSWORD": "s3cret", "COSIGN_PASSWORD": "s3cret",
               "OCISIGN_KEY_PASSPHRASE": "s3cret", "OCISIGN_PKCS11_PIN": "1234",
               "COSIGN_PKCS11_PIN": "1234"}
    make_plugin(tmp_path / "libexec" / "plugins" / "pytest")
    missing = notation("key", "add", "k", "--plugin", "absent", "--id", "x", **libexec)
    assert missing.returncode == 1 and "is not installed" in missing.stderr
    assert not (notation_dir / "signingkeys.json").exists()

    assert notation("cert", "generate-test", "signer").returncode == 0
    keys = notation_dir / "localkeys"
    log = tmp_path / "plugin.log"
    added = notation("key", "add", "k", "--plugin", "pytest", "--id", "key-1", "--default",
                     "--plugin-config", f"key={keys / 'signer.key'}",
                     "--plugin-config", f"chain={keys / 'signer.crt'}",
                     "--plugin-config", f"log={log}", **libexec, **secrets)
    assert added.returncode == 0, added.stderr
    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    signed = notation("sign", "--oci-layout", f"{layout}:v1", **libexec, **secrets)
    assert signed.returncode == 0, signed.stderr
    calls = [json.loads(line)["argv"][1] for line in log.read_text().splitlines()]
    assert "generate-signature" in calls  # the plugin ran, and never saw a credential
    assert "s3cret" not in log.read_text()


def test_verify_runs_the_verification_plugin_with_plugin_config(
    notation: Run, notation_dir: Path, tmp_path: Path
) -> None:
    """An envelope naming plugin "verifier": `verify --plugin-config` reaches that plugin,
    and its trusted-identity answer decides."""
    from tests.notary.test_plugin_verify import install

    libexec = {"NOTATION_LIBEXEC": str(tmp_path / "libexec")}
    make_plugin(tmp_path / "libexec" / "plugins" / "pytest")
    install(tmp_path / "libexec" / "plugins", "verifier")
    assert notation("cert", "generate-test", "signer").returncode == 0
    assert notation("policy", "init", "--store", "signer").returncode == 0
    keys = notation_dir / "localkeys"
    assert notation("key", "add", "k", "--plugin", "pytest", "--id", "key-1", "--default",
                    "--plugin-config", f"key={keys / 'signer.key'}",
                    "--plugin-config", f"chain={keys / 'signer.crt'}", **libexec).returncode == 0
    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    signed = notation("sign", "--oci-layout", f"{layout}:v1", "--plugin-config",
                      "mode=envelope-verifier", **libexec)
    assert signed.returncode == 0, signed.stderr
    log = tmp_path / "verifier.log"
    ref = ["--oci-layout", "--scope", "local/x", f"{layout}:v1", "--plugin-config", f"log={log}"]
    ok = notation("verify", *ref, **libexec)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Successfully verified signature for")
    asked = [json.loads(line) for line in log.read_text().splitlines()]
    assert [a["command"] for a in asked][-1] == "verify-signature"
    assert asked[-1]["request"]["pluginConfig"] == {"log": str(log)}
    refused = notation("verify", *ref, "--plugin-config", "identity=fail", **libexec)
    assert refused.returncode == 1
    assert 'trusted identify verification by plugin "verifier" failed with reason ' \
        '"identity says no"' in refused.stderr
    absent = notation("verify", *ref)  # no NOTATION_LIBEXEC: the plugin is not installed
    assert absent.returncode == 1 and "error while locating verification plugin" in absent.stderr
