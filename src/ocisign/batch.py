"""Run one job per image-list line on a bounded worker pool.

Shared by ``sign`` and ``validate``: jobs in parallel, a time limit per line, and a
:class:`BatchConsole` that streams each line's result as it finishes, draws a bar (TTY) or
a heartbeat (log) on stderr, and keeps the failed-lines file current (atomically, in list
order) so it can be fed back with ``-f``.
"""

from __future__ import annotations

import enum
import hashlib
import logging
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


def check_jobs(jobs: int, warn: Callable[[str], None]) -> int:
    """``-j/--jobs`` as hangar takes it: outside the range (1..64 here, hangar's is 1..20)
    a warning in hangar's words, and 1 worker."""
    if 1 <= jobs <= MAX_JOBS:
        return jobs
    warn(f"Invalid worker num: {jobs}, set to 1")
    return 1


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
    console: BatchConsole | None = None,
) -> BatchReport:
    """Run ``worker(item, deadline)`` for every job; never raises for a failing line.

    ``deadline`` is a ``time.monotonic()`` value the worker should respect (its requests
    carry their own timeouts); a line still running after ``timeout`` seconds is
    reported failed and the batch moves on.
    """
    start = time.monotonic()
    results: list[LineResult | None] = [None] * len(jobs)
    if console is not None:
        console.start(len(jobs))
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
                if console is not None:
                    console.line_done(index, result)
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
                if console is not None:
                    console.line_done(index, result)
    except (KeyboardInterrupt, _Stop) as stop:
        stopped = stop.signum if isinstance(stop, _Stop) else signal.SIGINT
        name = signal.Signals(stopped).name
        for index, job in enumerate(jobs):  # in-flight lines are abandoned, queued ones dropped
            if results[index] is None:
                result = LineResult(
                    job.line, job.line_no, Status.FAILED,
                    error=f"not done: the run was stopped by {name}",
                    hint="run the failed-lines file again", error_kind=INTERRUPTED_KIND,
                )
                results[index] = result
                if console is not None:  # the failed file gets them too
                    console.line_done(index, result)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        pool.shutdown(wait=False, cancel_futures=True)
        if console is not None:
            console.stop()
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


def write_failed_file(path: Path, results: Sequence[LineResult]) -> bool:
    """Write the failed lines (original text, in the order given, de-duplicated) if any."""
    lines: list[str] = []
    for result in results:
        if result.status is Status.FAILED and result.line not in lines:
            lines.append(result.line)
    if not lines:
        return False
    atomic_write(path, ("\n".join(lines) + "\n").encode())
    return True


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


class BatchConsole:
    """Where a batch's output goes while it runs.

    Result lines go to stdout as each line finishes (``show`` renders them; ``numbered`` is
    True when a line finished before an earlier one, so it must carry its line number).
    On a TTY stderr a rich bar is drawn, and every warning, log record and (same terminal)
    result line is printed through the bar's console, so no stale fragment is left; off a
    TTY a one-line heartbeat is printed every ``heartbeat_lines`` lines or
    ``heartbeat_seconds``. A warning repeated word for word is printed once and counted.
    The failed file, if any, is rewritten (atomically) whenever a line fails.
    """

    def __init__(
        self,
        description: str,
        *,
        show: Callable[[BatchConsole, LineResult, bool], None] | None = None,
        failed_file: Path | None = None,
        heartbeat_lines: int = 10,
        heartbeat_seconds: float = 10.0,
    ) -> None:
        self.description = description
        self.color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self._show = show
        self._failed_file = failed_file
        self._every = heartbeat_lines
        self._seconds = heartbeat_seconds
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._warned: dict[str, int] = {}
        self._results: dict[int, LineResult] = {}
        self._next = 0
        self.total = 0
        self._failed = 0
        self._start = time.monotonic()
        self._bar: Any = None  # rich Progress while the bar is drawn
        self._task: Any = None
        self._heart: threading.Thread | None = None
        self._log_streams: list[tuple[logging.StreamHandler[Any], Any]] = []

    # ------------------------------------------------------------ run_batch's calls

    def start(self, total: int) -> None:
        """A bar (TTY) or a heartbeat (log) for a batch of more than one line."""
        self.total, self._start = total, time.monotonic()
        if total < 2:
            return
        if stderr_is_tty():
            self._start_bar(total)
        elif self._seconds > 0:
            self._heart = threading.Thread(target=self._beat, daemon=True)
            self._heart.start()

    def line_done(self, index: int, result: LineResult) -> None:
        """Print ``result`` now, keep the failed file current, advance the bar."""
        with self._lock:
            self._results[index] = result
            numbered = index != self._next
            while self._next in self._results:
                self._next += 1
            if result.status is Status.FAILED:  # the file first: a FAIL line seen is in it
                self._failed += 1
                if self._failed_file is not None:
                    ordered = [self._results[i] for i in sorted(self._results)]
                    write_failed_file(self._failed_file, ordered)
            if self._show is not None:
                self._show(self, result, numbered)
            done = len(self._results)
            if self._bar is not None:
                rate = done / max(1e-6, time.monotonic() - self._start)
                self._bar.update(self._task, completed=done, failed=self._failed,
                                 rate=f"{rate:.1f}/s")
            elif self._heart is not None and (done % self._every == 0):
                self._heartbeat()

    def stop(self) -> None:
        """Take the bar down (its last state stays), end the heartbeat, count repeats."""
        self._stop.set()
        if self._heart is not None:
            self._heart.join()
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
                for handler, stream in self._log_streams:
                    handler.setStream(stream)
                self._log_streams.clear()
            for message, count in self._warned.items():
                if count > 1:
                    self._err(f"Warning: the warning above was given for {count} lines: "
                              f"{_shorten(message)}")

    # ------------------------------------------------------------ output

    def out(self, text: str, style: str = "") -> None:
        """One result line on stdout (``style``, e.g. ``green``, only when colour is on)."""
        with self._lock:
            if self.color and style:
                import click

                text = click.style(text, fg=style, bold=True)
            if self._bar is not None and _same_terminal():
                from rich.text import Text

                self._bar.console.print(Text.from_ansi(text), soft_wrap=True)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

    def warn(self, message: str) -> None:
        """A warning on stderr; the same text again is only counted."""
        with self._lock:
            seen = self._warned.get(message, 0)
            self._warned[message] = seen + 1
            if not seen:
                self._err(f"Warning: {message}")

    def note(self, text: str) -> None:
        """A line of information on stderr (above the bar when one is drawn)."""
        with self._lock:
            self._err(text)

    def _err(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def _heartbeat(self) -> None:
        elapsed = time.monotonic() - self._start
        self._err(f"{self.description}: {len(self._results)}/{self.total} lines done, "
                  f"{self._failed} failed, {elapsed:.0f}s")

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds):
            with self._lock:
                self._heartbeat()

    def _start_bar(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            redirect_stdout=False,  # result lines are routed by out()
        )
        self._task = self._bar.add_task(self.description, total=total, failed=0, rate="")
        self._bar.start()
        proxy = _ConsoleStream(self._err)
        for handler in logging.getLogger("ocisign").handlers:  # log records above the bar
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "isatty", bool)():
                self._log_streams.append((handler, handler.setStream(proxy)))


class _ConsoleStream:
    """A file-like object a logging handler writes to: one console line per record."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, text: str) -> int:
        if text.strip():
            self._write(text.rstrip("\n"))
        return len(text)

    def flush(self) -> None:
        pass


def _shorten(message: str, width: int = 80) -> str:
    return message if len(message) <= width else message[: width - 3] + "..."


def _same_terminal() -> bool:
    """stdout and stderr are the same terminal (result lines must go above the bar)."""
    try:
        return sys.stdout.isatty() and os.path.samestat(os.fstat(1), os.fstat(2))
    except OSError:
        return False


def stderr_is_tty() -> bool:
    """True when progress bars may be drawn."""
    return sys.stderr.isatty()
