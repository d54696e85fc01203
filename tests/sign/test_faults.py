"""Signing through a flaky registry (issue 17): a seeded fault-injecting proxy in front of the
real distribution registry, 15% of requests broken, 50 images at -j 8."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ocisign.errors import NotFoundError
from ocisign.oci import NOTARY_SIGNATURE
from ocisign.registry.store import sigstore_tag
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.registry import RunningRegistry, push_image_list
from tests.sign.conftest import Env
from tests.sigstore.conftest import SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB, accepts
from tests.validate.conftest import POLICIES, TRUST, make_store

pytestmark = pytest.mark.integration
IMAGES = 50
SIGSTORE_KEYS = Path(__file__).resolve().parent.parent / "data" / "keys" / "sigstore"
SIGSTORE_KEY = ("--sigstore-key", str(SKOPEO_KEY), "--sigstore-passphrase-file", str(SKOPEO_PASS))


def _images(registry: RunningRegistry, proxy: FaultProxy, repo: str, tmp: Path) -> Path:
    return push_image_list(registry, repo, IMAGES, tmp / f"{repo.replace('/', '-')}.txt",
                           proxy.host)


def _sigstore_layers(registry: RunningRegistry, repo: str, i: int) -> int:
    store = registry.client().store(f"{registry.host}/{repo}/img{i}")
    digest = store.resolve("v1").digest
    try:
        return len(store.fetch_manifest(sigstore_tag(digest)).layers)
    except NotFoundError:
        return 0


def _notary_signatures(registry: RunningRegistry, repo: str, i: int) -> int:
    store = registry.client().store(f"{registry.host}/{repo}/img{i}")
    return len(store.referrers(store.resolve("v1").digest, NOTARY_SIGNATURE))


def test_sigstore_batch_through_faults(env: Env, registry: RunningRegistry,
                                       fault_proxy: FaultProxy, skopeo: Path,
                                       tmp_path: Path) -> None:
    listing = _images(registry, fault_proxy, "faults/cos", tmp_path)
    proc = env.run("sign", *SIGSTORE_KEY, "-f", str(listing), "-j", "8", "--insecure-registry",
                   "-o", str(tmp_path / "failed.txt"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert sum(fault_proxy.injected.values()) >= 20, fault_proxy.injected  # faults did happen
    assert set(fault_proxy.injected) == {"503", "500", "429", "drop", "lost-answer"}
    assert [_sigstore_layers(registry, "faults/cos", i) for i in range(IMAGES)] == [1] * IMAGES
    fault_proxy.rate = 0  # the signed identity names the proxy: verify through it, unbroken
    assert accepts(skopeo, f"{fault_proxy.host}/faults/cos/img7:v1", [SKOPEO_PUB],
                   "matchRepoDigestOrExact")


def test_jws_batch_through_faults(env: Env, registry: RunningRegistry, fault_proxy: FaultProxy,
                                  tmp_path: Path) -> None:
    listing = _images(registry, fault_proxy, "faults/jws", tmp_path)
    proc = env.run("sign", "-f", str(listing), "-j", "8", "--insecure-registry",
                   "-o", str(tmp_path / "failed.txt"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert sum(fault_proxy.injected.values()) >= 20, fault_proxy.injected
    assert [_notary_signatures(registry, "faults/jws", i) for i in range(IMAGES)] == [1] * IMAGES
    fault_proxy.rate = 0
    trust = make_store(tmp_path / "ts", {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})
    check = env.run("validate", f"{fault_proxy.host}/faults/jws/img3:v1", "--insecure-registry",
                    "--trust-policy", str(POLICIES / "trustpolicy.json"), "--trust-store",
                    str(trust), "-o", str(tmp_path / "vfailed.txt"))
    assert check.returncode == 0, check.stdout + check.stderr


def _wait_for(check: Any, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start(env: Env, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ocisign", *args], env=env.env(),
                            cwd=env.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_run_lists_every_line_not_signed(env: Env, registry: RunningRegistry,
                                                   fault_proxy: FaultProxy, tmp_path: Path,
                                                   signum: int, code: int) -> None:
    fault_proxy.rate = 0
    repo = f"stop{code}/cos"
    listing = _images(registry, fault_proxy, repo, tmp_path)
    fault_proxy.delay = 0.1
    failed = tmp_path / "failed.txt"
    proc = _start(env, "sign", *SIGSTORE_KEY, "-f", str(listing), "-j", "2",
                  "--insecure-registry", "-o", str(failed))
    _wait_for(lambda: fault_proxy.forwarded > 30, "the batch to be under way")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    listed = set(failed.read_text().splitlines())
    lines = listing.read_text().splitlines()
    unsigned = {lines[i] for i in range(IMAGES) if _sigstore_layers(registry, repo, i) == 0}
    assert unsigned and unsigned <= listed <= set(lines)
    assert len(listed) < IMAGES  # some lines were done before the signal


def test_kill_9_then_rerun_signs_each_image_once(env: Env, registry: RunningRegistry,
                                                 fault_proxy: FaultProxy,
                                                 tmp_path: Path) -> None:
    fault_proxy.rate = 0
    listing = _images(registry, fault_proxy, "kill/jws", tmp_path)
    fault_proxy.delay = 0.05
    args = ("sign", "-f", str(listing), "-j", "4", "--insecure-registry",
            "-o", str(tmp_path / "failed.txt"))
    proc = _start(env, *args)
    _wait_for(lambda: fault_proxy.forwarded > 60, "the batch to be under way")
    proc.kill()
    proc.communicate(timeout=30)
    counts = [_notary_signatures(registry, "kill/jws", i) for i in range(IMAGES)]
    assert 0 in counts and max(counts) == 1  # killed half way
    fault_proxy.delay = 0
    again = env.run(*args)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert [_notary_signatures(registry, "kill/jws", i) for i in range(IMAGES)] == [1] * IMAGES


@pytest.mark.parametrize("kind", ["jws", "sigstore"])
def test_two_concurrent_signers_keep_both_signatures(env: Env, registry: RunningRegistry,
                                                     fault_proxy: FaultProxy, tmp_path: Path,
                                                     kind: str) -> None:
    """Two processes, two keys, the same 50 images at once: both signatures survive
    (read back after each write, and a reconciliation pass at the end of each run)."""
    fault_proxy.rate = 0
    repo = f"conc/{kind}"
    listing = _images(registry, fault_proxy, repo, tmp_path)
    other = Env(tmp_path / "other")
    (other.root / "docker").mkdir(parents=True)
    if kind == "jws":
        other.ok("key", "generate", "k2", "--default")
        keys: list[tuple[str, ...]] = [(), ()]
    else:
        second = ("--sigstore-key", str(SIGSTORE_KEYS / "cosign-label-p256-n32768.key"),
                  "--sigstore-passphrase-file", str(SIGSTORE_KEYS / "passphrase.txt"))
        keys = [SIGSTORE_KEY, second]
    procs = [_start(e, "sign", *key, "-f", str(listing), "-j", "8", "--insecure-registry",
                    "-o", str(e.root / "failed.txt")) for e, key in zip((env, other), keys,
                                                                         strict=True)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    count = _notary_signatures if kind == "jws" else _sigstore_layers
    assert [count(registry, repo, i) for i in range(IMAGES)] == [2] * IMAGES
