"""Fan-out: a bounded pool of threads sends claimed deliveries, within the workspace-wide cap.

The database decides what may go out (one row per channel, in published order, paced per
channel); this loop decides how many go out at once and how fast overall. Pool threads only
talk to Slack: claiming and settling stay on the loop's thread, in batches, so the database
sees a few short transactions per round instead of one per message. When the workspace cap is
what limits, a claim takes a small batch ahead and hands it out token by token.
"""

from __future__ import annotations

import logging
import queue
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Generic, NamedTuple, Protocol, TypeVar

from bot.deliver.clock import Clock
from bot.deliver.outcome import Outcome, Verdict
from bot.deliver.pacing import WorkspaceBucket

log = logging.getLogger(__name__)

SHORTEST_PAUSE = 0.05  # seconds; keeps a loop that found nothing from spinning
LONGEST_WAIT = 1.0  # seconds between looks at the outbox while posts are in flight
SETTLE_WITHIN = 0.25  # seconds after a send started, its outcome is recorded at the latest


class Job(Protocol):
    """A claimed outbox item: a brief's delivery (bot.store.outbox.Claimed) or a digest."""

    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> str: ...


J = TypeVar("J", bound=Job)


class Finished(NamedTuple, Generic[J]):
    """A send that came back."""

    job: J
    outcome: Outcome
    started_at: datetime  # when the call to Slack began: the channel's token is taken then


class Work(Protocol[J]):
    """What the fan-out needs from the Deliverer (or the digests' outbox)."""

    def claim(self, limit: int) -> list[J]: ...

    def send(self, job: J) -> Outcome:
        """One attempt at Slack (runs in a pool thread)."""
        ...

    def settle(self, finished: list[Finished[J]]) -> None:
        """Record outcomes, in one transaction."""
        ...

    def release(self, jobs: list[J]) -> None:
        """Put claimed rows that were never sent back in line."""
        ...

    def seconds_until_due(self) -> float | None:
        """When the next row may be claimable; None when nothing waits at all."""
        ...

    def stopped(self) -> bool:
        """The workspace refused the token: claim nothing more."""
        ...


class HeldBack(Enum):
    """What kept a round from starting more sends, and so what to wait for."""

    THREADS = "threads"  # all busy (or not worth a claim yet): wait for a send to finish
    TOKENS = "tokens"  # the workspace cap: wait for the next token
    OUTBOX = "outbox"  # nothing more is due: wait for a send, or for the next row to be due


@dataclass(frozen=True, slots=True)
class FanOutTiming:
    concurrency: int
    linger: float  # keep running for rows due within this many seconds

    @property
    def claim_batch(self) -> int:
        """Rows worth one claim while sends are in flight or tokens are scarce."""
        return max(1, self.concurrency // 4)


class FanOut(Generic[J]):
    """One delivery run: claims and sends until nothing is due soon, then returns the counts."""

    def __init__(self, work: Work[J], bucket: WorkspaceBucket, clock: Clock, timing: FanOutTiming):
        self.work = work
        self.bucket = bucket
        self.clock = clock
        self.timing = timing
        self.counts: Counter[str] = Counter()
        self._done: queue.SimpleQueue[Finished[J]] = queue.SimpleQueue()
        self._finished: list[Finished[J]] = []
        self._claimed_ahead: deque[J] = deque()  # claimed, waiting for a token
        self._in_flight = 0

    def run(self) -> Counter[str]:
        """Deliver until idle; every row claimed here is settled or released on return."""
        try:
            with ThreadPoolExecutor(self.timing.concurrency, thread_name_prefix="deliver") as pool:
                self._loop(pool)
        finally:
            self._wind_down()
        return self.counts

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        idle_since = self.clock.monotonic()
        while True:
            self._settle_finished()
            started, held_back = self._start_more(pool)
            if started:
                idle_since = self.clock.monotonic()
            if self._in_flight or (self._claimed_ahead and not self.work.stopped()):
                self._await_finished(held_back)
                continue
            pause = self._pause_before_next_look(held_back, idle_since)
            if pause is None:
                return
            self.clock.sleep(pause)

    def _start_more(self, pool: ThreadPoolExecutor) -> tuple[int, HeldBack]:
        """Submit what free threads and workspace tokens allow; how many started, and what
        held back more."""
        free = self.timing.concurrency - self._in_flight
        if self.work.stopped() or free <= 0:
            return 0, HeldBack.THREADS
        if self._in_flight and free < self.timing.claim_batch and not self._claimed_ahead:
            return 0, HeldBack.THREADS  # one bigger claim soon costs the database less
        tokens = self.bucket.take_up_to(free, self.clock.monotonic())
        if tokens == 0:
            return 0, HeldBack.TOKENS
        jobs = self._take_claimed(tokens, free)
        self.bucket.give_back(tokens - len(jobs))
        for job in jobs:
            pool.submit(self._send, job)
        self._in_flight += len(jobs)
        if len(jobs) < tokens:
            return len(jobs), HeldBack.OUTBOX
        return len(jobs), HeldBack.TOKENS if tokens < free else HeldBack.THREADS

    def _take_claimed(self, tokens: int, free: int) -> list[J]:
        """`tokens` rows to send now: claimed ahead first, then claimed from the outbox."""
        jobs = [self._claimed_ahead.popleft() for _ in range(min(tokens, len(self._claimed_ahead)))]
        wanted = tokens - len(jobs)
        if wanted:
            claimed = self.work.claim(min(max(wanted, self.timing.claim_batch), free))
            jobs += claimed[:wanted]
            self._claimed_ahead.extend(claimed[wanted:])
        return jobs

    def _send(self, job: J) -> None:
        started_at = self.clock.now()
        try:
            outcome = self.work.send(job)
        except Exception as error:  # a bug must not leave the row claimed for good
            log.exception("sending delivery %s to %s crashed", job.id, job.channel_id)
            outcome = Outcome(Verdict.RETRY, error=f"crashed: {error}", ambiguous=True)
        self._done.put(Finished(job, outcome, started_at))

    def _await_finished(self, held_back: HeldBack) -> None:
        """Wait for a send to finish, or less if a token or a due row may come sooner."""
        timeout = SETTLE_WITHIN if self._finished else LONGEST_WAIT
        if held_back is HeldBack.TOKENS:
            timeout = min(timeout, self.bucket.seconds_until_token(self.clock.monotonic()))
        elif held_back is HeldBack.OUTBOX and (due_in := self.work.seconds_until_due()) is not None:
            timeout = min(timeout, max(due_in, SHORTEST_PAUSE))
        if not self._in_flight:
            self.clock.sleep(max(timeout, 0.001))  # only claimed-ahead rows wait, for a token
            return
        try:
            self._finished.append(self._done.get(timeout=max(timeout, 0.001)))
        except queue.Empty:
            return
        self._in_flight -= 1
        while True:
            try:
                self._finished.append(self._done.get_nowait())
            except queue.Empty:
                return
            self._in_flight -= 1

    def _settle_finished(self) -> None:
        """Settle in batches: each transaction costs round trips, whatever its size."""
        if not self._finished:
            return
        waited = (self.clock.now() - self._finished[0].started_at).total_seconds()
        batch_full = len(self._finished) >= self.timing.claim_batch
        if self._in_flight and not batch_full and waited < SETTLE_WITHIN:
            return
        finished, self._finished = self._finished, []
        self.work.settle(finished)
        self.counts.update(done.outcome.verdict.value for done in finished)

    def _wind_down(self) -> None:
        """Once every send has returned: record what came back, release what never went.
        Normally nothing is left; after an error, whatever cannot be written now is left
        claimed, for reconciliation."""
        while not self._done.empty():
            self._finished.append(self._done.get_nowait())
        try:
            if self._finished:
                finished, self._finished = self._finished, []
                self.work.settle(finished)
            if self._claimed_ahead:
                self.work.release(list(self._claimed_ahead))
                self._claimed_ahead.clear()
        except Exception:  # the run is ending on an error already; the claims stay recoverable
            log.exception("winding down a delivery run failed; reconciliation will recover it")

    def _pause_before_next_look(self, held_back: HeldBack, idle_since: float) -> float | None:
        """How long to wait before claiming again, or None to end the run."""
        if self.work.stopped():
            return None
        due_in = self.work.seconds_until_due()
        if due_in is None:
            return None
        if held_back is HeldBack.TOKENS:
            due_in = max(due_in, self.bucket.seconds_until_token(self.clock.monotonic()))
        idle_for = self.clock.monotonic() - idle_since
        if due_in > self.timing.linger or idle_for > self.timing.linger:
            return None
        return max(due_in, SHORTEST_PAUSE)
