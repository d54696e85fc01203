"""Signing throughput with a PKCS#11 token key (SoftHSM), at -j 1 and -j 8.

Makes a temporary SoftHSM token (its own SOFTHSM2_CONF; EC P-256 and RSA-2048 keys made by
pkcs11-tool), then measures:

1. raw token signatures per second through the token key object (one process, one
   logged-in session, one lock), from 1 thread and from 8 threads;
2. ``ocisign sign -f LIST -j J`` (run in this process) against a CNCF distribution on
   127.0.0.1, J = 1 and 8: JWS with a key-store entry whose keyPath is the token URI, and
   sigstore with ``--sigstore-key pkcs11:...``; the same JWS run with a key file as the
   baseline. Every run signs its own fresh images.

Usage: python bench/pkcs11_sign.py [-n IMAGES] [--signatures N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fixtures.pkcs11 import MODULE, PIN, make_token, softhsm_conf  # noqa: E402
from tests.fixtures.registry import push_test_image, registry_available, start_registry  # noqa: E402

KEYS = {"ec256": ("EC:prime256v1", "01"), "rsa2048": ("rsa:2048", "03")}


def raw_rate(uri: str, threads: int, count: int) -> float:
    """Token signatures per second from ``threads`` threads (``count`` in all)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    from ocisign.signers.pkcs11 import TokenECKey, open_key

    key = open_key(uri)
    per = count // threads

    def work(n: int) -> None:
        for i in range(per):
            data = f"{n}-{i}".encode()
            if isinstance(key, TokenECKey):
                key.sign(data, ec.ECDSA(hashes.SHA256()))
            else:
                key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()),
                                           padding.PSS.DIGEST_LENGTH), hashes.SHA256())

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per * threads / (time.perf_counter() - start)


def sign_cli(args: list[str]) -> float:
    """Run ``ocisign ARGS --output json`` in this process; seconds taken."""
    from ocisign.cli import cli

    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        try:
            cli.main([*args, "--output", "json"], prog_name="ocisign", standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"ocisign exited with {exc.code}") from None
    elapsed = time.perf_counter() - start
    summary = json.loads(out.getvalue())["summary"]
    if summary["failed"] or not summary["signed"]:
        raise RuntimeError(f"ocisign sign: {summary}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=100, help="images per run")
    parser.add_argument("--signatures", type=int, default=800, help="raw signatures per run")
    args = parser.parse_args()
    if not Path(MODULE).is_file() or not registry_available():
        sys.exit("needs softhsm2, opensc and docker-registry (bash scripts/sysdeps.sh)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"SoftHSM {MODULE}")
    with tempfile.TemporaryDirectory(prefix="ocisign-bench-pkcs11-") as tmpdir:
        tmp = Path(tmpdir)
        conf = softhsm_conf(tmp / "hsm")
        make_token(conf, keys=KEYS)
        os.environ["SOFTHSM2_CONF"] = str(conf)
        os.environ["OCISIGN_PKCS11_PIN"] = PIN
        os.environ["OCISIGN_CONFIG_DIR"] = str(tmp / "config")

        def uri(label: str) -> str:
            return f"pkcs11:token=ocisign-test;object={label}?module-path={MODULE}"

        print("\nraw token signatures (one session, one lock):")
        for label in KEYS:
            for threads in (1, 8):
                rate = raw_rate(uri(label), threads, args.signatures)
                print(f"  {label:8} {threads} thread(s): {rate:8.0f} signatures/s")

        from ocisign.cli import cli

        for argv in (["key", "generate", "hsm", "--pkcs11-uri", uri("ec256")],
                     ["key", "generate", "file", "--type", "ecdsa-p256"]):
            with contextlib.redirect_stdout(io.StringIO()):
                cli.main(argv, prog_name="ocisign", standalone_mode=False)
        registry = start_registry(tmp / "registry")
        try:
            client = registry.client(jobs=16)
            print(f"\nocisign sign -f LIST, {args.count} single-platform images per run:")
            runs = [("jws, token key (-k hsm)", ["-k", "hsm"]),
                    ("sigstore, --sigstore-key pkcs11:", ["--sigstore-key", uri("ec256")]),
                    ("jws, key file (-k file), baseline", ["-k", "file"])]
            for name, extra in runs:
                for jobs in (1, 8):
                    prefix = f"{len(name)}-{jobs}-{extra[-1][:4]}"
                    with ThreadPoolExecutor(16) as pool:
                        refs = list(pool.map(lambda i, p=prefix: (
                            f"{registry.host}/bench/{p}-{i}@"
                            + push_test_image(registry, f"bench/{p}-{i}:v1", client=client)),
                            range(args.count)))
                    listing = tmp / f"{prefix}.txt"
                    listing.write_text("\n".join(refs) + "\n")
                    seconds = sign_cli(["sign", "-f", str(listing), "-j", str(jobs),
                                        "-o", str(tmp / "failed.txt"), *extra])
                    print(f"  {name:36} -j {jobs}: {args.count / seconds:7.1f} images/s "
                          f"({seconds:.2f} s)")
            client.close()
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
