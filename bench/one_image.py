"""One process, one image: `sign --help`, `sign` and `validate` of the example OCI layout.

Run from the repository root: `python bench/one_image.py [RUNS] [SRC]` (SRC: another
checkout's src/ folder, to compare two versions in one session). Prints the median wall
time of RUNS fresh processes each (JWS with a local EC P-256 key; validate with a strict
trust policy), next to `python -c pass`. No registry: the example layout is copied per run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "examples" / "layout"
POLICY = {
    "version": "1.0",
    "trustPolicies": [{
        "name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:bench"], "trustedIdentities": ["*"],
    }],
}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    src = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "src"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(src), OCISIGN_CONFIG_DIR=f"{tmp}/config")
        ocisign = [sys.executable, "-m", "ocisign"]
        subprocess.run([*ocisign, "key", "generate", "bench", "--type", "ecdsa-p256",
                        "--default"], env=env, check=True, capture_output=True)
        Path(f"{tmp}/config/trustpolicy.json").write_text(json.dumps(POLICY))
        counter = iter(range(1_000_000))

        def layout(signed: bool) -> str:
            path = f"{tmp}/layout-{next(counter)}"
            shutil.copytree(LAYOUT, path)
            if signed:
                subprocess.run([*ocisign, "sign", "--oci-layout", f"{path}:v1"], env=env,
                               check=True, capture_output=True)
            return f"{path}:v1"

        def median_ms(args: Callable[[], list[str]]) -> float:
            times = []
            for _ in range(runs):
                argv = args()
                start = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1000

        base = median_ms(lambda: [sys.executable, "-c", "pass"])
        rows = [
            ("python -c pass", base),
            ("ocisign sign --help", median_ms(lambda: [*ocisign, "sign", "--help"])),
            ("ocisign sign (JWS, layout)",
             median_ms(lambda: [*ocisign, "sign", "--oci-layout", layout(False)])),
            ("ocisign validate (layout)",
             median_ms(lambda: [*ocisign, "validate", "--oci-layout", layout(True)])),
        ]
    print(f"src: {src}, median of {runs} runs")
    for name, ms in rows:
        print(f"{name:30s} {ms:7.1f} ms  ({ms / base:4.1f}x python -c pass)")


if __name__ == "__main__":
    main()
