"""Start-up and one image per process: `--version`, `sign` and `validate` against a registry.

Run from the repository root: ``python bench/startup.py [RUNS] [SRC] [--instructions]``
(SRC: another checkout's ``src/`` folder, to compare two versions in one session;
``--instructions`` adds the instructions of one more process of each under valgrind's
callgrind, a count that the machine's load does not change). Starts its own CNCF
distribution (Debian docker-registry) on 127.0.0.1 and prints the medians over RUNS fresh
processes (default 10) for:

- ``python -c pass`` (the unit every figure is a ratio to, measured in the same run);
- ``ocisign --version``;
- ``ocisign sign REPO@DIGEST`` (JWS, a local EC P-256 key from the key store, plain HTTP),
  a freshly pushed image for every run, so every signature is new;
- ``ocisign validate REPO@DIGEST`` of a signed image under a strict trust policy.

Each figure is a wall time and the process's CPU time (user + system, from ``wait4``),
each with its ratio to ``python -c pass``; under load the CPU ratio is the steadier one.
Under ``sign`` and ``validate``, "its libraries alone" is a process that only imports the
modules outside ocisign (click, cryptography, the standard library) that the command
loaded: the floor under the command's figure. It also lists the heavy modules
``--version`` imports (should be none). The machine's load (``uptime``) is printed before
and after: trust the ratios more than the milliseconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fixtures.registry import (  # noqa: E402
    push_test_image,
    registry_available,
    start_registry,
)

POLICY = {
    "version": "1.0",
    "trustPolicies": [{
        "name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:bench"], "trustedIdentities": ["*"],
    }],
}
HEAVY = ("cryptography", "requests", "urllib3", "http.client", "rich", "pydantic", "nacl",
         "cbor2", "yaml", "click")
TARGETS = {"ocisign --version": 3.0, "ocisign sign (JWS, registry)": 8.0,
           "ocisign validate (registry)": 6.0}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def heavy_modules(env: dict[str, str]) -> list[str]:
    """Heavy modules that `python -m ocisign --version` imports (should be none)."""
    code = (
        "import runpy, sys\nsys.argv = ['ocisign', '--version']\n"
        "try:\n    runpy.run_module('ocisign', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', *(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    last = [line for line in out.stdout.splitlines() if line.startswith("HEAVY")][-1]
    return last.split()[1:]


def floor_code(env: dict[str, str], args: list[str]) -> str:
    """``python -c`` code importing every module outside ocisign that ``ocisign ARGS`` loads.

    Its time is the floor of that command: what the libraries (click, cryptography, the
    standard library) cost before ocisign runs a line of its own.
    """
    code = (
        "import sys\nbefore = set(sys.modules)\n"
        f"sys.argv = ['ocisign', *{args!r}]\n"
        "from ocisign.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', *sorted(m for m in set(sys.modules) - before\n"
        "                         if m.split('.')[0] != 'ocisign'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    modules = [line for line in out.stdout.splitlines() if line.startswith("MODULES")][-1]
    return (f"import importlib\nfor m in {modules.split()[1:]!r}:\n"  # some are registered
            "    try:\n        importlib.import_module(m)\n"  # by their parent's import only
            "    except ImportError:\n        pass")


def instructions(argv: list[str], env: dict[str, str]) -> float:
    """Millions of instructions one process executes (valgrind's callgrind: load-independent)."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env, capture_output=True, text=True, check=True,
    )
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1)) / 1e6  # type: ignore[union-attr]


def main() -> None:
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(args[0]) if args else 10
    src = Path(args[1]).resolve() if len(args) > 1 else ROOT / "src"
    count = "--instructions" in flags
    if count and not shutil.which("valgrind"):
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    if not registry_available():
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    print(f"load before: {load()}")
    with tempfile.TemporaryDirectory(prefix="ocisign-startup-") as tmpdir:
        tmp = Path(tmpdir)
        registry = start_registry(tmp / "registry")
        client = registry.client()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCISIGN_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(PYTHONPATH=str(src), OCISIGN_CONFIG_DIR=str(tmp / "config"))
        ocisign = [sys.executable, "-m", "ocisign"]
        subprocess.run([*ocisign, "key", "generate", "bench", "--type", "ecdsa-p256",
                        "--default"], env=env, check=True, capture_output=True)
        (tmp / "config" / "trustpolicy.json").write_text(json.dumps(POLICY))
        counter = iter(range(1_000_000))

        def image() -> str:
            repo = f"bench/one-{next(counter)}"
            return f"{registry.host}/{repo}@" + push_test_image(registry, f"{repo}:v1",
                                                                client=client)

        signed = image()
        subprocess.run([*ocisign, "sign", "--insecure-registry", signed], env=env, check=True,
                       capture_output=True)

        def median_ms(args: Callable[[], list[str]]) -> tuple[float, float, float]:
            """Median wall and CPU (user + system) milliseconds of ``runs`` processes, and
            (with ``--instructions``) the millions of instructions of one more."""
            walls, cpus = [], []
            for _ in range(runs):
                argv = args()
                start = time.perf_counter()
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
                assert proc.stderr is not None
                errors = proc.stderr.read()
                _, status, usage = os.wait4(proc.pid, 0)
                walls.append(time.perf_counter() - start)
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode:
                    raise RuntimeError(f"{argv} failed: {errors.decode(errors='replace')}")
                cpus.append(usage.ru_utime + usage.ru_stime)
            insns = instructions(args(), env) if count else 0.0
            return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, insns

        try:
            median_ms(lambda: [*ocisign, "--version"])  # warm the page cache and .pyc files
            base = median_ms(lambda: [sys.executable, "-c", "pass"])
            sign_floor = floor_code(env, ["sign", "--insecure-registry", image()])
            validate_floor = floor_code(env, ["validate", "--insecure-registry", signed])
            rows = [
                ("python -c pass", base),
                ("ocisign --version", median_ms(lambda: [*ocisign, "--version"])),
                ("ocisign sign (JWS, registry)",
                 median_ms(lambda: [*ocisign, "sign", "--insecure-registry", image()])),
                ("  its libraries alone", median_ms(lambda: [sys.executable, "-c", sign_floor])),
                ("ocisign validate (registry)",
                 median_ms(lambda: [*ocisign, "validate", "--insecure-registry", signed])),
                ("  its libraries alone",
                 median_ms(lambda: [sys.executable, "-c", validate_floor])),
            ]
            heavy = heavy_modules(env)
        finally:
            client.close()
            registry.stop()
    print(f"load after:  {load()}")
    print(f"src: {src}, median of {runs} fresh processes each; wall and CPU (user + system)")
    for name, (wall, cpu, insns) in rows:
        target = f"  (target <= {TARGETS[name]:.0f}x)" if name in TARGETS else ""
        counted = f"   {insns:7.1f} M instr {insns / base[2]:5.1f}x" if count else ""
        print(f"{name:30s} wall {wall:7.1f} ms {wall / base[0]:5.1f}x   "
              f"CPU {cpu:7.1f} ms {cpu / base[1]:5.1f}x{counted}{target}")
    print(f"heavy modules imported by --version: {' '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
