"""Throughput of blob + manifest pushes through our registry client, 1 and 8 threads.

Starts its own CNCF distribution (Debian docker-registry) on 127.0.0.1 with the test
fixture code, pushes N unique (blob, manifest) pairs per run, and prints pushes/s and HTTP
requests/s. Usage: python bench/registry.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fixtures.registry import registry_available, start_registry  # noqa: E402

from ocisign.oci import OCI_MANIFEST  # noqa: E402
from ocisign.registry.client import RegistryClient  # noqa: E402


def run(host: str, threads: int, count: int, options: Any, label: str) -> None:
    client = RegistryClient(options)
    lock = threading.Lock()
    requests_sent = [0]

    def count_response(response: Any) -> None:
        with lock:
            requests_sent[0] += 1

    client.transport.observers.append(count_response)
    store = client.store(f"{host}/bench/{label}-{threads}")
    config = store.push_blob(b"{}", "application/vnd.oci.empty.v1+json")
    requests_sent[0] = 0

    def push(i: int) -> None:
        blob = store.push_blob(f"{label} {threads} {i} {time.time_ns()}".encode(), "text/plain")
        manifest = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_dict(),
             "layers": [blob.to_dict()]},
            separators=(",", ":"),
        ).encode()
        store.push_manifest(manifest, OCI_MANIFEST)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(push, range(count)))
    elapsed = time.perf_counter() - start
    print(
        f"{label:>5} {threads} thread(s): {count} blob+manifest pushes in {elapsed:.2f}s = "
        f"{count / elapsed:.0f} pushes/s, {requests_sent[0] / elapsed:.0f} requests/s "
        f"({requests_sent[0] / count:.1f} requests/push)"
    )
    client.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    if not registry_available():
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    with tempfile.TemporaryDirectory() as tmp:
        plain = start_registry(Path(tmp) / "plain")
        basic = start_registry(Path(tmp) / "basic", users={"bench": "bench-password"})
        try:
            for threads in (1, 8):
                run(plain.host, threads, count, plain.options(jobs=threads), "plain")
            for threads in (1, 8):
                options = basic.options(jobs=threads, username="bench", password="bench-password")
                run(basic.host, threads, count, options, "basic")
        finally:
            plain.stop()
            basic.stop()


if __name__ == "__main__":
    main()
