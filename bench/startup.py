"""Startup time: median of 10 cold runs of `python -m ocisign --version` vs `python -c pass`.

Run from the repository root: `python bench/startup.py [RUNS]`. Wall time per subprocess.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def median_seconds(args: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time of ``runs`` fresh interpreter runs of ``args``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_modules(env: dict[str, str]) -> list[str]:
    """Heavy modules that `ocisign --version` imports (should be none)."""
    code = (
        "import sys\nfrom ocisign.cli import cli\n"
        "try:\n    cli.main(['--version'], prog_name='ocisign')\nexcept SystemExit:\n    pass\n"
        "heavy = ('cryptography', 'requests', 'rich', 'pydantic', 'nacl', 'cbor2', 'yaml')\n"
        "print('HEAVY', *(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    last = [line for line in out.stdout.splitlines() if line.startswith("HEAVY")][-1]
    return last.split()[1:]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    median_seconds(["-m", "ocisign", "--version"], 1, env)  # compile .pyc once
    base = median_seconds(["-c", "pass"], runs, env)
    ours = median_seconds(["-m", "ocisign", "--version"], runs, env)
    print(f"python -c pass:              median {base * 1000:7.1f} ms over {runs} runs")
    print(f"python -m ocisign --version: median {ours * 1000:7.1f} ms over {runs} runs")
    print(f"ocisign startup overhead:    {(ours - base) * 1000:7.1f} ms")
    print(f"heavy modules imported by --version: {heavy_modules(env) or 'none'}")


if __name__ == "__main__":
    main()
