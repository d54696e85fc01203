"""Image lists signed at the library level (what ``ocisign sign -f`` wires together).

A list with good, unreachable, missing, malformed and unauthorised lines; the failed file;
re-running it after fixing the causes; a second full run that signs nothing new.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocisign.batch import BatchReport, Job, Outcome, Status, run_batch, write_failed_file
from ocisign.registry import open_store
from ocisign.registry.client import RegistryClient
from ocisign.registry.store import RegistryOptions
from ocisign.resolve.imagelist import ImageListEntry, read_image_list
from ocisign.resolve.targets import resolve_targets
from ocisign.sigstore.attach import SigstoreAttacher, load_sigstore_key
from tests.fixtures.registry import RunningRegistry, free_port, push_test_image

from .conftest import SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB, accepts

pytestmark = pytest.mark.integration


def sign_list(list_file: Path, failed_file: Path, *, jobs: int = 8) -> BatchReport:
    """Sign every line of ``list_file`` with the skopeo-generated key, hangar's defaults."""
    attacher = SigstoreAttacher(load_sigstore_key(SKOPEO_KEY, SKOPEO_PASS))
    client = RegistryClient(RegistryOptions(jobs=jobs, timeout=5, connect_timeout=2))

    def worker(entry: ImageListEntry, deadline: float) -> list[Outcome]:
        if entry.error is not None:
            raise entry.error
        opened = open_store(str(entry.reference), client=client)
        resolved = resolve_targets(opened, expand=True, archs=("amd64", "arm64"), oses=("linux",))
        return [attacher.sign(resolved, t) for t in resolved.targets]

    entries = read_image_list(list_file)
    report = run_batch(
        [Job(e.text, e.line_no, e) for e in entries],
        worker,
        workers=jobs,
        timeout=60,
    )
    write_failed_file(failed_file, report.results)
    client.close()
    return report


def statuses(report: BatchReport) -> dict[str, Status]:
    return {r.line: r.status for r in report.results}


def test_list_with_bad_lines_then_fixed_rerun_then_nothing_new(
    registry: RunningRegistry,
    registry_basic: RunningRegistry,
    skopeo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "NOTATION_USERNAME", "NOTATION_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    host, basic = registry.host, registry_basic.host
    push_test_image(registry, "list/app:v1", ("amd64", "arm64"))
    solo = push_test_image(registry, "list/solo:v2")
    push_test_image(registry_basic, "list/locked:v1")
    good = [f"{host}/list/app:v1", f"{host}/list/solo@{solo}", f"{host}/list/solo:v2"]
    bad = {
        "unreachable": f"127.0.0.1:{free_port()}/list/gone:v1",
        "missing": f"{host}/list/missing:v1",
        "malformed": f"{host}/list/UPPER:case",
        "unauthorised": f"{basic}/list/locked:v1",
    }
    list_file, failed = tmp_path / "list.txt", tmp_path / "sign-failed.txt"
    lines = [
        "# a comment",
        "",
        good[0],
        bad["unreachable"],
        "// skipped too",
        good[1],
        bad["missing"],
        "src dest tag",
        bad["malformed"],
        good[2],
        bad["unauthorised"],
    ]
    list_file.write_text("\n".join(lines) + "\n")

    report = sign_list(list_file, failed)
    got = statuses(report)
    assert got[good[0]] is Status.SIGNED and got[good[1]] is Status.SIGNED
    # solo:v2 and solo@digest are one image, two identities: both get a signature
    assert got[good[2]] is Status.SIGNED
    assert {line for line, s in got.items() if s is Status.FAILED} == set(bad.values())
    assert failed.read_text() == "".join(
        f"{bad[k]}\n" for k in ("unreachable", "missing", "malformed", "unauthorised")
    )  # exactly the bad lines, in list order
    errors = {r.line: r.error for r in report.results}
    assert "not found" in errors[bad["missing"]].lower()
    assert "requires credentials" in errors[bad["unauthorised"]]
    for ref in (good[0], good[2]):
        assert accepts(skopeo, ref, [SKOPEO_PUB], "matchRepoDigestOrExact", all_instances=True)

    # fix two causes: push the missing image, give credentials for the locked registry
    push_test_image(registry, "list/missing:v1")
    monkeypatch.setenv("OCISIGN_USERNAME", registry_basic.username or "")
    monkeypatch.setenv("OCISIGN_PASSWORD", registry_basic.password or "")
    failed_again = tmp_path / "failed-again.txt"
    rerun = sign_list(failed, failed_again)
    got = statuses(rerun)
    assert got[bad["missing"]] is Status.SIGNED and got[bad["unauthorised"]] is Status.SIGNED
    assert failed_again.read_text() == f"{bad['unreachable']}\n{bad['malformed']}\n"
    assert accepts(skopeo, bad["missing"], [SKOPEO_PUB], "matchRepoDigestOrExact")

    # a second full run signs nothing new
    last = sign_list(list_file, tmp_path / "failed-last.txt")
    signed = [o for r in last.results for o in r.outcomes if o.status is Status.SIGNED]
    assert signed == []
    assert last.count(Status.ALREADY_SIGNED) == 5
