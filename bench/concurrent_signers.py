"""Lost signatures with two concurrent signers (issue 17 item 4).

Starts its own CNCF distribution, pushes IMAGES images per round, then runs two
``ocisign sign -f LIST -j 8`` processes at once with different keys (two Notary JWS keys,
or two cosign keys with --type sigstore) and counts, read back from the registry, the
images that lack one of the two signatures. Usage:
    python bench/concurrent_signers.py [jws|sigstore] [ROUNDS] [IMAGES]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fixtures.registry import push_image_list, start_registry  # noqa: E402

from ocisign.errors import NotFoundError  # noqa: E402
from ocisign.oci import NOTARY_SIGNATURE  # noqa: E402
from ocisign.registry.store import sigstore_tag  # noqa: E402

KEYS = ROOT / "tests" / "data" / "keys" / "sigstore"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "COSIGN_PASSWORD")}
    env.update(OCISIGN_CONFIG_DIR=str(home / "config"), DOCKER_CONFIG=str(home / "docker"),
               PYTHONPATH=str(ROOT / "src"))
    return env


def _ocisign(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ocisign", *args], env=_env(home),
                            cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def signer_args(kind: str, home: Path, which: int) -> list[str]:
    """The key flags of signer ``which`` (0 or 1); sets up its config dir."""
    (home / "docker").mkdir(parents=True, exist_ok=True)
    if kind == "jws":
        setup = _ocisign(home, "key", "generate", f"k{which}", "--default")
        assert setup.wait() == 0, setup.stdout.read() if setup.stdout else ""
        return []
    key, passphrase = (("skopeo-generated.private", "skopeo-generated.passphrase"),
                       ("cosign-label-p256-n32768.key", "passphrase.txt"))[which]
    return ["--sigstore-key", str(KEYS / key), "--sigstore-passphrase-file",
            str(KEYS / passphrase)]


def count(kind: str, registry: object, repo: str, images: int) -> list[int]:
    client = registry.client()  # type: ignore[attr-defined]
    found = []
    for i in range(images):
        store = client.store(f"{registry.host}/{repo}/img{i}")  # type: ignore[attr-defined]
        digest = store.resolve("v1").digest
        if kind == "jws":
            found.append(len(store.referrers(digest, NOTARY_SIGNATURE)))
            continue
        try:
            found.append(len(store.fetch_manifest(sigstore_tag(digest)).layers))
        except NotFoundError:
            found.append(0)
    return found


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "jws"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    images = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        registry = start_registry(base / "registry")
        try:
            homes = [base / "a", base / "b"]
            keys = [signer_args(kind, home, n) for n, home in enumerate(homes)]
            lost = 0
            for r in range(rounds):
                repo = f"conc/{kind}{r}"
                listing = push_image_list(registry, repo, images, base / f"list{r}.txt")
                procs = [_ocisign(home, "sign", *key, "-f", str(listing), "-j", "8",
                                  "--insecure-registry", "-o", str(home / "failed.txt"))
                         for home, key in zip(homes, keys, strict=True)]
                codes = [p.wait() for p in procs]
                for proc in procs:
                    if proc.returncode and proc.stdout:
                        print("  " + "\n  ".join(line for line in proc.stdout.read().splitlines()
                                               if "failed line" in line or "Error" in line))
                found = count(kind, registry, repo, images)
                missing = sum(max(0, 2 - n) for n in found)
                extra = sum(max(0, n - 2) for n in found)
                lost += missing
                print(f"round {r}: exit {codes}, signatures per image {found}, "
                      f"lost {missing}, extra {extra}", flush=True)
            print(f"{kind}: {lost} signatures lost of {2 * rounds * images} "
                  f"(2 processes x {images} images x {rounds} rounds)")
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
