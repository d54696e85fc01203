"""Batch Notary signing and validation: ``ocisign sign -f`` / ``validate -f`` at ``-j J``.

Starts its own CNCF distribution (Debian docker-registry) on 127.0.0.1 with the test
fixture code and pushes N fresh single-platform images (default 300), each in its own
repository, so every signature is new. Then, in this process, through the CLI:

- ``ocisign sign -f LIST -j J`` (JWS or COSE, a local EC P-256 key from a fresh key store);
- ``ocisign validate -f LIST -j J`` of the same images under a strict trust policy.

Prints images/s, CPU per image (ocisign and the registry) and the HTTP requests per image,
by kind. Requests are counted at ``ocisign.registry.http.HTTPClient._once``
(every request any client in this process sends, token requests and retries included).

Usage: python bench/notary_batch.py [-n N] [-j J] [--format jws|cose]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from sign_batch import RequestCounter, cpu_seconds, push_images  # noqa: E402
from tests.fixtures.registry import registry_available, start_registry  # noqa: E402

POLICY = {
    "version": "1.0",
    "trustPolicies": [{
        "name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:bench"], "trustedIdentities": ["*"],
    }],
}
DIGEST_OR_TAG = re.compile(r"/(manifests|blobs)/(sha256[:-][0-9a-f]{64}|[^/?]+)")


def kind_of(method: str, url: str) -> str:
    """A short label for a request: ``GET manifest``, ``PUT index tag``, ``POST upload``..."""
    path = url.split("?")[0]
    if "/blobs/uploads/" in path:
        return f"{method} blob upload"
    if "/referrers/" in path:
        return f"{method} referrers API"
    match = DIGEST_OR_TAG.search(path)
    if not match:
        return f"{method} {path}"
    what, ref = match.groups()
    if what == "blobs":
        return f"{method} blob"
    return f"{method} manifest {'referrers tag' if ref.startswith('sha256-') else 'by digest'}"


def run_cli(args: list[str]) -> tuple[float, dict[str, Any]]:
    """Run ``ocisign ARGS --output json`` in this process; (seconds, parsed JSON)."""
    from ocisign.cli import cli

    out = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            cli.main([*args, "--output", "json"], prog_name="ocisign", standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"ocisign {args[0]} exited with {exc.code}") from None
    return time.perf_counter() - start, json.loads(out.getvalue())


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=300, help="images")
    parser.add_argument("-j", "--jobs", type=int, default=8, help="parallel workers")
    parser.add_argument("--format", default="jws", choices=["jws", "cose"])
    args = parser.parse_args()
    if not registry_available():
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    print(f"machine: {os.cpu_count()} CPUs; {args.count} images, -j {args.jobs}, "
          f"{args.format}; load before: {load()}")
    with tempfile.TemporaryDirectory(prefix="ocisign-notary-bench-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ["OCISIGN_CONFIG_DIR"] = str(tmp / "config")
        run_cli(["key", "generate", "bench", "--type", "ecdsa-p256", "--default"])
        (tmp / "config" / "trustpolicy.json").write_text(json.dumps(POLICY))
        registry = start_registry(tmp / "registry")
        assert registry.process is not None
        pid = registry.process.pid
        try:
            refs = push_images(registry, "notary", args.count, ["amd64"])
            list_file = tmp / "list.txt"
            list_file.write_text("\n".join(refs) + "\n")
            common = ["-f", str(list_file), "-j", str(args.jobs), "--insecure-registry"]
            steps = [
                ("sign", ["sign", "--signature-format", args.format, *common,
                          "-o", str(tmp / "failed-sign.txt")], "signed"),
                ("validate", ["validate", *common, "-o", str(tmp / "failed-validate.txt")],
                 "passed"),
            ]
            for label, cli_args, done_key in steps:
                before = cpu_seconds(), cpu_seconds(pid)
                with RequestCounter(kind_of) as counter:
                    elapsed, doc = run_cli(cli_args)
                client_cpu = cpu_seconds() - before[0]
                registry_cpu = cpu_seconds(pid) - before[1]
                summary = doc["summary"]
                if summary.get("failed") or summary.get(done_key) != args.count:
                    raise RuntimeError(f"{label}: unexpected summary {summary}")
                n = args.count
                print(f"{label}: {n} images in {elapsed:.2f}s = {n / elapsed:.1f} images/s; "
                      f"CPU per image {client_cpu * 1000 / n:.1f} ms ocisign + "
                      f"{registry_cpu * 1000 / n:.1f} ms registry; "
                      f"{counter.count / n:.2f} HTTP requests per image")
                for kind, count in sorted(counter.kinds.items(), key=lambda kv: -kv[1]):
                    print(f"    {count / n:5.2f}  {kind}")
        finally:
            registry.stop()
            shutil.rmtree(tmp / "registry", ignore_errors=True)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
