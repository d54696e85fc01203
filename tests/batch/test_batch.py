"""The batch engine: order, failures, time limits, failed file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ocisign.batch import (
    Job,
    Outcome,
    Status,
    check_jobs,
    run_batch,
    write_failed_file,
)
from ocisign.errors import NetworkError


def _jobs(*items: str) -> list[Job[str]]:
    return [Job(line=f"  {i}  ".strip(), line_no=n + 1, item=i) for n, i in enumerate(items)]


def worker(item: str, deadline: float) -> list[Outcome]:
    if item.startswith("bad"):
        raise NetworkError(f"cannot reach {item}")
    if item.startswith("bug"):
        raise RuntimeError("boom")
    if item.startswith("skip"):
        return [Outcome(Status.SKIPPED, item)]
    if item.startswith("half"):
        return [
            Outcome(Status.SIGNED, item + "@a"),
            Outcome(Status.FAILED, item + "@b", detail="x"),
        ]
    return [Outcome(Status.SIGNED, item, digest="sha256:" + "0" * 64)]


def test_results_keep_list_order_and_statuses() -> None:
    items = ["a", "bad1", "b", "skip1", "bug1", "half1", "c"]
    report = run_batch(_jobs(*items), worker, workers=4, timeout=None)
    assert [r.line for r in report.results] == items
    statuses = [r.status for r in report.results]
    assert statuses == [
        Status.SIGNED, Status.FAILED, Status.SIGNED, Status.SKIPPED,
        Status.FAILED, Status.FAILED, Status.SIGNED,
    ]
    assert report.results[1].error == "cannot reach bad1"
    assert report.results[1].hint  # NetworkError carries a default hint
    assert "RuntimeError" in report.results[4].error
    assert "half1@b: x" in report.results[5].error
    assert report.count(Status.SIGNED) == 3


def test_runs_in_parallel() -> None:
    barrier = threading.Barrier(4, timeout=5)

    def parallel(item: str, deadline: float) -> list[Outcome]:
        barrier.wait()  # only passes if 4 workers run at once
        return [Outcome(Status.SIGNED, item)]

    report = run_batch(_jobs("a", "b", "c", "d"), parallel, workers=4, timeout=None)
    assert report.count(Status.SIGNED) == 4


def test_line_over_time_limit_fails_and_batch_moves_on() -> None:
    release = threading.Event()

    def slow(item: str, deadline: float) -> list[Outcome]:
        if item == "slow":
            release.wait(10)
        return [Outcome(Status.SIGNED, item)]

    start = time.monotonic()
    report = run_batch(_jobs("slow", "fast"), slow, workers=2, timeout=0.3)
    release.set()
    assert time.monotonic() - start < 5
    assert report.results[0].status is Status.FAILED
    assert "timed out" in report.results[0].error
    assert report.results[1].status is Status.SIGNED


def test_failed_file_has_original_lines_in_order(tmp_path: Path) -> None:
    report = run_batch(_jobs("bad2", "a", "bad1", "bad2"), worker, workers=3, timeout=None)
    out = tmp_path / "sign-failed.txt"
    assert write_failed_file(out, report.results)
    assert out.read_text() == "bad2\nbad1\n"


def test_no_failed_file_when_nothing_failed(tmp_path: Path) -> None:
    report = run_batch(_jobs("a"), worker, workers=1, timeout=None)
    out = tmp_path / "sign-failed.txt"
    out.write_text("old\n")
    assert not write_failed_file(out, report.results)
    assert out.read_text() == "old\n"  # left alone, as hangar does


@pytest.mark.parametrize("jobs", [0, 65, -1])
def test_jobs_out_of_range_is_one_worker_and_a_warning(jobs: int) -> None:
    said: list[str] = []
    assert check_jobs(jobs, said.append) == 1
    assert said == [f"Invalid worker num: {jobs}, set to 1"]  # hangar's words
    assert check_jobs(64, said.append) == 64 and len(said) == 1


def test_empty_batch() -> None:
    report = run_batch([], worker, workers=4, timeout=1)
    assert report.results == []
