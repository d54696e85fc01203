"""Issue 11, case 1: a re-tagged multi-arch index must not pass on old tags' signatures.

``app:old`` is signed with the real ``ocisign sign`` (index and platforms); a new index that
lists the same platform manifests (one annotation added) is pushed as ``app:latest``.
No signature names ``:latest``, so ``validate`` must refuse it, as skopeo does under
``matchRepoDigestOrExact``; hangar v1's per-platform-digest check still passes it, but
only with the explicit ``--platform-digest-identity``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocisign.oci import OCI_INDEX
from tests.conftest import DATA, run_ocisign
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.fixtures.skopeo import skopeo_verify

pytestmark = pytest.mark.integration
KEY = DATA / "sigstore" / "skopeo-generated.private"
PUB = str(DATA / "sigstore" / "skopeo-generated.pub")
PASSFILE = DATA / "sigstore" / "skopeo-generated.passphrase"


@pytest.fixture(scope="module")
def rolled_back(registry: RunningRegistry) -> str:
    """``HOST/rollback/app``: ``:old`` signed by ``ocisign sign``, ``:latest`` re-tagged."""
    repo = f"{registry.host}/rollback/app"
    push_test_image(registry, "rollback/app:old", ("amd64", "arm64"))
    proc = run_ocisign("sign", "--sigstore-key", str(KEY), "--sigstore-passphrase-file",
                       str(PASSFILE), "-a", "amd64,arm64", "--insecure-registry", f"{repo}:old")
    assert proc.returncode == 0, proc.stderr
    store = registry.client().store(repo)
    index = json.loads(store.fetch_manifest("old").raw)
    index["annotations"] = {"org.example.rolled": "back"}
    store.push_manifest(json.dumps(index).encode(), OCI_INDEX, "latest")
    return repo


def _validate(*args: str) -> tuple[int, str]:
    proc = run_ocisign("validate", "--type", "sigstore", "--sigstore-pubkey", PUB,
                       "--insecure-registry", "-o", "/dev/null", *args)
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_retagged_index_fails_by_default(rolled_back: str) -> None:
    assert _validate(f"{rolled_back}:old")[0] == 0
    code, out = _validate(f"{rolled_back}:latest")
    assert code == 1
    fail = next(line for line in out.splitlines() if line.startswith("FAIL:"))
    assert "identity mismatch" in fail and f"{rolled_back}:old" in fail
    assert f"for '{rolled_back}:latest'" in fail
    assert "sign " in fail  # the hint: sign that reference itself


def test_platform_digest_identity_is_hangar_v1(rolled_back: str) -> None:
    """hangar v1 judges each platform as NAME@DIGEST: only the explicit flag restores it."""
    code, out = _validate(f"{rolled_back}:latest", "--platform-digest-identity")
    assert code == 0, out


def test_skopeo_agrees(skopeo: Path, rolled_back: str) -> None:
    for ref, expected in ((f"{rolled_back}:old", True), (f"{rolled_back}:latest", False)):
        ours = _validate(ref)[0] == 0
        for all_instances in (False, True):
            ok, out = skopeo_verify(skopeo, ref, [PUB], all_instances=all_instances)
            assert ok is expected, out
            assert ours is expected
