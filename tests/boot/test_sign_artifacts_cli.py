"""`ocisign sign-artifacts` end to end on generated PEs: results, errors, safety."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.boot import artifacts
from ocisign.boot.artifacts import SignArtifactsRequest, SigningIdentity, sign_artifacts
from ocisign.boot.authenticode import signatures
from ocisign.errors import ArtifactError, CertificateError, KeyFileError
from tests.boot.conftest import (
    ROOT_HASH,
    inject_yaml,
    make_pe,
    tree_state,
    write_artifacts,
)
from tests.conftest import cli_env, run_ocisign

ART = "out/artifacts"


def sign(work: Path, *extra: str, config: str = "sign.yaml") -> subprocess.CompletedProcess[str]:
    return run_ocisign(
        "sign-artifacts", "--build-dir", "build", "--config-file", config, *extra, cwd=work
    )


def state_without_build(work: Path) -> dict[str, tuple[str, int]]:
    return {k: v for k, v in tree_state(work).items() if not k.startswith("build")}


def assert_one_error(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    assert expected in errors[0], proc.stderr
    assert any(line.startswith("Hint: ") for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_signs_every_type_and_reports(tiny_folder: Path) -> None:
    before = tree_state(tiny_folder / ART)
    proc = sign(tiny_folder, "--output", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    files = {f["source"]: f for f in report["files"]}
    assert {f["type"] for f in files.values()} == {
        "ukis",
        "uki-addons",
        "shim",
        "bootloader",
        "verity-hash",
    }
    assert all(f["status"] == "signed" for f in files.values())
    after = tree_state(tiny_folder / ART)
    assert after.keys() == before.keys()  # same files, nothing extra left behind
    changed = {k for k in after if after[k][0] != before[k][0]}
    assert changed == {
        "ukis/vmlinuz-6.6.efi",
        "ukis/vmlinuz-6.6.efi.extra.d/a.addon.efi",
        "shim/bootx64.efi",
        "bootloader/grubx64.efi",
        "verity-hash/root.hash",
    }
    assert all(after[k][1] == before[k][1] for k in after)  # modes kept
    for rel in changed - {"verity-hash/root.hash"}:
        assert len(signatures((tiny_folder / ART / rel).read_bytes())) == 1
    # the public certificate, and only it, is written; the temp folder is gone
    ca = tiny_folder / "out/public-keys/ca.pem"
    assert sorted(p.name for p in ca.parent.iterdir()) == ["ca.pem"]
    cert = x509.load_pem_x509_certificate(ca.read_bytes())
    assert cert.fingerprint(hashes.SHA256()).hex() == report["certificate"]["sha256"]
    assert report["signingMethod"] == "ephemeral"
    assert list((tiny_folder / "build").iterdir()) == []
    # upstream's progress lines, in order
    info = [line for line in proc.stderr.splitlines() if line.startswith("INFO: ")]
    assert info[:2] == [
        "INFO: Signing artifacts with ephemeral keys",
        "INFO: Generating ephemeral signing keys",
    ]
    assert info[-2:] == ["INFO: Outputting public keys", "INFO: Success!"]
    assert info.count("INFO: Signing artifact: ./shim/bootx64.efi") == 1


def test_ephemeral_certificate_is_upstreams(tiny_folder: Path) -> None:
    assert sign(tiny_folder).returncode == 0
    cert = x509.load_pem_x509_certificate((tiny_folder / "out/public-keys/ca.pem").read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str)
    assert cn.startswith("Image Customizer Ephemeral Signing ")
    suffix = cn.rsplit(" ", 1)[1]
    assert len(suffix) == 4 and all(c.isdigit() or c.isupper() for c in suffix)
    assert cert.issuer == cert.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=1)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not bc.critical and bc.value.ca is False
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.serial_number > 0 and cert.serial_number.bit_length() > 120
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"


def test_text_summary_and_warning_for_unsigned_types(tiny_folder: Path) -> None:
    art = tiny_folder / ART
    entries = [
        ("./shim/bootx64.efi", "/EFI/BOOT/bootx64.efi", "shim"),
        ("./other/readme.txt", "/readme.txt", "readme"),
        ("./other/empty.bin", "/empty.bin", ""),
        ("./shim/bootx64.efi", "/EFI/BOOT/fallback.efi", "shim"),
    ]
    (art / "other").mkdir()
    (art / "other/readme.txt").write_text("hello")
    (art / "other/empty.bin").write_bytes(b"\0")
    (art / "inject-files.yaml").write_text(inject_yaml(entries))
    proc = sign(tiny_folder)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: Not signing ./other/readme.txt: type 'readme' is not signed" in proc.stderr
    assert "WARNING: Not signing ./other/empty.bin: it has no type" in proc.stderr
    assert (art / "other/readme.txt").read_text() == "hello"
    # the same file listed twice is signed once
    assert len(signatures((art / "shim/bootx64.efi").read_bytes())) == 1
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert rows[0][:3] == ["SOURCE", "TYPE", "RESULT"]
    assert rows[1][:3] == ["./shim/bootx64.efi", "shim", "signed"]
    assert rows[2][:3] == ["./other/readme.txt", "readme", "skipped"]
    assert rows[3][:3] == ["./other/empty.bin", "-", "skipped"]
    assert rows[4][:3] == ["./shim/bootx64.efi", "shim", "signed"]
    assert "same file as ./shim/bootx64.efi" in proc.stdout
    assert f"Public certificate: {Path('out/public-keys/ca.pem')}" in proc.stdout


def test_empty_inject_files_still_writes_the_certificate(tmp_path: Path) -> None:
    art = tmp_path / ART
    art.mkdir(parents=True)
    (art / "inject-files.yaml").write_text("injectFiles: []\npreviewFeatures: [inject-files]\n")
    (tmp_path / "sign.yaml").write_text(
        "previewFeatures: [sign-artifacts]\nsigningMethod:\n  ephemeral: {}\n"
    )
    proc = sign(tmp_path, "--artifacts-paths", ART, "--ephemeral-public-keys-path", "keys")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "keys/ca.pem").is_file()


def test_flags_override_config_and_resolve_from_cwd(tiny_folder: Path) -> None:
    other = tiny_folder / "elsewhere"
    write_artifacts(other, {"shim/bootx64.efi": (make_pe(), "shim")})
    before = tree_state(tiny_folder / ART)
    proc = sign(
        tiny_folder,
        "--artifacts-paths",
        "elsewhere",
        "--ephemeral-public-keys-path",
        "pk",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(signatures((other / "shim/bootx64.efi").read_bytes())) == 1
    assert tree_state(tiny_folder / ART) == before
    assert (tiny_folder / "pk/ca.pem").is_file()
    assert not (tiny_folder / "out/public-keys").exists()


def test_config_paths_resolve_from_config_folder(tiny_folder: Path, tmp_path: Path) -> None:
    # run from another directory: config values follow the config file, not the CWD
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = run_ocisign(
        "sign-artifacts",
        "--build-dir",
        "b",
        "--config-file",
        str(tiny_folder / "sign.yaml"),
        cwd=elsewhere,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tiny_folder / "out/public-keys/ca.pem").is_file()
    assert (elsewhere / "b").is_dir() and list((elsewhere / "b").iterdir()) == []


def test_build_dir_is_created_and_emptied(tiny_folder: Path) -> None:
    proc = run_ocisign(
        "sign-artifacts",
        "--build-dir",
        "deep/new/build",
        "--config-file",
        "sign.yaml",
        cwd=tiny_folder,
    )
    assert proc.returncode == 0, proc.stderr
    assert list((tiny_folder / "deep/new/build").iterdir()) == []


def test_rerun_refuses_signed_verity_and_changes_nothing(tiny_folder: Path) -> None:
    assert sign(tiny_folder).returncode == 0
    ca_before = (tiny_folder / "out/public-keys/ca.pem").read_bytes()
    before = state_without_build(tiny_folder)
    proc = sign(tiny_folder)
    assert_one_error(
        proc,
        "failed to sign verity hash file (path='out/artifacts/verity-hash/root.hash'): "
        "the file does not hold a hex root hash (was it signed already?)",
    )
    assert state_without_build(tiny_folder) == before
    assert (tiny_folder / "out/public-keys/ca.pem").read_bytes() == ca_before
    assert list((tiny_folder / "build").iterdir()) == []
    # without the verity entry, EFI files get one more signature each
    art = tiny_folder / ART
    (art / "inject-files.yaml").write_text(
        inject_yaml([("./shim/bootx64.efi", "/EFI/BOOT/bootx64.efi", "shim")])
    )
    assert sign(tiny_folder).returncode == 0
    assert len(signatures((art / "shim/bootx64.efi").read_bytes())) == 2


CONFIG_OK = "previewFeatures: [sign-artifacts]\ninput:\n  artifactsPath: ./out/artifacts\n"
EPHEMERAL = "signingMethod:\n  ephemeral:\n    publicKeysPath: ./out/public-keys\n"


Mutation = Callable[[Path], object]


def _write(rel: str, content: str | bytes) -> Mutation:
    def apply(work: Path) -> None:
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)

    return apply


def _remove(rel: str) -> Mutation:
    return lambda work: (work / rel).unlink()


ERROR_CASES = [
    (
        "no-preview",
        _write("sign.yaml", "input:\n  artifactsPath: ./out/artifacts\n" + EPHEMERAL),
        [],
        "config is invalid: the 'sign-artifacts' preview feature must be enabled to "
        "sign-artifacts command",
    ),
    (
        "no-method",
        _write("sign.yaml", CONFIG_OK),
        [],
        "config is invalid: invalid 'signingMethod' field: one and only one signing method "
        "must be specified",
    ),
    (
        "empty-method",
        _write("sign.yaml", CONFIG_OK + "signingMethod: {}\n"),
        [],
        "config is invalid: invalid 'signingMethod' field: one and only one signing method "
        "must be specified",
    ),
    (
        "unknown-preview",
        _write(
            "sign.yaml", CONFIG_OK.replace("[sign-artifacts]", "[sign-artifacts, x]") + EPHEMERAL
        ),
        [],
        "config is invalid: invalid 'previewFeatures' item at index 1: invalid preview feature: x",
    ),
    (
        "unknown-key",
        _write("sign.yaml", CONFIG_OK + EPHEMERAL + "extra: 1\n"),
        [],
        "field extra not found in type SignArtifactsConfig",
    ),
    (
        "no-artifacts-path",
        _write("sign.yaml", "previewFeatures: [sign-artifacts]\n" + EPHEMERAL),
        [],
        "no artifacts path provided",
    ),
    (
        "no-public-keys-path",
        _write("sign.yaml", CONFIG_OK + "signingMethod:\n  ephemeral: {}\n"),
        [],
        "no public keys path provided for ephemeral keys signing method",
    ),
    (
        "public-keys-flag-with-key-method",
        _write(
            "sign.yaml", CONFIG_OK + "signingMethod:\n  key: {keyPath: k.pem, certPath: c.pem}\n"
        ),
        ["--ephemeral-public-keys-path", "pk"],
        "cannot specify --ephemeral-public-keys-path if ephemeral signing method is not used",
    ),
    (
        "missing-config",
        _remove("sign.yaml"),
        [],
        "open sign.yaml: no such file or directory",
    ),
    (
        "missing-artifacts-dir",
        lambda work: None,
        ["--artifacts-paths", "nowhere"],
        "failed to read inject-files.yaml file: open nowhere/inject-files.yaml: no such file "
        "or directory",
    ),
    (
        "missing-inject-files",
        _remove(f"{ART}/inject-files.yaml"),
        [],
        f"failed to read inject-files.yaml file: open {ART}/inject-files.yaml: no such file "
        "or directory",
    ),
    (
        "invalid-inject-files",
        _write(f"{ART}/inject-files.yaml", "injectFiles: []\n"),
        [],
        "invalid inject-files.yaml file: the 'inject-files' feature is currently in preview",
    ),
    (
        "missing-source",  # earlier entries were signed (in temp copies) before this fails
        _remove(f"{ART}/bootloader/grubx64.efi"),
        [],
        f"failed to sign EFI file (path='{ART}/bootloader/grubx64.efi'): open "
        f"{ART}/bootloader/grubx64.efi: no such file or directory",
    ),
    (
        "not-a-pe",
        _write(f"{ART}/bootloader/grubx64.efi", "#!/bin/sh\necho not an EFI file\n" * 4),
        [],
        f"failed to sign EFI file (path='{ART}/bootloader/grubx64.efi'): not a PE file "
        "(no MZ header)",
    ),
    (
        "verity-not-hex",
        _write(f"{ART}/verity-hash/root.hash", ROOT_HASH + "\n"),
        [],
        f"failed to sign verity hash file (path='{ART}/verity-hash/root.hash'): the file does "
        "not hold a hex root hash",
    ),
    (
        "public-keys-dir-not-creatable",
        _write("blocker", "a file"),
        ["--ephemeral-public-keys-path", "blocker/keys"],
        "failed to generate ephemeral public keys output directory (path='blocker/keys'):",
    ),
    (
        "build-dir-not-creatable",
        _write("blocker", "a file"),
        ["--build-dir", "blocker/build"],
        "failed to create temporary build directory:",
    ),
    (
        "key-method-missing-key",
        _write(
            "sign.yaml", CONFIG_OK + "signingMethod:\n  key: {keyPath: k.pem, certPath: c.pem}\n"
        ),
        [],
        "key file k.pem does not exist",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "extra", "expected"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_leave_everything_unchanged(
    tiny_folder: Path,
    mutate: Mutation,
    extra: list[str],
    expected: str,
) -> None:
    mutate(tiny_folder)
    before = state_without_build(tiny_folder)
    proc = sign(tiny_folder, *extra)
    assert_one_error(proc, expected)
    assert state_without_build(tiny_folder) == before
    build = tiny_folder / "build"
    assert not build.exists() or list(build.iterdir()) == []


def test_missing_required_flags_are_usage_errors(tiny_folder: Path) -> None:
    proc = run_ocisign("sign-artifacts", "--config-file", "sign.yaml", cwd=tiny_folder)
    assert proc.returncode == 2
    assert "Missing option '--build-dir'" in proc.stderr
    proc = run_ocisign("sign-artifacts", "--build-dir", "b", cwd=tiny_folder)
    assert proc.returncode == 2
    assert "Missing option '--config-file'" in proc.stderr


def test_log_level_and_log_file(tiny_folder: Path) -> None:
    proc = sign(tiny_folder, "--log-level", "error", "--log-file", "logs/run.log")
    assert proc.returncode == 0, proc.stderr
    assert "INFO" not in proc.stderr
    log = (tiny_folder / "logs/run.log").read_text()
    assert "Signing artifact: ./shim/bootx64.efi" in log
    assert "Success!" in log
    assert "PRIVATE" not in log


def _key_and_cert(folder: Path) -> SigningIdentity:
    identity = artifacts.generate_ephemeral_identity()
    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / "key.pem").write_bytes(key_pem)
    (folder / "key.pem").chmod(0o600)
    (folder / "cert.pem").write_bytes(identity.certs[0].public_bytes(serialization.Encoding.PEM))
    return identity


def test_key_signing_method(tiny_folder: Path) -> None:
    keys = tiny_folder / "keys"
    keys.mkdir()
    identity = _key_and_cert(keys)
    (tiny_folder / "sign.yaml").write_text(
        CONFIG_OK
        + "signingMethod:\n  key:\n    keyPath: keys/key.pem\n    certPath: keys/cert.pem\n"
    )
    proc = sign(tiny_folder, "--output", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["signingMethod"] == "key"
    assert report["certificate"]["path"] is None
    assert report["certificate"]["sha256"] == identity.certs[0].fingerprint(hashes.SHA256()).hex()
    assert not (tiny_folder / "out/public-keys").exists()


def test_key_signing_method_wrong_certificate(tiny_folder: Path) -> None:
    keys = tiny_folder / "keys"
    keys.mkdir()
    _key_and_cert(keys)
    other = artifacts.generate_ephemeral_identity()
    (keys / "cert.pem").write_bytes(other.certs[0].public_bytes(serialization.Encoding.PEM))
    (tiny_folder / "sign.yaml").write_text(
        CONFIG_OK + "signingMethod:\n  key: {keyPath: keys/key.pem, certPath: keys/cert.pem}\n"
    )
    before = state_without_build(tiny_folder)
    assert_one_error(sign(tiny_folder), "does not belong to the key")
    assert state_without_build(tiny_folder) == before


def test_private_key_never_touches_disk_or_argv(
    tiny_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[SigningIdentity] = []
    real_generate = artifacts.generate_ephemeral_identity
    real_stage = artifacts._stage
    scans: list[list[str]] = []

    def generate() -> SigningIdentity:
        made.append(real_generate())
        return made[-1]

    def secrets_on_disk() -> list[str]:
        key = made[0].key
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        d = key.private_numbers().d.to_bytes(256, "big")
        found = []
        for path in tiny_folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                if b"PRIVATE KEY" in data or der in data or d in data:
                    found.append(str(path))
        return found

    def stage(tmp: Path, original: Path, data: bytes) -> Path:
        staged = real_stage(tmp, original, data)
        assert staged.parent == tmp.absolute()  # staged inside the build temp folder
        scans.append(secrets_on_disk())
        return staged

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("sign-artifacts must not run external programs")

    monkeypatch.setattr(artifacts, "generate_ephemeral_identity", generate)
    monkeypatch.setattr(artifacts, "_stage", stage)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.chdir(tiny_folder)
    result = sign_artifacts(SignArtifactsRequest(Path("sign.yaml"), Path("build")))
    assert [f.result for f in result.files] == ["signed"] * 5
    assert len(scans) == 5 and all(scan == [] for scan in scans)
    assert secrets_on_disk() == []
    assert list((tiny_folder / "build").iterdir()) == []


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from ocisign.cli import cli\n"
        "try:\n    cli.main(['sign-artifacts', '--help'], prog_name='ocisign')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('cryptography', 'pydantic', 'yaml', 'rich', 'ocisign.boot.artifacts')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env()
    )
    assert "--artifacts-paths DIR" in out.stdout
    assert "--ephemeral-public-keys-path DIR" in out.stdout
    assert "HEAVY []" in out.stdout


def test_encrypted_or_garbage_key_is_refused(tmp_path: Path) -> None:
    identity = artifacts.generate_ephemeral_identity()
    key = tmp_path / "key.pem"
    cert = tmp_path / "cert.pem"
    cert.write_bytes(identity.certs[0].public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match="encrypted"):
        artifacts.load_signing_identity(key, cert)
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key, not a certificate")
    with pytest.raises(KeyFileError, match="is not a readable private key"):
        artifacts.load_signing_identity(garbage, cert)
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(CertificateError, match=r"no readable X\.509 certificate"):
        artifacts.load_signing_identity(key, garbage)
    assert artifacts.load_signing_identity(key, cert).certs == identity.certs


@pytest.mark.parametrize("with_old_ca", [False, True])
def test_failed_rename_is_undone(
    tiny_folder: Path, monkeypatch: pytest.MonkeyPatch, with_old_ca: bool
) -> None:
    if with_old_ca:
        (tiny_folder / "out/public-keys").mkdir()
        (tiny_folder / "out/public-keys/ca.pem").write_text("previous certificate")
    before = state_without_build(tiny_folder)
    real_replace = os.replace
    commits: list[str] = []

    def flaky_replace(src: str | Path, dst: str | Path) -> None:
        if "sign-artifacts-" in str(src) and ART in str(dst) and len(commits) < 3:
            commits.append(str(dst))
            if len(commits) == 3:
                raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    monkeypatch.chdir(tiny_folder)
    with pytest.raises(ArtifactError, match="with its signed copy") as info:
        sign_artifacts(SignArtifactsRequest(Path("sign.yaml"), Path("build")))
    assert "Input/output error" in info.value.message
    assert len(commits) == 3  # two files were replaced, then put back
    assert state_without_build(tiny_folder) == before
    assert list((tiny_folder / "build").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_artifact_folder_fails_before_any_change(tiny_folder: Path) -> None:
    shim_dir = tiny_folder / ART / "shim"
    shim_dir.chmod(0o555)
    try:
        before = state_without_build(tiny_folder)
        assert_one_error(sign(tiny_folder), "its folder is not writable")
        assert state_without_build(tiny_folder) == before
    finally:
        shim_dir.chmod(0o755)
