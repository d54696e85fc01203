"""Signing through a flaky registry (issue 17): a seeded fault-injecting proxy in front of the
real distribution registry, 15% of requests broken, 50 images at -j 8."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocisign.errors import NotFoundError
from ocisign.oci import NOTARY_SIGNATURE
from ocisign.registry.store import sigstore_tag
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.sign.conftest import Env
from tests.sigstore.conftest import SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB, accepts
from tests.validate.conftest import POLICIES, TRUST, make_store

pytestmark = pytest.mark.integration
IMAGES = 50


def _images(registry: RunningRegistry, proxy: FaultProxy, repo: str, tmp: Path) -> Path:
    client = registry.client()
    lines = []
    for i in range(IMAGES):
        push_test_image(registry, f"{repo}/img{i}:v1", client=client)
        lines.append(f"{proxy.host}/{repo}/img{i}:v1")
    listing = tmp / f"{repo.replace('/', '-')}.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


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
    proc = env.run("sign", "--sigstore-key", str(SKOPEO_KEY), "--sigstore-passphrase-file",
                   str(SKOPEO_PASS), "-f", str(listing), "-j", "8", "--insecure-registry",
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
