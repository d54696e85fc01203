"""Token keys on a real SoftHSM token: every scheme, the builders, certificates, threads, errors.

Signatures are checked with ``cryptography`` against the public key read by OpenSC's
pkcs11-tool (not by our code), and boot artifacts with openssl, sbverify and osslsigncode.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from ocisign.boot.artifacts import SigningIdentity, sign_efi, sign_verity_hash
from ocisign.envelopes import simplesigning as ss
from ocisign.errors import CertificateError, KeyFileError, OcisignError
from ocisign.keys.algorithms import KEY_SPECS, Scheme, key_spec_of, sign_raw, verify_raw
from ocisign.keys.generate import make_test_certificate
from ocisign.keys.pem import certificate_pem, public_key_der
from tests.boot.conftest import ROOT_HASH, SYSTEMD_BOOT, efi_samples_dir, need, run_tool
from tests.conftest import SRC
from tests.fixtures.pkcs11 import KEYS, SoftHSM, softhsm_conf
from tests.sign.conftest import LAYOUTS

pkcs11 = pytest.importorskip("ocisign.signers.pkcs11")

SPECS = {"ec256": "EC-256", "ec384": "EC-384", "ec521": "EC-521", "rsa2048": "RSA-2048",
         "rsa3072": "RSA-3072"}


def tool_public_key(softhsm: SoftHSM, label: str) -> Any:
    return softhsm.public_key(KEYS[label][1])


@pytest.mark.parametrize("label", list(SPECS))
def test_every_key_signs_every_scheme(softhsm: SoftHSM, label: str) -> None:
    key = pkcs11.open_key(softhsm.uri(label))
    public = tool_public_key(softhsm, label)
    assert public_key_der(key) == public_key_der(public)  # type: ignore[arg-type]
    spec = key_spec_of(key)
    assert spec is KEY_SPECS[SPECS[label]]
    data = b"protected.payload"
    raw = sign_raw(key, data)
    if spec.is_ec:
        assert len(raw) == 2 * spec.ec_size  # 64 / 96 / 132 bytes of r || s
    verify_raw(public, spec, data, raw)  # PSS salt must equal the hash length (no AUTO)
    sig = ss.sign_payload(pkcs11_signer(key), b"simple signing payload")
    assert ss.verify_signature(public, b"simple signing payload", sig)  # type: ignore[arg-type]
    assert not ss.verify_signature(public, b"another payload", sig)  # type: ignore[arg-type]


def pkcs11_signer(key: object) -> object:
    from ocisign.signers.local import LocalSigner

    return LocalSigner(key)


def test_prehashed_input(softhsm: SoftHSM) -> None:
    digest = hashlib.sha384(b"message").digest()
    ec_key = pkcs11.open_key(softhsm.uri("ec384"))
    der = ec_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    ec_key.public_key().verify(der, b"message", ec.ECDSA(hashes.SHA384()))
    rsa_key = pkcs11.open_key(softhsm.uri("rsa2048"))
    pss = padding.PSS(padding.MGF1(hashes.SHA384()), 48)
    sig = rsa_key.sign(digest, pss, utils.Prehashed(hashes.SHA384()))
    rsa_key.public_key().verify(sig, b"message", pss, hashes.SHA384())
    v15 = rsa_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA384()))
    rsa_key.public_key().verify(v15, b"message", padding.PKCS1v15(), hashes.SHA384())


def test_secrets_never_leave_the_token(softhsm: SoftHSM) -> None:
    key = pkcs11.open_key(softhsm.uri("rsa2048"))
    with pytest.raises(KeyFileError, match="on the PKCS#11 token"):
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    with pytest.raises(KeyFileError):
        key.private_numbers()
    with pytest.raises(OcisignError, match="explicit salt length"):
        key.sign(b"x", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
                 hashes.SHA256())


def test_builders_sign_with_the_token(softhsm: SoftHSM, tmp_path: Path) -> None:
    """x509 test certificates and detached PKCS#7 (verity) made on the token verify."""
    need("openssl")
    for label in ("ec256", "rsa2048"):
        key = pkcs11.open_key(softhsm.uri(label), Scheme.CONTAINERS)
        cert = make_test_certificate(key, label)
        cert.verify_directly_issued_by(cert)
        signed = sign_verity_hash(ROOT_HASH.encode(), SigningIdentity(key, [cert]))
        (tmp_path / "root.hash").write_text(ROOT_HASH)
        (tmp_path / "root.p7s").write_bytes(signed)
        (tmp_path / "ca.pem").write_bytes(certificate_pem([cert]))
        out = run_tool("openssl", "smime", "-verify", "-binary", "-inform", "der", "-in",
                       tmp_path / "root.p7s", "-content", tmp_path / "root.hash", "-CAfile",
                       tmp_path / "ca.pem", "-purpose", "any", "-out", "/dev/null")
        assert out.returncode == 0 and "Verification successful" in out.stderr, out.stderr


@pytest.mark.integration
def test_authenticode_on_a_real_efi_binary(softhsm: SoftHSM, tmp_path: Path) -> None:
    need("sbverify", "osslsigncode")
    efi_samples = efi_samples_dir()
    if not (efi_samples / SYSTEMD_BOOT).is_file():
        pytest.skip(f"no EFI samples in {efi_samples} (run scripts/get-efi-samples.sh)")
    for label in ("rsa2048", "ec256"):
        key = pkcs11.open_key(softhsm.uri(label), Scheme.CONTAINERS)
        cert = make_test_certificate(key, label)
        ca = tmp_path / f"{label}.pem"
        ca.write_bytes(certificate_pem([cert]))
        signed = tmp_path / f"{label}.efi"
        signed.write_bytes(sign_efi((efi_samples / SYSTEMD_BOOT).read_bytes(),
                                    SigningIdentity(key, [cert])))
        out = run_tool("osslsigncode", "verify", "-CAfile", ca, "-in", signed)
        assert out.returncode == 0 and "Signature verification: ok" in out.stdout + out.stderr
        out = run_tool("sbverify", "--cert", ca, signed)
        assert out.returncode == 0 and "Signature verification OK" in out.stdout, out.stderr


def test_certificates_on_the_token(softhsm: SoftHSM, tmp_path: Path) -> None:
    ec256 = pkcs11.open_key(softhsm.uri("ec256"))
    by_id = pkcs11.load_chain(ec256, None)
    assert [c.subject.rfc4514_string() for c in by_id] == [
        "CN=ec256,O=Notary,L=Seattle,ST=WA,C=US"]
    ec384 = pkcs11.open_key(softhsm.uri("ec384"))
    assert "CN=ec384" in pkcs11.load_chain(ec384, None)[0].subject.rfc4514_string()  # by label
    cert_uri = softhsm.uri("ec256", kind="cert")
    assert pkcs11.load_chain(ec256, cert_uri) == by_id
    pem_file = tmp_path / "leaf.pem"
    pem_file.write_bytes(certificate_pem(by_id))
    assert pkcs11.load_chain(ec256, str(pem_file)) == by_id
    with pytest.raises(CertificateError, match="do not match"):  # ec521's cert is ec256's
        pkcs11.load_chain(pkcs11.open_key(softhsm.uri("ec521")), None)
    with pytest.raises(CertificateError, match="do not match"):
        pkcs11.load_chain(ec384, str(pem_file))
    rsa = pkcs11.open_key(softhsm.uri("rsa2048"))
    assert pkcs11.load_chain(rsa, None) == []
    with pytest.raises(CertificateError, match="no certificate") as err:
        pkcs11.token_signer(softhsm.uri("rsa2048"), None)
    assert err.value.hint and "--cert-file" in err.value.hint
    with pytest.raises(CertificateError, match="no certificate"):
        pkcs11.load_chain(rsa, softhsm.uri("rsa2048", kind="cert"))
    signer = pkcs11.token_signer(softhsm.uri("ec256"), None)
    assert signer.key_spec() == "EC-256" and signer.certificate_chain() == by_id
    assert isinstance(by_id[0], x509.Certificate)


def test_lookup_errors(softhsm: SoftHSM) -> None:
    with pytest.raises(KeyFileError, match="no private key object='nope'") as err:
        pkcs11.open_key(softhsm.uri("nope"))
    assert err.value.hint and "list-keys-uris" in err.value.hint
    with pytest.raises(KeyFileError, match="2 private keys match") as err:
        pkcs11.open_key(softhsm.uri("dup"))
    assert err.value.hint and "add id=" in err.value.hint
    key = pkcs11.open_key(softhsm.uri("dup").replace(";object=dup", ";id=%11;object=dup"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    missing = softhsm.uri("ec256").replace("token=ocisign-test", "token=missing")
    with pytest.raises(KeyFileError, match="no PKCS#11 token 'missing'") as err:
        pkcs11.open_key(missing)
    assert "'ocisign-test'" in err.value.message and "list-tokens" in (err.value.hint or "")


def test_sixteen_threads_share_one_session(softhsm: SoftHSM) -> None:
    """The regression test for the crash a session per thread caused (spec §6)."""
    key = pkcs11.open_key(softhsm.uri("ec256"))
    public = key.public_key()
    before = pkcs11.login_count()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(40):
                again = pkcs11.open_key(softhsm.uri("ec256"))
                data = f"{threading.get_ident()}-{i}".encode()
                public.verify(again.sign(data, ec.ECDSA(hashes.SHA256())), data,
                              ec.ECDSA(hashes.SHA256()))
        except BaseException as exc:  # collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pkcs11.login_count() == before <= 1  # this process logged in once at most


def cli(softhsm: SoftHSM, *args: str, env: dict[str, str] | None = None,
        conf: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process (its own login): for the errors a login leaves behind."""
    environ = {**os.environ, "PYTHONPATH": str(SRC),
               "OCISIGN_CONFIG_DIR": str(softhsm.root / "cfg"), **softhsm.env(), **(env or {})}
    if conf is not None:
        environ["SOFTHSM2_CONF"] = str(conf)
    return subprocess.run([sys.executable, "-m", "ocisign", *args], capture_output=True,
                          text=True, env=environ, timeout=300, stdin=subprocess.DEVNULL)


def one_error(proc: subprocess.CompletedProcess[str], text: str) -> str:
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and text in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def sigstore_sign(softhsm: SoftHSM, uri: str, tmp_path: Path, **kw: object) -> (
        subprocess.CompletedProcess[str]):
    layout = tmp_path / "layout"
    if not layout.exists():
        shutil.copytree(LAYOUTS / "e2e", layout)
    return cli(softhsm, "sign", "--oci-layout", f"{layout}:v1", "--sigstore-key", uri,
               **kw)  # type: ignore[arg-type]


def test_wrong_pin_no_pin_and_pin_never_printed(softhsm: SoftHSM, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("Zq-wrong-pin\n")
    uri = softhsm.uri("ec256", pin_source=False) + f"&pin-source=file:{wrong}"
    err = one_error(sigstore_sign(softhsm, uri, tmp_path), "wrong PIN for PKCS#11 token")
    assert "pin-source" in err and "Zq-wrong-pin" not in err
    err = one_error(sigstore_sign(softhsm, softhsm.uri("ec256", pin_source=False), tmp_path),
                    "needs a PIN and there is no terminal")
    assert "OCISIGN_PKCS11_PIN" in err
    proc = sigstore_sign(softhsm, softhsm.uri("ec256", pin_source=False) + "&pin-value=Zq-bad-pin",
                         tmp_path)
    assert "Zq-bad-pin" not in one_error(proc, "wrong PIN") + proc.stdout
    assert "holds a pin-value" in proc.stderr
    ok = sigstore_sign(softhsm, softhsm.uri("ec256", pin_source=False), tmp_path,
                       env={"COSIGN_PKCS11_PIN": softhsm.pin})
    assert ok.returncode == 0, ok.stderr


def test_unknown_token_object_and_module(softhsm: SoftHSM, tmp_path: Path) -> None:
    one_error(sigstore_sign(softhsm, softhsm.uri("ec256").replace("token=ocisign-test",
                                                                   "token=other"), tmp_path),
              "no PKCS#11 token 'other'")
    one_error(sigstore_sign(softhsm, softhsm.uri("nothing"), tmp_path),
              "no private key object='nothing'")
    gone = softhsm.uri("ec256").replace(softhsm.module, "/usr/lib/nowhere/libgone.so")
    err = one_error(sigstore_sign(softhsm, gone, tmp_path), "/usr/lib/nowhere/libgone.so")
    assert "does not exist" in err
    not_a_module = tmp_path / "fake.so"
    not_a_module.write_bytes(b"not an ELF file")
    fake = softhsm.uri("ec256").replace(softhsm.module, str(not_a_module))
    one_error(sigstore_sign(softhsm, fake, tmp_path), "cannot load the PKCS#11 module")


def test_missing_mechanism_falls_back_then_fails_clearly(softhsm: SoftHSM, tmp_path: Path,
                                                         ) -> None:
    """SoftHSM's mechanism filter (``-,NAME``: a blacklist) over the same token folder."""
    tokens = softhsm.conf.parent
    no_pss = softhsm_conf(tmp_path / "a", "slots.mechanisms = -,CKM_RSA_PKCS_PSS\n")
    no_pss.write_text(no_pss.read_text().replace(str(tmp_path / "a"), str(tokens)))
    script = (
        "import sys\n"
        "from ocisign.keys.algorithms import sign_raw, verify_raw, key_spec_of\n"
        "from ocisign.signers.pkcs11 import open_key\n"
        "k = open_key(sys.argv[1])\n"
        "verify_raw(k.public_key(), key_spec_of(k), b'x', sign_raw(k, b'x'))\n"
        "print('verified', sorted(m.name for m in k._opened.mechanisms if 'PSS' in m.name))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "SOFTHSM2_CONF": str(no_pss)}
    proc = subprocess.run([sys.executable, "-c", script, softhsm.uri("rsa2048")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stdout and "'RSA_PKCS_PSS'" not in proc.stdout
    none = softhsm_conf(tmp_path / "b", "slots.mechanisms = -,CKM_RSA_PKCS_PSS,"
                        "CKM_SHA256_RSA_PKCS_PSS\n")
    none.write_text(none.read_text().replace(str(tmp_path / "b"), str(tokens)))
    err = one_error(cli(softhsm, "key", "add", "nopss", "--pkcs11-uri",
                        softhsm.uri("rsa2048"), conf=none,
                        env={"OCISIGN_CONFIG_DIR": str(tmp_path / "cfg")}),
                    "cannot make RSASSA-PSS signatures")
    assert "CKM_RSA_PKCS_PSS" in err and "mechanisms" in err


def test_without_python_pkcs11(softhsm: SoftHSM, tmp_path: Path) -> None:
    """One line naming the extra; commands without a token key never import pkcs11."""
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "pkcs11.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"PYTHONPATH": f"{hidden}:{SRC}"}
    err = one_error(sigstore_sign(softhsm, softhsm.uri("ec256"), tmp_path, env=env),
                    "pkcs11: keys need the python-pkcs11 package")
    assert "pip install 'ocisign[pkcs11]'" in err and len(err.strip().splitlines()) == 2
    one_error(cli(softhsm, "pkcs11-tool", "list-tokens", "--module-path", softhsm.module,
                  env=env), "python-pkcs11")
    plain = tmp_path / "plain"
    plain.mkdir()
    ok = cli(softhsm, "key", "generate", "filekey", "--type", "ecdsa-p256",
             env={**env, "OCISIGN_CONFIG_DIR": str(plain)})
    assert ok.returncode == 0, ok.stderr
    check = subprocess.run(
        [sys.executable, "-c",
         "import sys, ocisign.cli.key, ocisign.cli.sign, ocisign.notary.attach, "
         "ocisign.sigstore.attach, ocisign.boot.artifacts, ocisign.signing\n"
         "assert 'pkcs11' not in sys.modules, 'imported'"],
        env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_key_types_refused_by_notary_and_the_public_key(softhsm: SoftHSM) -> None:
    key = pkcs11.open_key(softhsm.uri("rsa3072"))
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    assert base64.b64encode(public_key_der(key))


def test_token_filters_and_ignoring_the_token_certificate(softhsm: SoftHSM,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokens = pkcs11.list_tokens(softhsm.module)
    token = next(t for t in tokens if t.label == softhsm.label)
    by_serial = softhsm.uri("ec256").replace(";object=", f";serial={token.serial};object=")
    assert pkcs11.open_key(by_serial.replace(";object=", ";type=private;object=")).key_size == 256
    by_slot = softhsm.uri("ec256").replace("token=ocisign-test", f"slot-id={token.slot}")
    assert pkcs11.open_key(by_slot).token_label == softhsm.label
    with pytest.raises(KeyFileError, match="no PKCS#11 token"):
        pkcs11.open_key(by_serial.replace(token.serial, "0000"))
    key = pkcs11.open_key(softhsm.uri("ec256"))
    assert pkcs11.load_chain(key, None)
    monkeypatch.setenv("COSIGN_PKCS11_IGNORE_CERTIFICATE", "1")
    assert pkcs11.load_chain(key, None) == []
