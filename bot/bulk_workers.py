"""Work spread over worker processes, results handed back in order, memory bounded.

`in_order(work, pieces, workers=N, ahead=A)` is `map(work, pieces)` run by N processes: at
most A pieces are in flight or done and waiting to be taken, so a slow consumer holds the
workers back instead of piling up results. The first piece is done in this process,
so a small job never starts a process. Workers ignore Ctrl-C: the interrupted consumer stops
them (pending pieces are cancelled, running ones finish), and nothing is left behind.

Processes are started with `spawn`: forking a process that runs threads (the progress bar's,
a database pool's) can copy a held lock into the child.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TypeVar

Piece = TypeVar("Piece")
Result = TypeVar("Result")

MAX_DEFAULT_WORKERS = 3
CGROUP_CPU_LIMIT = Path("/sys/fs/cgroup/cpu.max")


def default_workers() -> int:
    """One process per core beyond the one storing, at most MAX_DEFAULT_WORKERS: storing into
    one database is a single writer, and it is the slower half."""
    return max(0, min(usable_cores() - 1, MAX_DEFAULT_WORKERS))


def usable_cores(cpu_limit: Path = CGROUP_CPU_LIMIT) -> int:
    """The cores this process may run on: those it is pinned to, fewer if a container's CPU
    quota (cgroup v2 `cpu.max`, "QUOTA PERIOD" or "max PERIOD") allows less than all of them.
    os.cpu_count() counts the host's cores, which in a container is often far more."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        quota, period = cpu_limit.read_text().split()[:2]
        if quota != "max":
            return max(1, min(cores or 1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable here: the affinity mask is the limit
    return cores or 1


def in_order(
    work: Callable[[Piece], Result], pieces: Iterable[Piece], *, workers: int, ahead: int
) -> Generator[Result, None, None]:
    """`work(piece)` for every piece, in order, done by `workers` processes (0: this one),
    at most `ahead` pieces ahead of the one taken (at least two per worker)."""
    iterator = iter(pieces)
    first = next(iterator, None)
    if first is None:
        return
    yield work(first)
    if workers <= 0:
        yield from map(work, iterator)
        return
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_ctrl_c
    )
    try:
        pending: deque[Future[Result]] = deque()
        for piece in iterator:
            pending.append(pool.submit(work, piece))
            if len(pending) >= max(ahead, 2 * workers):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Ctrl-C inside takes effect (KeyboardInterrupt) when the block is done, not midway.

    Only the main thread receives signals; elsewhere, or where Ctrl-C is ignored (a
    background job), this does nothing."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    received: list[int] = []

    def remember(number: int, _frame: FrameType | None) -> None:
        received.append(number)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
