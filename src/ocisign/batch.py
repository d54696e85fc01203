"""Run one job per image-list line on a bounded worker pool.

Shared by ``sign`` and ``validate``: jobs in parallel, a time limit per line, a progress
bar on a TTY (stderr), a summary, and the failed-lines file written atomically in list
order so it can be fed back with ``-f``.
"""

from __future__ import annotations

import enum
import hashlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ocisign.errors import OcisignError, UsageError
from ocisign.util.deadline import deadline_scope
from ocisign.util.fs import atomic_write

MAX_JOBS = 64
TIMEOUT_KIND = "TimeoutError"  # errorKind of a line stopped by --timeout
INTERNAL_KIND = "InternalError"  # errorKind of a bug (an exception outside ocisign.errors)
INTERRUPTED_KIND = "Interrupted"  # errorKind of a line not done when SIGINT/SIGTERM came
T = TypeVar("T")


class Status(enum.Enum):
    """How one line (or one digest within it) ended."""

    SIGNED = "signed"
    ALREADY_SIGNED = "already signed"
    PASSED = "passed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class Outcome:
    """One result for one digest of a line (a line may cover an index and its instances).

    ``sign`` and ``validate`` return subclasses (``formats.SignResult``,
    ``formats.ImageResult``) that add what each knows; ``error_kind`` names the
    ``ocisign.errors`` class behind a failure.
    """

    status: Status
    reference: str
    digest: str = ""
    detail: str = ""
    error_kind: str = ""


@dataclass
class LineResult:
    """Everything that happened to one line."""

    line: str
    line_no: int
    status: Status
    error: str = ""
    hint: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    error_kind: str = ""  # the ocisign.errors class of a failure (JSON ``errorKind``)


@dataclass
class BatchReport:
    """All line results, in list order."""

    results: list[LineResult]
    elapsed: float
    signal: int = 0  # the signal (SIGINT, SIGTERM) that stopped the run, 0 if none

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failed(self) -> list[LineResult]:
        return [r for r in self.results if r.status is Status.FAILED]


@dataclass(frozen=True)
class Job(Generic[T]):
    """One line of work: the original text (for the failed file) and its parsed item."""

    line: str
    line_no: int
    item: T


def check_jobs(jobs: int) -> int:
    """Validate ``-j/--jobs`` (a usage error outside 1..64, not hangar's silent reset)."""
    if not 1 <= jobs <= MAX_JOBS:
        raise UsageError(
            f"invalid value for -j/--jobs: {jobs} is not in the range 1..{MAX_JOBS}",
            hint="pick a number of parallel workers between 1 and 64",
        )
    return jobs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``--shard K/N`` (0 <= K < N, K as ``$JOB_COMPLETION_INDEX`` counts) -> (K, N)."""
    if not text:
        return None
    index, slash, count = text.partition("/")
    if slash and index.strip().isdigit() and count.strip().isdigit():
        k, n = int(index), int(count)
        if 0 <= k < n:
            return k, n
    raise UsageError(
        f"invalid value for --shard: {text!r}",
        hint="write K/N with 0 <= K < N, e.g. --shard \"$JOB_COMPLETION_INDEX/8\"",
    )


def in_shard(line: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``line`` belongs to ``shard``: by a hash of its text (trimmed), so each line
    is in exactly one of the N shards whatever the list's order or the machine."""
    if shard is None:
        return True
    digest = hashlib.sha256(line.strip().encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % shard[1] == shard[0]


def line_status(outcomes: Sequence[Outcome]) -> Status:
    """A line's status from its outcomes: failed if any failed, else the 'best' one."""
    statuses = {o.status for o in outcomes}
    for status in (Status.FAILED, Status.SIGNED, Status.PASSED, Status.ALREADY_SIGNED):
        if status in statuses:
            return status
    return Status.SKIPPED


def run_batch(
    jobs: Sequence[Job[T]],
    worker: Callable[[T, float], Sequence[Outcome]],
    *,
    workers: int,
    timeout: float | None,
    progress: bool,
    description: str = "signing",
) -> BatchReport:
    """Run ``worker(item, deadline)`` for every job; never raises for a failing line.

    ``deadline`` is a ``time.monotonic()`` value the worker should respect (its requests
    carry their own timeouts); a line still running after ``timeout`` seconds is
    reported failed and the batch moves on.
    """
    start = time.monotonic()
    results: list[LineResult | None] = [None] * len(jobs)
    bar = _Progress(len(jobs), description) if progress else None
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1)))
    futures: dict[Future[Sequence[Outcome]], tuple[int, float]] = {}
    stopped = 0
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stop) if main else None
    try:
        for index, job in enumerate(jobs):
            deadline = float("inf") if not timeout else time.monotonic() + timeout
            future = pool.submit(_guarded, worker, job.item, deadline)
            futures[future] = (index, deadline)
        pending = set(futures)
        while pending:
            next_deadline = min(futures[f][1] for f in pending)
            wait_for = None if next_deadline == float("inf") else max(
                0.0, next_deadline - time.monotonic() + 0.05
            )
            done, pending = wait(pending, timeout=wait_for, return_when=FIRST_COMPLETED)
            for future in done:
                index, _ = futures[future]
                result = _line_result(jobs[index], future.result())
                results[index] = result
                if bar:
                    bar.advance(result)
            now = time.monotonic()
            for future in [f for f in pending if futures[f][1] <= now]:
                pending.discard(future)
                future.cancel()
                index, _ = futures[future]
                result = LineResult(
                    jobs[index].line,
                    jobs[index].line_no,
                    Status.FAILED,
                    error=f"timed out after {_fmt_seconds(timeout or 0)}",
                    hint="raise --timeout, or check the registry's health",
                    error_kind=TIMEOUT_KIND,
                )
                results[index] = result
                if bar:
                    bar.advance(result)
    except (KeyboardInterrupt, _Stop) as stop:
        stopped = stop.signum if isinstance(stop, _Stop) else signal.SIGINT
        name = signal.Signals(stopped).name
        for index, job in enumerate(jobs):  # in-flight lines are abandoned, queued ones dropped
            if results[index] is None:
                results[index] = LineResult(
                    job.line, job.line_no, Status.FAILED,
                    error=f"not done: the run was stopped by {name}",
                    hint="run the failed-lines file again", error_kind=INTERRUPTED_KIND,
                )
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        pool.shutdown(wait=False, cancel_futures=True)
        if bar:
            bar.stop()
    done_results = [r for r in results if r is not None]
    return BatchReport(done_results, time.monotonic() - start, int(stopped))


class _Stop(Exception):
    """SIGTERM arrived (raised in the main thread, as SIGINT raises KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signum)


def exit_if_stopped(report: BatchReport, message: str) -> None:
    """After a stopped run has written its report: print ``message`` and exit 128+signal
    at once, abandoning workers still stuck in a request."""
    if not report.signal:
        return
    print(f"Error: stopped by {signal.Signals(report.signal).name}; {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + report.signal)


def _guarded(worker: Callable[[T, float], Sequence[Outcome]], item: T, deadline: float) -> Any:
    try:
        with deadline_scope(deadline):  # the line's requests end when the line does
            return worker(item, deadline)
    except OcisignError as err:
        return err
    except Exception as err:  # a bug must fail its line, not the batch
        return err


def _line_result(job: Job[Any], value: Sequence[Outcome] | BaseException) -> LineResult:
    if isinstance(value, OcisignError):
        return LineResult(job.line, job.line_no, Status.FAILED, value.message, value.hint or "",
                          error_kind=type(value).__name__)
    if isinstance(value, BaseException):
        return LineResult(
            job.line,
            job.line_no,
            Status.FAILED,
            f"unexpected {type(value).__name__}: {value}",
            "run again with --debug and report it",
            error_kind=INTERNAL_KIND,
        )
    failed = [o for o in value if o.status is Status.FAILED]
    error = "; ".join(f"{o.reference}: {o.detail}" for o in failed)
    kind = next((o.error_kind for o in failed if o.error_kind), "")
    return LineResult(job.line, job.line_no, line_status(value), error, "", list(value), kind)


def write_failed_file(path: Path, report: BatchReport) -> bool:
    """Write the failed lines (original text, list order, de-duplicated) if any failed."""
    lines: list[str] = []
    for result in report.failed:
        if result.line not in lines:
            lines.append(result.line)
    if not lines:
        return False
    atomic_write(path, ("\n".join(lines) + "\n").encode())
    return True


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


class _Progress:
    """A rich progress bar on stderr (only used when stderr is a TTY)."""

    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._lock = threading.Lock()
        self._failed = 0
        self._start = time.monotonic()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total, failed=0, rate="")
        self._progress.start()

    def advance(self, result: LineResult) -> None:
        with self._lock:
            if result.status is Status.FAILED:
                self._failed += 1
            done = self._progress.tasks[0].completed + 1
            rate = done / max(1e-6, time.monotonic() - self._start)
            self._progress.update(
                self._task, advance=1, failed=self._failed, rate=f"{rate:.1f}/s"
            )

    def stop(self) -> None:
        self._progress.stop()


def stderr_is_tty() -> bool:
    """True when progress bars may be drawn."""
    return sys.stderr.isatty()
