"""Issue 11, cases 8 and 9: sign-artifacts refuses malformed PE files with one clear error.

Each case is a real Debian EFI binary (systemd-boot, the UKI stub) with one header field
changed, so everything else about the file is what a real build holds. The offsets are
read here with ``struct`` directly, independent of the code under test.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.boot.conftest import (
    ROOT_HASH,
    SIGN_CONFIG,
    SYSTEMD_BOOT,
    UKI_STUB,
    tree_state,
    write_artifacts,
)
from tests.conftest import run_ocisign


def _layout(data: bytes) -> tuple[int, int, int]:
    """(optional header offset, SizeOfOptionalHeader, section table offset)."""
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    (opt_size,) = struct.unpack_from("<H", data, pe + 20)
    return pe + 24, opt_size, pe + 24 + opt_size


def headers_below_section_table(data: bytes) -> bytes:
    out = bytearray(data)
    opt, _, table = _layout(data)
    struct.pack_into("<I", out, opt + 60, table)  # the 40-byte entries are left out
    return bytes(out)


def overlapping_sections(data: bytes) -> bytes:
    out = bytearray(data)
    _, _, table = _layout(data)
    (first,) = struct.unpack_from("<I", data, table + 20)
    struct.pack_into("<I", out, table + 40 + 20, first + 0x200)  # 2nd starts inside the 1st
    return bytes(out)


def section_inside_headers(data: bytes) -> bytes:
    out = bytearray(data)
    _, _, table = _layout(data)
    struct.pack_into("<I", out, table + 20, 0x40)
    return bytes(out)


def tiny_optional_header(data: bytes) -> bytes:
    """SizeOfOptionalHeader 4 and the file cut right after it (a struct error before)."""
    out = bytearray(data)
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    struct.pack_into("<H", out, pe + 20, 4)
    return bytes(out[: pe + 24 + 4])


CASES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("headers", headers_below_section_table, "ends before the end of the section table"),
    ("overlap", overlapping_sections, "overlaps section"),
    ("inside-headers", section_inside_headers, "overlaps the headers (SizeOfHeaders)"),
    ("tiny-optional-header", tiny_optional_header, "SizeOfOptionalHeader 4 is too small"),
]


@pytest.mark.parametrize("sample", [SYSTEMD_BOOT, UKI_STUB], ids=["systemd-boot", "uki"])
@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_malformed_pe_is_refused(
    tmp_path: Path, efi_samples: Path, sample: str, mutate: Callable[[bytes], bytes],
    expected: str,
) -> None:
    data = (efi_samples / sample).read_bytes()
    write_artifacts(tmp_path / "out" / "artifacts", {
        "bootloader/grubx64.efi": (mutate(data), "bootloader"),
        "verity-hash/root.hash": (ROOT_HASH.encode(), "verity-hash"),
    })
    (tmp_path / "sign.yaml").write_text(SIGN_CONFIG)
    before = tree_state(tmp_path / "out" / "artifacts")
    proc = run_ocisign("sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml",
                       cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Success" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    assert "grubx64.efi" in proc.stderr and expected in proc.stderr
    assert "Hint: " in proc.stderr
    assert tree_state(tmp_path / "out" / "artifacts") == before


def test_the_unmodified_samples_still_sign(tmp_path: Path, efi_samples: Path) -> None:
    """The checks refuse only the modified files: the real ones sign as before."""
    write_artifacts(tmp_path / "out" / "artifacts", {
        "bootloader/grubx64.efi": ((efi_samples / SYSTEMD_BOOT).read_bytes(), "bootloader"),
        "ukis/vmlinuz.efi": ((efi_samples / UKI_STUB).read_bytes(), "ukis"),
    })
    (tmp_path / "sign.yaml").write_text(SIGN_CONFIG)
    proc = run_ocisign("sign-artifacts", "--build-dir", "build", "--config-file", "sign.yaml",
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
