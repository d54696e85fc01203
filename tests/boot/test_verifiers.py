"""Signed artifacts checked by tools nobody here wrote: sbverify, osslsigncode, openssl."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ocisign.boot import artifacts
from ocisign.boot.artifacts import SignArtifactsRequest, SigningIdentity, sign_artifacts
from ocisign.boot.authenticode import certificates, parse_pe, sign_pe, signatures
from tests.boot.conftest import (
    ROOT_HASH,
    SHIM,
    independent_checksum,
    inject_yaml,
    make_pe,
    need,
    run_tool,
)
from tests.conftest import run_ocisign

pytestmark = pytest.mark.integration

ART = "out/artifacts"
EFI_FILES = [
    "ukis/vmlinuz-6.1.0-28-amd64.efi",
    "shim/bootx64.efi",
    "bootloader/grubx64.efi",
    "systemd-boot/systemd-bootx64.efi",
]


def sbverify_list(path: Path) -> list[str]:
    out = run_tool("sbverify", "--list", path)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.startswith("signature ")]


def assert_sbverify_ok(path: Path, ca: Path) -> None:
    out = run_tool("sbverify", "--cert", ca, path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Signature verification OK" in out.stdout


def assert_osslsigncode_ok(path: Path, ca: Path) -> None:
    # offline: no CRL distribution points in the ephemeral certificate, no timestamp needed
    out = run_tool("osslsigncode", "verify", "-CAfile", ca, "-in", path)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "Signature verification: ok" in text
    assert "invalid PE checksum" not in text  # osslsigncode recomputes the checksum


def only_signature(data: bytes, index: int) -> bytes:
    """A copy of a signed PE whose certificate table holds just one of its signatures.

    sbverify accepts Microsoft's signatures on shim whatever --cert says, so our appended
    signature is checked alone. The Authenticode digest ignores the table, so it stays valid.
    """
    layout = parse_pe(data)
    entry = certificates(data)[index]
    (length,) = struct.unpack_from("<I", data, entry.offset)
    table = data[entry.offset : entry.offset + length]
    table += b"\0" * (-len(table) % 8)
    out = bytearray(data[: layout.cert_table_offset] + table)
    struct.pack_into("<II", out, layout.security_dir_offset, layout.cert_table_offset, len(table))
    struct.pack_into("<I", out, layout.checksum_offset, independent_checksum(bytes(out)))
    return bytes(out)


def sign_capturing_key(work: Path, monkeypatch: pytest.MonkeyPatch) -> SigningIdentity:
    """Run the pipeline in-process and return the ephemeral identity it made."""
    made: list[SigningIdentity] = []
    real = artifacts.generate_ephemeral_identity

    def generate() -> SigningIdentity:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(artifacts, "generate_ephemeral_identity", generate)
    monkeypatch.chdir(work)
    sign_artifacts(SignArtifactsRequest(Path("sign.yaml"), Path("build")))
    return made[0]


def test_real_efi_files_verify_and_shim_keeps_microsoft(
    real_folder: Path, efi_samples: Path
) -> None:
    need("sbverify", "osslsigncode")
    original_shim = (efi_samples / SHIM).read_bytes()
    proc = run_ocisign(
        "sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml", cwd=real_folder
    )
    assert proc.returncode == 0, proc.stderr
    ca = real_folder / "out/public-keys/ca.pem"
    for rel in EFI_FILES:
        path = real_folder / ART / rel
        assert_sbverify_ok(path, ca)
        data = path.read_bytes()
        (stored,) = struct.unpack_from("<I", data, parse_pe(data).checksum_offset)
        assert stored == independent_checksum(data)
        if rel != "shim/bootx64.efi":
            assert len(sbverify_list(path)) == 1
            assert_osslsigncode_ok(path, ca)
    shim = (real_folder / ART / "shim/bootx64.efi").read_bytes()
    blobs = signatures(shim)
    assert len(blobs) == 3 and len(sbverify_list(real_folder / ART / "shim/bootx64.efi")) == 3
    assert blobs[:2] == signatures(original_shim)  # Microsoft's two signatures, byte for byte
    listing = run_tool("sbverify", "--list", real_folder / ART / "shim/bootx64.efi").stdout
    assert "Microsoft Corporation UEFI CA 2011" in listing
    assert "Microsoft UEFI CA 2023" in listing
    assert "Image Customizer Ephemeral Signing" in listing
    # our signature, alone, verifies with both tools; Microsoft's first one does not
    ours = real_folder / "ours.efi"
    ours.write_bytes(only_signature(shim, 2))
    assert_sbverify_ok(ours, ca)
    assert_osslsigncode_ok(ours, ca)
    microsoft = real_folder / "microsoft.efi"
    microsoft.write_bytes(only_signature(shim, 0))
    assert run_tool("osslsigncode", "verify", "-CAfile", ca, "-in", microsoft).returncode != 0


def test_sbverify_rejects_another_certificate(real_folder: Path, tmp_path: Path) -> None:
    need("sbverify")
    proc = run_ocisign(
        "sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml", cwd=real_folder
    )
    assert proc.returncode == 0, proc.stderr
    stranger = artifacts.generate_ephemeral_identity().certs[0]
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    for rel in EFI_FILES:
        data = (real_folder / ART / rel).read_bytes()
        alone = tmp_path / "alone.efi"
        alone.write_bytes(only_signature(data, len(signatures(data)) - 1))
        assert_sbverify_ok(alone, real_folder / "out/public-keys/ca.pem")
        out = run_tool("sbverify", "--cert", other_ca, alone)
        assert out.returncode != 0, rel


def test_verity_signature_verifies_and_matches_openssl(
    real_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    need("openssl")
    identity = sign_capturing_key(real_folder, monkeypatch)
    signature = real_folder / ART / "verity-hash/root.hash"
    content = tmp_path / "root.hash"
    content.write_text(ROOT_HASH)
    ca = real_folder / "out/public-keys/ca.pem"
    out = run_tool(
        "openssl", "smime", "-verify", "-binary", "-inform", "der", "-in", signature,
        "-content", content, "-CAfile", ca, "-purpose", "any", "-out", os.devnull,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Verification successful" in out.stderr
    # test-only: export the key (0600) to have openssl make the reference signature
    key_file = tmp_path / "key.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            identity.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    reference = tmp_path / "reference.p7s"
    out = run_tool(
        "openssl", "smime", "-sign", "-noattr", "-binary", "-in", content, "-signer", ca,
        "-inkey", key_file, "-outform", "der", "-out", reference,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert signature.read_bytes() == reference.read_bytes()
    # a different root hash does not verify
    content.write_text(ROOT_HASH.replace("3f", "4f"))
    out = run_tool(
        "openssl", "smime", "-verify", "-binary", "-inform", "der", "-in", signature,
        "-content", content, "-CAfile", ca, "-purpose", "any", "-out", os.devnull,
    )  # fmt: skip
    assert out.returncode != 0


def test_rerun_on_real_folder(real_folder: Path) -> None:
    need("sbverify")

    def sign() -> int:
        return run_ocisign(
            "sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml", cwd=real_folder
        ).returncode

    assert sign() == 0
    signed = {rel: (real_folder / ART / rel).read_bytes() for rel in EFI_FILES}
    assert sign() == 1  # the verity file holds a signature now: refused, nothing changes
    assert {rel: (real_folder / ART / rel).read_bytes() for rel in EFI_FILES} == signed
    entries = [(f"./{rel}", "/" + rel, "shim") for rel in EFI_FILES]
    (real_folder / ART / "inject-files.yaml").write_text(inject_yaml(entries))
    assert sign() == 0
    ca = real_folder / "out/public-keys/ca.pem"
    for rel in EFI_FILES:
        path = real_folder / ART / rel
        expected = 4 if rel.startswith("shim") else 2
        assert len(sbverify_list(path)) == expected
        assert_sbverify_ok(path, ca)


@pytest.mark.parametrize("pe32plus", [True, False])
def test_generated_pe_verifies(tmp_path: Path, pe32plus: bool) -> None:
    need("sbverify", "osslsigncode")
    identity = artifacts.generate_ephemeral_identity()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(identity.certs[0].public_bytes(serialization.Encoding.PEM))
    path = tmp_path / "tiny.efi"
    path.write_bytes(
        sign_pe(make_pe(pe32plus=pe32plus, trailing=b"odd"), identity.key, identity.certs)
    )
    assert_sbverify_ok(path, ca)
    assert_osslsigncode_ok(path, ca)


@pytest.mark.parametrize(
    "newkey", [["-newkey", "rsa:2048"], ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]]
)
def test_key_method_with_openssl_made_keys(tiny_folder: Path, newkey: list[str]) -> None:
    need("openssl", "sbverify", "osslsigncode")
    keys = tiny_folder / "keys"
    keys.mkdir(mode=0o700)
    out = run_tool(
        "openssl", "req", "-x509", *newkey, "-nodes", "-keyout", keys / "db.key",
        "-out", keys / "db.crt", "-subj", "/CN=ocisign test db", "-days", "1",
        "-addext", "extendedKeyUsage=codeSigning",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (tiny_folder / "sign.yaml").write_text(
        "previewFeatures: [sign-artifacts]\ninput:\n  artifactsPath: ./out/artifacts\n"
        "signingMethod:\n  key: {keyPath: keys/db.key, certPath: keys/db.crt}\n"
    )
    proc = run_ocisign(
        "sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml", cwd=tiny_folder
    )
    assert proc.returncode == 0, proc.stderr
    ca = keys / "db.crt"
    for rel in ("shim/bootx64.efi", "bootloader/grubx64.efi", "ukis/vmlinuz-6.6.efi"):
        assert_sbverify_ok(tiny_folder / ART / rel, ca)
        assert_osslsigncode_ok(tiny_folder / ART / rel, ca)
    content = tiny_folder / "root.hash"
    content.write_text(ROOT_HASH)
    out = run_tool(
        "openssl", "smime", "-verify", "-binary", "-inform", "der",
        "-in", tiny_folder / ART / "verity-hash/root.hash", "-content", content,
        "-CAfile", ca, "-purpose", "any", "-out", os.devnull,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
