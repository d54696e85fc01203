"""signing.py pieces that need no registry: once-per-digest, jobs from references."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ocisign.batch import Outcome, Status
from ocisign.errors import InvalidReferenceError, NotFoundError
from ocisign.formats import SignResult
from ocisign.resolve.imagelist import batch_jobs
from ocisign.signing import _Once


def test_once_signs_a_digest_once_across_threads() -> None:
    once, calls, gate = _Once(), [], threading.Event()
    key = ("reg/repo", "sha256:" + "a" * 64, "")

    def work() -> Outcome:
        calls.append(1)
        gate.wait(5)
        return SignResult(Status.SIGNED, "reg/repo@x", key[1], signature_digest="s")

    results: list[Outcome] = []
    threads = [threading.Thread(target=lambda: results.append(once.run(key, work)))
               for _ in range(5)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(r.status.value for r in results) == ["already signed"] * 4 + ["signed"]
    assert all(isinstance(r, SignResult) and r.signature_digest == "s" for r in results)


def test_once_reports_the_first_failure() -> None:
    once = _Once()
    key = ("reg/repo", "sha256:" + "b" * 64, "")

    def boom() -> Outcome:
        raise NotFoundError("gone")

    with pytest.raises(NotFoundError):
        once.run(key, boom)
    again = once.run(key, boom)
    assert again.status is Status.FAILED and again.detail == "gone"


def test_build_jobs_positional_then_list(tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("# c\nreg.io/p/a:v1\nBAD REF LINE TOO\nreg.io/p/UPPER\n")
    jobs = batch_jobs(("reg.io/x/y@sha256:" + "c" * 64, "Bad//"), listing, registry="mirror.io")
    assert [j.line for j in jobs] == [
        "reg.io/x/y@sha256:" + "c" * 64, "Bad//", "reg.io/p/a:v1", "BAD REF LINE TOO",
        "reg.io/p/UPPER"]
    assert [j.line_no for j in jobs] == [1, 2, 2, 3, 4]
    assert jobs[2].item.text == "mirror.io/p/a:v1" and jobs[2].item.error is None
    assert jobs[0].item.error is None
    for bad in (jobs[1], jobs[3], jobs[4]):
        assert isinstance(bad.item.error, InvalidReferenceError)
