"""Token keys through the real CLI, every format: key add/generate/list, sign JWS/COSE and
validate, sigstore in a real registry verified by skopeo, a -j 8 batch on one token,
sign-artifacts checked by sbverify/osslsigncode/openssl, and pkcs11-tool's listings."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ocisign.keys.pkcs11_uri import parse_uri
from tests.boot.conftest import ROOT_HASH, SYSTEMD_BOOT, efi_samples_dir, need, run_tool
from tests.boot.conftest import write_artifacts as write_boot_artifacts
from tests.conftest import cli_env, run_ocisign
from tests.fixtures.pkcs11 import KEYS, PIN, SoftHSM
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.fixtures.skopeo import skopeo_verify
from tests.sign.conftest import LAYOUTS

pytest.importorskip("pkcs11")

POLICY = {
    "version": "1.0",
    "trustPolicies": [{
        "name": "hsm", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:ec", "ca:rsa"], "trustedIdentities": ["*"],
    }],
}


class Cli:
    """The CLI with a fresh config dir, the token's SOFTHSM2_CONF and no PIN variables."""

    def __init__(self, root: Path, softhsm: SoftHSM) -> None:
        self.root = root
        self.softhsm = softhsm
        self.config = root / "config"
        self.env = cli_env(OCISIGN_CONFIG_DIR=str(self.config), DOCKER_CONFIG=str(root),
                           **softhsm.env())
        for name in ("OCISIGN_PKCS11_PIN", "COSIGN_PKCS11_PIN", "OCISIGN_USERNAME",
                     "OCISIGN_PASSWORD"):
            self.env.pop(name, None)

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return run_ocisign(*args, env={**self.env, **extra}, cwd=self.root)

    def ok(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args, **extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert PIN not in proc.stdout + proc.stderr  # the PIN is never printed
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json").stdout)


@pytest.fixture
def cli(tmp_path: Path, softhsm: SoftHSM) -> Cli:
    """Keys ``ec`` (EC P-256, certificate on the token) and ``rsa`` (RSA-2048, test cert)."""
    c = Cli(tmp_path, softhsm)
    c.ok("key", "add", "ec", "--pkcs11-uri", softhsm.uri("ec256"), "--default")
    c.ok("key", "generate", "rsa", "--pkcs11-uri", softhsm.uri("rsa2048"))
    ca = c.config / "truststore" / "x509" / "ca" / "ec"
    ca.mkdir(parents=True)
    (ca / "ec.crt").write_bytes(_pem(softhsm.root / "ec256.der"))  # as pkcs11-tool stored it
    (c.config / "trustpolicy.json").write_text(json.dumps(POLICY))
    return c


def _pem(der_file: Path) -> bytes:
    cert = x509.load_der_x509_certificate(der_file.read_bytes())
    return cert.public_bytes(serialization.Encoding.PEM)


def _layout(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(LAYOUTS / "e2e", target)
    return target


def test_key_store_keeps_notations_schema_and_no_pin(cli: Cli, softhsm: SoftHSM) -> None:
    doc = json.loads((cli.config / "signingkeys.json").read_text())
    ec, rsa = doc["keys"]
    assert doc["default"] == "ec"
    assert ec == {"name": "ec", "keyPath": softhsm.uri("ec256"),
                  "certPath": softhsm.uri("ec256", kind="cert")}
    assert parse_uri(ec["certPath"], kind="cert").label == "ec256"
    assert rsa["keyPath"] == softhsm.uri("rsa2048")
    assert rsa["certPath"] == str(cli.config / "localkeys" / "rsa.crt")
    assert (cli.config / "truststore/x509/ca/rsa/rsa.crt").read_bytes() == Path(
        rsa["certPath"]).read_bytes()
    listed = cli.ok("key", "list").stdout
    assert "pkcs11:token=ocisign-test;object=ec256" in listed
    stored_pin = softhsm.uri("ec384", pin_source=False) + f"&pin-value={PIN}"
    proc = cli.run("key", "add", "pinned", "--pkcs11-uri", stored_pin)
    assert proc.returncode == 2 and "refusing to store a PKCS#11 PIN" in proc.stderr
    assert PIN not in proc.stderr
    pem_chain = cli.root / "ec384.pem"
    pem_chain.write_bytes(_pem(softhsm.root / "ec384.der"))
    entry = cli.json("key", "add", "ec384", "--pkcs11-uri", softhsm.uri("ec384"),
                     "--cert-file", str(pem_chain))
    assert entry["certPath"] == str(pem_chain) and entry["keyPath"] == softhsm.uri("ec384")
    wrong = cli.run("key", "add", "bad", "--pkcs11-uri", softhsm.uri("ec521"),
                    "--cert-file", str(pem_chain))
    assert wrong.returncode == 1 and "do not match" in wrong.stderr.splitlines()[0]
    none = cli.run("key", "add", "nocert", "--pkcs11-uri", softhsm.uri("rsa3072"))
    assert none.returncode == 1 and "no certificate" in none.stderr and "--cert-file" in (
        none.stderr)


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_sign_and_validate_layouts(cli: Cli, tmp_path: Path, fmt: str) -> None:
    for key in ("ec", "rsa"):
        layout = _layout(tmp_path, f"{fmt}-{key}")
        cli.ok("sign", "--oci-layout", f"{layout}:v1", "-k", key, "--signature-format", fmt)
        result = cli.ok("validate", "--oci-layout", f"{layout}:v1", "--type", "notation")
        assert "PASS" in result.stdout
        index = json.loads((layout / "index.json").read_text())
        signatures = [m for m in index["manifests"]
                      if "io.cncf.notary.x509chain.thumbprint#S256" in m.get("annotations", {})]
        assert len(signatures) == 1
        manifest = json.loads((layout / "blobs/sha256" / signatures[0]["digest"][7:])
                              .read_text())
        assert manifest["config"]["mediaType"] == "application/vnd.cncf.notary.signature"
        envelope = (layout / "blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_bytes()
        alg = {"ec": ("ES256", -7), "rsa": ("PS256", -37)}[key]
        if fmt == "jws":
            protected = json.loads(_b64url(json.loads(envelope)["protected"]))
            assert protected["alg"] == alg[0]
        else:
            sign1 = cbor2.loads(envelope)  # COSE_Sign1: tag 18 [protected, {}, payload, sig]
            assert sign1.tag == 18 and cbor2.loads(sign1.value[0])[1] == alg[1]


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_untrusted_token_key_fails_validation(cli: Cli, tmp_path: Path, softhsm: SoftHSM,
                                             ) -> None:
    cli.ok("key", "generate", "other", "--pkcs11-uri", softhsm.uri("ec384"))
    layout = _layout(tmp_path, "other")
    cli.ok("sign", "--oci-layout", f"{layout}:v1", "-k", "other")
    proc = cli.run("validate", "--oci-layout", f"{layout}:v1", "--type", "notation")
    assert proc.returncode != 0 and "FAIL" in proc.stdout + proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize("label", ["ec256", "rsa2048"])
def test_sigstore_in_registry_verified_by_skopeo(cli: Cli, registry: RunningRegistry,
                                                 skopeo: Path, softhsm: SoftHSM,
                                                 label: str) -> None:
    digest = push_test_image(registry, f"hsm/{label}:v1")
    ref = f"{registry.host}/hsm/{label}@{digest}"
    cli.ok("sign", ref, "--sigstore-key", softhsm.uri(label))
    pub = cli.root / f"{label}.pub"
    pub.write_bytes(softhsm.public_key(KEYS[label][1]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    ok, out = skopeo_verify(skopeo, ref, [pub])
    assert ok, out
    other = cli.root / "other.pub"
    other.write_bytes(softhsm.public_key(KEYS["ec384"][1]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert not skopeo_verify(skopeo, ref, [other])[0]
    result = cli.ok("validate", ref, "--type", "sigstore", "--sigstore-pubkey", str(pub))
    assert "PASS" in result.stdout
    # the public key straight from the token: no PIN (no pin-source, no PIN variable)
    token_key = softhsm.uri(label, pin_source=False)
    assert "PASS" in cli.ok("validate", ref, "--sigstore-pubkey", token_key).stdout
    public = softhsm.uri(label, pin_source=False, kind="public")  # type=public is fine too
    assert "PASS" in cli.ok("validate", ref, "--sigstore-pubkey", public).stdout
    wrong = cli.run("validate", ref, "--sigstore-pubkey", softhsm.uri("ec384", pin_source=False))
    assert wrong.returncode == 1 and "FAIL" in wrong.stdout + wrong.stderr, wrong.stderr
    missing = cli.run("validate", ref, "--sigstore-pubkey",
                      softhsm.uri("no-such-key", pin_source=False))
    assert missing.returncode != 0 and "no public key or certificate" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.integration
def test_batch_of_16_at_j8_shares_one_login(cli: Cli, registry: RunningRegistry,
                                            skopeo: Path, softhsm: SoftHSM) -> None:
    refs = []
    for i in range(16):
        push_test_image(registry, f"hsmbatch/img{i}:v1")
        refs.append(f"{registry.host}/hsmbatch/img{i}:v1")
    listing = cli.root / "images.txt"
    listing.write_text("\n".join(refs) + "\n")
    proc = cli.ok("sign", "-f", str(listing), "-j", "8", "-k", "rsa", "-d")
    assert proc.stdout.count("Successfully signed") == 16
    assert proc.stderr.count("PKCS#11: logged in to token 'ocisign-test'") == 1
    assert "Traceback" not in proc.stderr
    checked = cli.ok("validate", "-f", str(listing), "-j", "8", "--type", "notation")
    assert "16 passed, 0 failed" in checked.stdout + checked.stderr
    proc = cli.ok("sign", "-f", str(listing), "-j", "8", "--sigstore-key",
                  softhsm.uri("ec256"), "-d")
    assert proc.stderr.count("PKCS#11: logged in to token") == 1
    pub = cli.root / "ec256.pub"
    pub.write_bytes(softhsm.public_key("01").public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    for ref in (refs[0], refs[-1]):
        ok, out = skopeo_verify(skopeo, ref, [pub])
        assert ok, out


@pytest.mark.integration
def test_sign_artifacts_with_token_keys(cli: Cli, tmp_path: Path, softhsm: SoftHSM) -> None:
    need("sbverify", "osslsigncode", "openssl")
    samples = efi_samples_dir()
    if not (samples / SYSTEMD_BOOT).is_file():
        pytest.skip(f"no EFI samples in {samples} (run scripts/get-efi-samples.sh)")
    # ec256: certPath left empty (the certificate on the token); rsa2048: the test cert file
    for label, cert in (("ec256", ""), ("rsa2048", str(cli.config / "localkeys/rsa.crt"))):
        work = tmp_path / label
        art = write_boot_artifacts(work / "out/artifacts", {
            "bootloader/grubx64.efi": ((samples / SYSTEMD_BOOT).read_bytes(), "bootloader"),
            "verity-hash/root.hash": (ROOT_HASH.encode(), "verity-hash"),
        })
        (work / "sign.yaml").write_text(
            "previewFeatures: [sign-artifacts]\ninput:\n  artifactsPath: ./out/artifacts\n"
            f"signingMethod:\n  key:\n    keyPath: '{softhsm.uri(label)}'\n"
            f"    certPath: '{cert}'\n")
        proc = run_ocisign("sign-artifacts", "--build-dir", "build", "--config-file",
                           "sign.yaml", "--output", "json", env=cli.env, cwd=work)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["signingMethod"] == "pkcs11"
        ca = work / "ca.pem"
        ca.write_bytes(_pem(softhsm.root / "ec256.der") if label == "ec256"
                       else Path(cert).read_bytes())
        efi = art / "bootloader/grubx64.efi"
        out = run_tool("sbverify", "--cert", ca, efi)
        assert out.returncode == 0 and "Signature verification OK" in out.stdout, out.stderr
        out = run_tool("osslsigncode", "verify", "-CAfile", ca, "-in", efi)
        assert out.returncode == 0 and "Signature verification: ok" in out.stdout + out.stderr
        content = work / "root.hash"
        content.write_text(ROOT_HASH)
        out = run_tool("openssl", "smime", "-verify", "-binary", "-inform", "der", "-in",
                       art / "verity-hash/root.hash", "-content", content, "-CAfile", ca,
                       "-purpose", "any", "-out", "/dev/null")
        assert out.returncode == 0 and "Verification successful" in out.stderr, out.stderr


def test_pkcs11_tool_listings_as_cosign_prints_them(cli: Cli, softhsm: SoftHSM) -> None:
    text = cli.ok("pkcs11-tool", "list-tokens", "--module-path", softhsm.module).stdout
    assert f"\nListing tokens of PKCS11 module '{softhsm.module}'\nToken in slot " in text
    assert "\tLabel: ocisign-test\n\tManufacturer: SoftHSM project\n\tModel: SoftHSM v2\n" in text
    tokens = cli.json("pkcs11-tool", "list-tokens", "--module-path", softhsm.module)["tokens"]
    slot = next(t["slot"] for t in tokens if t["label"] == "ocisign-test")
    assert f"Token in slot {slot}\n" in text
    keys = cli.ok("pkcs11-tool", "list-keys-uris", "--module-path", softhsm.module,
                  "--token-label", "ocisign-test", OCISIGN_PKCS11_PIN=softhsm.pin).stdout
    assert f"Listing URIs of keys in slot '{slot}' of PKCS11 module '{softhsm.module}'" in keys
    assert ("\tLabel: ec384\n\tID: 02\n\tURI: pkcs11:token=ocisign-test;id=%02;object=ec384"
            f"?module-path={softhsm.module}\n") in keys
    listed = json.loads(cli.ok("pkcs11-tool", "list-keys-uris", "--module-path",
                               softhsm.module, "--slot-id", str(slot), "--with-slot-id",
                               "--output", "json", COSIGN_PKCS11_PIN=softhsm.pin).stdout)
    assert listed["token"] == "ocisign-test" and listed["slot"] == slot
    by_label = {k["label"]: k for k in listed["keys"]}
    assert set(KEYS) | {"dup"} == set(by_label)
    uri = by_label["ec521"]["uri"]
    assert f";slot-id={slot};" in uri and "pin-value" not in uri
    cert = str(_cert_for(cli, softhsm))
    cli.ok("key", "add", "listed", "--pkcs11-uri",  # a listed URI opens the same key
           uri + f"&pin-source=file:{softhsm.pin_file}", "--cert-file", cert)
    with_pin = cli.run("pkcs11-tool", "list-keys-uris", "--module-path", softhsm.module,
                       "--token-label", "ocisign-test", "--include-pin", "--output", "json",
                       OCISIGN_PKCS11_PIN=softhsm.pin)
    assert with_pin.returncode == 0
    assert all(k["uri"].endswith(f"&pin-value={PIN}") for k in json.loads(with_pin.stdout)["keys"])
    wrong = cli.run("pkcs11-tool", "list-keys-uris", "--module-path", softhsm.module,
                    "--token-label", "ocisign-test", OCISIGN_PKCS11_PIN="0000")
    assert wrong.returncode == 1 and "wrong PIN" in wrong.stderr
    relative = cli.run("pkcs11-tool", "list-tokens", "--module-path", "libsofthsm2.so")
    assert relative.returncode == 2 and "absolute path" in relative.stderr


def _cert_for(cli: Cli, softhsm: SoftHSM) -> Path:
    """A test certificate for ec521 made by `key generate` (in a throw-away config)."""
    (cli.root / "gen").mkdir()
    other = Cli(cli.root / "gen", softhsm)
    other.ok("key", "generate", "ec521", "--pkcs11-uri", softhsm.uri("ec521"))
    return other.config / "localkeys" / "ec521.crt"


def test_entry_without_cert_path_uses_the_token_certificate(cli: Cli, tmp_path: Path,
                                                            softhsm: SoftHSM) -> None:
    """A hand-written notation entry with only keyPath: the certificate with the key's id."""
    store = cli.config / "signingkeys.json"
    doc = json.loads(store.read_text())
    doc["keys"].append({"name": "bare", "keyPath": softhsm.uri("ec256")})
    store.write_text(json.dumps(doc))
    layout = _layout(tmp_path, "bare")
    cli.ok("sign", "--oci-layout", f"{layout}:v1", "-k", "bare")
    assert "PASS" in cli.ok("validate", "--oci-layout", f"{layout}:v1", "--type",
                            "notation").stdout
    doc["keys"][-1]["keyPath"] = softhsm.uri("rsa2048")  # no certificate on the token
    store.write_text(json.dumps(doc))
    proc = cli.run("sign", "--oci-layout", f"{layout}:v1", "-k", "bare", "--force")
    assert proc.returncode == 1 and "no certificate for the PKCS#11 key" in proc.stderr


def test_key_list_never_shows_a_stored_pin(cli: Cli, softhsm: SoftHSM) -> None:
    store = cli.config / "signingkeys.json"
    doc = json.loads(store.read_text())
    key_path = softhsm.uri("ec256", pin_source=False) + "&pin-value=Zq-hand-pin"
    doc["keys"].append({"name": "handmade", "certPath": "/etc/x.pem", "keyPath": key_path})
    store.write_text(json.dumps(doc))
    text = cli.ok("key", "list").stdout
    listed = cli.ok("key", "list", "--output", "json").stdout
    assert "handmade" in text and "handmade" in listed
    assert "Zq-hand-pin" not in text + listed and "pin-value" not in text + listed
