"""Batch sigstore signing: ocisign (-j 1, -j 8) against skopeo the way hangar v1 signs.

Starts its own CNCF distribution (Debian docker-registry) on 127.0.0.1 with the test
fixture code, pushes N single-platform images (default 300) for each contender (each signs
its own fresh copies, so every signature is new), then times:

- ocisign through ``ocisign sign --sigstore-key K --sigstore-passphrase-file P -f LIST -j J``
  run in this process;
- skopeo as hangar v1 does it: ``skopeo copy --preserve-digests
  --sign-by-sigstore-private-key K docker://REPO@DIGEST docker://REPO@DIGEST`` per image,
  run by ``xargs -P 8`` (skopeo from scripts/get-skopeo.sh).

Both use the same key (tests/data/sigstore/skopeo-generated.private). ocisign's HTTP
requests are counted by wrapping ``ocisign.registry.http.HTTPClient._once`` (every request
any registry client in this process sends, token, retry and redirect requests included).

Usage: python bench/sign_batch.py [-n N] [--archs amd64[,arm64]] [--skip-skopeo]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fixtures.registry import (  # noqa: E402
    push_test_image,
    registry_available,
    start_registry,
)

from ocisign.registry.http import HTTPClient  # noqa: E402

KEY = ROOT / "tests" / "data" / "sigstore" / "skopeo-generated.private"
PASSFILE = ROOT / "tests" / "data" / "sigstore" / "skopeo-generated.passphrase"


class RequestCounter:
    """Counts the HTTP exchanges (by kind, see ``kind_of``) of ocisign's registry clients
    in this process: every request sent, retries and redirects included."""

    def __init__(self, kind_of: Callable[[str, str], str] = lambda method, url: method) -> None:
        self.kinds: collections.Counter[str] = collections.Counter()
        self._kind_of = kind_of
        self._lock = threading.Lock()
        self._orig = HTTPClient._once

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def __enter__(self) -> RequestCounter:
        orig, counter = self._orig, self

        def once(client: HTTPClient, method: str, url: str, *args: Any) -> Any:
            with counter._lock:
                counter.kinds[counter._kind_of(method, url)] += 1
            return orig(client, method, url, *args)

        HTTPClient._once = once  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        HTTPClient._once = self._orig  # type: ignore[method-assign]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process, of its waited-for children (``pid=-1``),
    or of a running process ``pid`` (from /proc)."""
    if pid is None or pid == -1:
        who = resource.RUSAGE_SELF if pid is None else resource.RUSAGE_CHILDREN
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")



def push_images(registry: Any, prefix: str, count: int, archs: list[str]) -> list[str]:
    """Push ``count`` images; returns their ``host/repo@digest`` references."""
    client = registry.client(jobs=16)

    def push(i: int) -> str:
        repo = f"bench/{prefix}-{i}"
        digest = push_test_image(registry, f"{repo}:v1", archs, client=client)
        return f"{registry.host}/{repo}@{digest}"

    with ThreadPoolExecutor(16) as pool:
        refs = list(pool.map(push, range(count)))
    client.close()
    return refs


def sign_ocisign(
    list_file: Path, jobs: int, tmp: Path, per_image: int
) -> tuple[float, int, str]:
    """Sign every line of ``list_file``; returns (seconds, signatures made, path used)."""
    from ocisign.cli import cli

    args = ["sign", "--sigstore-key", str(KEY), "--sigstore-passphrase-file", str(PASSFILE),
            "-f", str(list_file), "-j", str(jobs), "-o", str(tmp / f"failed-{jobs}.txt"),
            "--output", "json"]
    out = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            cli.main(args, prog_name="ocisign", standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"ocisign sign exited with {exc.code}") from None
    elapsed = time.perf_counter() - start
    summary = json.loads(out.getvalue())["summary"]
    if summary["failed"]:
        raise RuntimeError(f"ocisign sign: {summary['failed']} lines failed")
    signed_lines = int(summary["signed"])
    return elapsed, signed_lines * per_image, "CLI: ocisign sign -f LIST (in process)"


def sign_skopeo(skopeo: str, refs: list[str], tmp: Path, parallel: int, every: bool) -> float:
    """hangar v1's way: skopeo copy each image onto itself, signing, ``xargs -P``."""
    (tmp / "policy.json").write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
    regd = tmp / "registries.d"
    regd.mkdir(exist_ok=True)
    (regd / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    (tmp / "refs.txt").write_text("\n".join(refs) + "\n")
    cmd = [
        "xargs", "-P", str(parallel), "-I{}", skopeo, "--policy", str(tmp / "policy.json"),
        "--registries.d", str(regd), "copy", "-q", "--preserve-digests",
        *(["--all"] if every else []),
        "--src-tls-verify=false", "--dest-tls-verify=false",
        "--sign-by-sigstore-private-key", str(KEY), "--sign-passphrase-file", str(PASSFILE),
        "docker://{}", "docker://{}",
    ]
    start = time.perf_counter()
    with (tmp / "refs.txt").open() as stdin:
        subprocess.run(cmd, stdin=stdin, check=True)
    return time.perf_counter() - start


def get_skopeo() -> str | None:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "get-skopeo.sh")],
                          capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if proc.returncode == 0 and lines else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=300, help="images per contender")
    parser.add_argument("--archs", default="amd64", help="comma list; several = an index")
    parser.add_argument("--skip-skopeo", action="store_true")
    args = parser.parse_args()
    archs = args.archs.split(",")
    if not registry_available():
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    skopeo = None if args.skip_skopeo else get_skopeo()
    if not args.skip_skopeo and not skopeo:
        sys.exit("no sigstore-capable skopeo (scripts/get-skopeo.sh failed); use --skip-skopeo")
    per_image = len(archs) + (1 if len(archs) > 1 else 0)  # signatures per image
    print(f"machine: {os.cpu_count()} CPUs; {args.count} images per run, archs {archs} "
          f"({per_image} signature(s) per image)")
    with tempfile.TemporaryDirectory(prefix="ocisign-bench-") as tmpdir:
        tmp = Path(tmpdir)
        registry = start_registry(tmp / "registry")
        assert registry.process is not None
        pid = registry.process.pid
        try:
            rates: dict[str, float] = {}
            cpu_ms: dict[str, float] = {}
            runs: list[str | int] = (["skopeo"] if skopeo else []) + [8, 1]
            for run in runs:
                label = f"ocisign -j {run}" if isinstance(run, int) else "skopeo -P 8"
                refs = push_images(registry, f"{run}".replace(" ", ""), args.count, archs)
                before = cpu_seconds(), cpu_seconds(pid=-1), cpu_seconds(pid)
                with RequestCounter() as counter:
                    if isinstance(run, int):
                        list_file = tmp / f"list-{run}.txt"
                        list_file.write_text("\n".join(refs) + "\n")
                        elapsed, signed, how = sign_ocisign(list_file, run, tmp, per_image)
                    else:
                        (tmp / "skopeo").mkdir()
                        elapsed = sign_skopeo(skopeo or "", refs, tmp / "skopeo", 8, len(archs) > 1)
                        signed, how = -1, "xargs -P 8 skopeo copy --sign-by-sigstore-private-key"
                client_cpu = cpu_seconds() - before[0] + cpu_seconds(pid=-1) - before[1]
                registry_cpu = cpu_seconds(pid) - before[2]
                expected = args.count * per_image
                if signed >= 0 and signed != expected:
                    raise RuntimeError(f"expected {expected} signatures, got {signed}")
                rates[label] = args.count / elapsed
                cpu_ms[label] = (client_cpu + registry_cpu) * 1000 / args.count
                requests_text = (
                    f"; {counter.count / args.count:.2f} HTTP requests per image, "
                    f"{counter.count / expected:.2f} per signature"
                    if isinstance(run, int) else ""
                )
                print(f"{label}: {args.count} images in {elapsed:.2f}s = "
                      f"{rates[label]:.1f} images/s{requests_text}; CPU per image "
                      f"{client_cpu * 1000 / args.count:.1f} ms client + "
                      f"{registry_cpu * 1000 / args.count:.1f} ms registry  [{how}]")
            if skopeo:
                base = "skopeo -P 8"
                for label in ("ocisign -j 8", "ocisign -j 1"):
                    print(f"{label} vs {base}: {rates[label] / rates[base]:.1f}x images/s, "
                          f"{cpu_ms[base] / cpu_ms[label]:.1f}x less CPU per image")
        finally:
            registry.stop()
            shutil.rmtree(tmp / "registry", ignore_errors=True)

if __name__ == "__main__":
    main()
