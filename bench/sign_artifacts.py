"""Time Authenticode signing of real EFI files (shim ~1 MB, systemd-boot ~140 KB).

Run: python bench/sign_artifacts.py [--repeat N]
Needs the EFI samples from scripts/get-efi-samples.sh (same cache lookup as the tests).
Prints the median of N runs for: PE digest, full sign_pe (digest + PKCS#7 + checksum),
and the PE checksum alone; plus ephemeral key generation and the verity PKCS#7.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ocisign.boot.artifacts import generate_ephemeral_identity, sign_verity_hash
from ocisign.boot.authenticode import authenticode_digest, parse_pe, pe_checksum, sign_pe

SAMPLES = {
    "shim (shimx64.efi.signed)": "usr/lib/shim/shimx64.efi.signed",
    "systemd-boot (systemd-bootx64.efi)": "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
}


def samples_dir() -> Path:
    explicit = os.environ.get("OCISIGN_EFI_SAMPLES")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ocisign-test" / "efi"


def median_ms(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    root = samples_dir()
    print(f"python {sys.version.split()[0]}, median of {args.repeat} runs")
    keygen = median_ms(generate_ephemeral_identity, max(3, args.repeat // 4))
    print(f"{'ephemeral RSA-2048 key + certificate':40s} {keygen:8.1f} ms")
    identity = generate_ephemeral_identity()
    verity = median_ms(lambda: sign_verity_hash(b"ab" * 32, identity), args.repeat)
    print(f"{'verity-hash PKCS#7 (openssl smime equiv)':40s} {verity:8.1f} ms")
    for label, rel in SAMPLES.items():
        path = root / rel
        if not path.is_file():
            sys.exit(f"missing {path}: run scripts/get-efi-samples.sh")
        data = path.read_bytes()
        layout = parse_pe(data)
        digest = median_ms(lambda d=data: authenticode_digest(d), args.repeat)
        checksum = median_ms(
            lambda d=data, o=layout.checksum_offset: pe_checksum(d, o), args.repeat
        )
        sign = median_ms(lambda d=data: sign_pe(d, identity.key, identity.certs), args.repeat)
        mb = len(data) / 1e6
        print(f"{label} ({len(data):,} bytes)")
        print(f"  {'PE digest (SHA-256)':38s} {digest:8.1f} ms")
        print(f"  {'PE checksum':38s} {checksum:8.1f} ms")
        print(f"  {'sign_pe total':38s} {sign:8.1f} ms   ({mb / (sign / 1000):.0f} MB/s)")


if __name__ == "__main__":
    main()
