"""The time limit of the work running on this thread (a batch line's ``--timeout``).

``run_batch`` sets it around each line; the registry transport caps every request (and
every retry pause) by it, so a stuck line's requests end when the line does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """Run the block under ``deadline`` (a ``time.monotonic()`` value; inf = none)."""
    previous = current_deadline()
    _local.deadline = min(previous, deadline)
    try:
        yield
    finally:
        _local.deadline = previous


def current_deadline() -> float:
    """This thread's deadline (``inf`` when none is set)."""
    deadline: float = getattr(_local, "deadline", float("inf"))
    return deadline


def remaining() -> float:
    """Seconds left before this thread's deadline (``inf`` when none is set)."""
    return current_deadline() - time.monotonic()
