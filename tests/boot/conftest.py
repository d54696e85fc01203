"""Fixtures for sign-artifacts: a tiny generated PE, real EFI samples, artifacts folders."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

ESP = "b9f59ced-d1a6-44a7-91d9-4d623a39b032"
BOOT = "0a1b2c3d-0000-4000-8000-4d623a39b032"
ROOT_HASH = "3f8a5c0e3a5b8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70"
SHIM = "usr/lib/shim/shimx64.efi.signed"
SYSTEMD_BOOT = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"
UKI_STUB = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"


def make_pe(pe32plus: bool = True, trailing: bytes = b"TRAILER", sections: int = 2) -> bytes:
    """A minimal but well-formed EFI application image (PE32+ or PE32), unsigned."""
    opt_size = (112 if pe32plus else 96) + 16 * 8
    headers = bytearray(0x200)
    headers[:2] = b"MZ"
    struct.pack_into("<I", headers, 0x3C, 0x40)
    headers[0x40:0x44] = b"PE\0\0"
    machine = 0x8664 if pe32plus else 0x14C
    struct.pack_into("<HHIIIHH", headers, 0x44, machine, sections, 0, 0, 0, opt_size, 0x0022)
    opt = 0x58
    struct.pack_into(
        "<HBBIIIII", headers, opt, 0x20B if pe32plus else 0x10B, 2, 38, 0x200, 0, 0, 0x1000, 0x1000
    )
    if pe32plus:
        struct.pack_into("<Q", headers, opt + 24, 0)
    else:
        struct.pack_into("<II", headers, opt + 24, 0x1000, 0)
    struct.pack_into("<II", headers, opt + 32, 0x1000, 0x200)
    struct.pack_into("<III", headers, opt + 56, 0x1000 * (sections + 1), 0x200, 0)
    struct.pack_into("<HH", headers, opt + 68, 10, 0)  # EFI application
    if pe32plus:
        struct.pack_into("<QQQQII", headers, opt + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        struct.pack_into("<IIIIII", headers, opt + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    table = opt + opt_size
    body = bytearray()
    for i in range(sections):
        name = (b".text" if i == 0 else b".data%d" % i).ljust(8, b"\0")
        struct.pack_into(
            "<8sIIIIIIHHI",
            headers,
            table + 40 * i,
            name,
            0x200,
            0x1000 * (i + 1),
            0x200,
            0x200 * (i + 1),
            0,
            0,
            0,
            0,
            0x60000020,
        )
        body += hashlib.sha256(b"section %d" % i).digest() * 16
    return bytes(headers + body) + trailing


def independent_checksum(data: bytes) -> int:
    """PE checksum computed the way pefile does (32-bit words), for cross-checking."""
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    checksum_offset = pe + 24 + 64
    padded = data + b"\0" * (-len(data) % 4)
    checksum = 0
    for i in range(len(padded) // 4):
        if i == checksum_offset // 4:
            continue
        (dword,) = struct.unpack_from("<I", padded, i * 4)
        checksum = (checksum & 0xFFFFFFFF) + dword + (checksum >> 32)
        if checksum > 2**32:
            checksum = (checksum & 0xFFFFFFFF) + (checksum >> 32)
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    checksum = checksum + (checksum >> 16)
    return (checksum & 0xFFFF) + len(data)


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``root`` with its content hash and mode (dirs too)."""
    state: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        mode = path.lstat().st_mode
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[rel] = (digest, mode)
    return state


def inject_yaml(entries: list[tuple[str, str, str]]) -> str:
    """An inject-files.yaml as Image Customizer writes it; entries are (source, dest, type)."""
    lines = ["injectFiles:"]
    for source, destination, kind in entries:
        part = BOOT if kind == "verity-hash" else ESP
        lines += [
            "    - partition:",
            "        idType: part-uuid",
            f"        id: {part}",
            f"      destination: {destination}",
            f"      source: {source}",
            f"      type: {kind}",
        ]
    lines += ["previewFeatures:", "    - inject-files", ""]
    return "\n".join(lines)


def write_artifacts(folder: Path, files: dict[str, tuple[bytes, str]]) -> Path:
    """An artifacts folder: ``files`` maps a relative source to (content, type)."""
    entries = []
    for rel, (content, kind) in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        entries.append((f"./{rel}", "/" + rel.split("/", 1)[-1], kind))
    (folder / "inject-files.yaml").write_text(inject_yaml(entries))
    return folder


SIGN_CONFIG = """previewFeatures:
- sign-artifacts
input:
  artifactsPath: ./out/artifacts
signingMethod:
  ephemeral:
    publicKeysPath: ./out/public-keys
"""


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """A work dir with sign.yaml and out/artifacts holding tiny PEs and a root hash."""
    write_artifacts(
        tmp_path / "out" / "artifacts",
        {
            "ukis/vmlinuz-6.6.efi": (make_pe(), "ukis"),
            "ukis/vmlinuz-6.6.efi.extra.d/a.addon.efi": (make_pe(sections=1), "uki-addons"),
            "shim/bootx64.efi": (make_pe(trailing=b""), "shim"),
            "bootloader/grubx64.efi": (make_pe(pe32plus=False), "bootloader"),
            "verity-hash/root.hash": (ROOT_HASH.encode(), "verity-hash"),
        },
    )
    (tmp_path / "sign.yaml").write_text(SIGN_CONFIG)
    return tmp_path


def efi_samples_dir() -> Path:
    """Where scripts/get-efi-samples.sh puts the Debian EFI binaries."""
    explicit = os.environ.get("OCISIGN_EFI_SAMPLES")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ocisign-test" / "efi"


@pytest.fixture(scope="session")
def efi_samples() -> Path:
    """The real EFI binaries (Debian bookworm systemd-boot-efi and shim-signed), or skip."""
    root = efi_samples_dir()
    missing = [rel for rel in (SHIM, SYSTEMD_BOOT, UKI_STUB) if not (root / rel).is_file()]
    if missing:
        pytest.skip(
            f"EFI samples missing under {root} ({', '.join(missing)}); "
            f"run {ROOT / 'scripts/get-efi-samples.sh'} (or set OCISIGN_EFI_SAMPLES)"
        )
    return root


@pytest.fixture
def real_folder(tmp_path: Path, efi_samples: Path) -> Path:
    """A work dir with sign.yaml and out/artifacts holding real shim, systemd-boot and UKI."""
    write_artifacts(
        tmp_path / "out" / "artifacts",
        {
            "ukis/vmlinuz-6.1.0-28-amd64.efi": ((efi_samples / UKI_STUB).read_bytes(), "ukis"),
            "shim/bootx64.efi": ((efi_samples / SHIM).read_bytes(), "shim"),
            "bootloader/grubx64.efi": ((efi_samples / SYSTEMD_BOOT).read_bytes(), "bootloader"),
            "systemd-boot/systemd-bootx64.efi": (
                (efi_samples / SYSTEMD_BOOT).read_bytes(),
                "systemd-boot",
            ),
            "verity-hash/root.hash": (ROOT_HASH.encode(), "verity-hash"),
        },
    )
    (tmp_path / "sign.yaml").write_text(SIGN_CONFIG)
    return tmp_path


def need(*tools: str) -> None:
    """Skip unless every external program is on PATH."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (run scripts/sysdeps.sh)")


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run an external verifier, capturing its output."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def der(data: bytes) -> tuple[int, bytes, bytes]:
    """The first DER element of ``data``: (tag, content, the whole element)."""
    tag, first = data[0], data[1]
    if first < 0x80:
        start, length = 2, first
    else:
        n = first & 0x7F
        start, length = 2 + n, int.from_bytes(data[2 : 2 + n], "big")
    return tag, data[start : start + length], data[: start + length]


def der_children(content: bytes) -> list[tuple[int, bytes, bytes]]:
    """The DER elements inside a constructed element's content."""
    out = []
    while content:
        element = der(content)
        out.append(element)
        content = content[len(element[2]) :]
    return out


def spc_digest(blob: bytes) -> bytes:
    """The image digest inside an Authenticode SignedData's SpcIndirectDataContent."""
    signed_data = der(der_children(der(blob)[1])[1][1])[1]
    content_info = der_children(signed_data)[2][1]
    indirect = der(der_children(content_info)[1][1])[1]
    digest_info = der_children(indirect)[1][1]
    return der_children(digest_info)[1][1]
