"""`cert` and `policy` with notation v1.3.2's spellings, texts, paths and file modes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.conftest import DATA
from tests.notation.conftest import Run

E2E_CRT = DATA / "notation" / "keys" / "e2e.crt"
E2E_KEY = DATA / "notation" / "keys" / "e2e.key"


def test_cert_add_list_show_delete(notation: Run, notation_dir: Path) -> None:
    added = notation("cert", "add", "--type", "ca", "--store", "e2e", str(E2E_CRT))
    assert added.returncode == 0, added.stderr
    assert added.stdout == (
        f"Successfully added following certificates to named store e2e of type ca:\n{E2E_CRT}\n"
    )
    stored = notation_dir / "truststore" / "x509" / "ca" / "e2e" / "e2e.crt"
    assert stored.read_bytes() == E2E_CRT.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    again = notation("cert", "add", "-t", "ca", "-s", "e2e", str(E2E_CRT))
    assert again.returncode == 1
    assert "certificate already exists in the Trust Store" in again.stderr

    listed = notation("cert", "ls")
    assert listed.stdout.split("\n")[0].split() == ["STORE", "TYPE", "STORE", "NAME", "CERTIFICATE"]
    assert listed.stdout.split("\n")[1].split() == ["ca", "e2e", "e2e.crt"]
    assert notation("cert", "ls", "--type", "tsa").stdout == ""
    assert notation("cert", "ls", "--type", "nope").returncode == 0

    shown = notation("certificate", "show", "--type", "ca", "--store", "e2e", "e2e.crt")
    cert = x509.load_pem_x509_certificate(E2E_CRT.read_bytes())
    assert shown.returncode == 0, shown.stderr
    assert f"SHA256 Thumbprint: {cert.fingerprint(hashes.SHA256()).hex()}" in shown.stdout
    assert "IsCA: false" in shown.stdout
    assert "Subject: CN=e2e,O=Notary,L=Seattle,ST=WA,C=US" in shown.stdout

    cancelled = notation("cert", "delete", "-t", "ca", "-s", "e2e", "--all", input="n\n")
    assert "Operation cancelled." in cancelled.stdout and stored.exists()
    gone = notation("cert", "delete", "--type", "ca", "--store", "e2e", "e2e.crt", "-y")
    assert gone.stdout == "Successfully deleted e2e.crt\n" and not stored.exists()


def test_cert_add_refuses_keys_and_leaves(notation: Run, tmp_path: Path) -> None:
    both = tmp_path / "both.pem"
    both.write_bytes(E2E_KEY.read_bytes() + E2E_CRT.read_bytes())
    out = notation("cert", "add", "-t", "ca", "-s", "s", str(both))
    assert out.returncode == 1 and "holds a private key" in out.stderr
    tsa = notation("cert", "add", "-t", "tsa", "-s", "s", str(E2E_CRT))  # not a root CA
    assert tsa.returncode == 1 and "not a root CA certificate" in tsa.stderr
    bad = notation("cert", "add", "-t", "bogus", "-s", "s", str(E2E_CRT))
    assert bad.returncode == 1 and "unsupported store type: bogus" in bad.stderr
    name = notation("cert", "add", "-t", "ca", "-s", "a/b", str(E2E_CRT))
    assert "named store name needs to follow [a-zA-Z0-9_.-]+ format" in name.stderr
    missing = notation("cert", "add", "-t", "ca", "-s", "s")
    assert missing.returncode != 0 and "missing certificate path" in missing.stderr


def test_generate_test_then_cleanup(notation: Run, notation_dir: Path) -> None:
    out = notation("cert", "generate-test", "-b", "3072", "--default", "wabbit-networks.io")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("generating RSA Key with 3072 bits\n")
    assert "wabbit-networks.io: mark as default signing key" in out.stdout
    key = notation_dir / "localkeys" / "wabbit-networks.io.key"
    crt = notation_dir / "localkeys" / "wabbit-networks.io.crt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 1  # notation's
    keys = json.loads((notation_dir / "signingkeys.json").read_text())
    assert keys["default"] == "wabbit-networks.io"
    assert (notation_dir / "truststore/x509/ca/wabbit-networks.io/wabbit-networks.io.crt").exists()

    clean = notation("cert", "cleanup-test", "-y", "wabbit-networks.io")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.endswith("Cleanup completed successfully\n")
    assert not key.exists() and not crt.exists()
    assert json.loads((notation_dir / "signingkeys.json").read_text()).get("keys") in (None, [])


def test_policy_import_show_init(notation: Run, notation_dir: Path, tmp_path: Path) -> None:
    missing = notation("policy", "show")
    assert missing.returncode == 1
    assert "the trust policy file does not exist" in missing.stderr

    init = notation("policy", "init", "--store", "e2e", "--scope", "localhost:5000/net")
    assert init.returncode == 0, init.stderr
    policy = notation_dir / "trustpolicy.json"
    doc = json.loads(policy.read_text())
    assert doc["trustPolicies"][0]["trustStores"] == ["ca:e2e"]
    assert doc["trustPolicies"][0]["registryScopes"] == ["localhost:5000/net"]
    assert stat.S_IMODE(policy.stat().st_mode) == 0o600
    assert "holds no certificate yet" in init.stderr
    assert notation("policy", "init", "--store", "e2e").returncode == 1  # exists: --force

    shown = notation("policy", "show")
    assert shown.stdout == policy.read_text()

    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"version": "1.0", "trustPolicies": []}')
    refused = notation("policy", "import", "--force", str(invalid))
    assert refused.returncode == 1 and "failed to validate trust policy" in refused.stderr
    assert json.loads(policy.read_text()) == doc  # untouched

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "trustPolicies": [
        {**doc["trustPolicies"][0], "registryScopes": ["*"]}]}))
    kept = notation("policy", "import", str(other), input="no\n")
    assert "Operation cancelled." in kept.stdout and json.loads(policy.read_text()) == doc
    done = notation("policy", "import", "--force", str(other))
    assert done.stdout == "Trust policy configuration imported successfully.\n"
    assert "existing trust policy configuration file will be overwritten" in done.stderr
    assert policy.read_text() == other.read_text()

    policy.write_text('{"version": "2.0"}')
    bad = notation("policy", "show")
    assert bad.returncode == 0 and bad.stdout == '{"version": "2.0"}'
    assert "Existing trust policy configuration is invalid" in bad.stderr
