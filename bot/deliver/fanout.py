"""Fan-out: a bounded pool of threads sends claimed deliveries, within the workspace-wide cap.

The database decides what may go out (one row per channel, in published order, paced per
channel); this loop decides how many go out at once and how fast overall. Pool threads only
talk to Slack: claiming and settling stay on the loop's thread, in batches, so the database
sees two short transactions per round instead of one per message.
"""

from __future__ import annotations

import logging
import queue
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from bot.deliver.clock import Clock
from bot.deliver.outcome import Outcome, Verdict
from bot.deliver.pacing import WorkspaceBucket
from bot.store.outbox import Claimed

log = logging.getLogger(__name__)

SHORTEST_PAUSE = 0.05  # seconds; keeps a loop that found nothing from spinning
LONGEST_WAIT = 1.0  # seconds between looks at the outbox while posts are in flight

Finished = tuple[Claimed, Outcome]


class Work(Protocol):
    """What the fan-out needs from the Deliverer."""

    def claim(self, limit: int) -> list[Claimed]: ...

    def send(self, job: Claimed) -> Outcome:
        """One attempt at Slack (runs in a pool thread)."""
        ...

    def settle(self, finished: list[Finished]) -> None:
        """Record outcomes, in one transaction."""
        ...

    def seconds_until_due(self) -> float | None:
        """When the next row may be claimable; None when nothing waits at all."""
        ...

    def stopped(self) -> bool:
        """The workspace refused the token: claim nothing more."""
        ...


@dataclass(frozen=True, slots=True)
class FanOutTiming:
    concurrency: int
    linger: float  # keep running for rows due within this many seconds

    @property
    def claim_batch(self) -> int:
        """Free threads worth a claim while others are still busy."""
        return max(1, self.concurrency // 8)


class FanOut:
    """One delivery run: claims and sends until nothing is due soon, then returns the counts."""

    def __init__(self, work: Work, bucket: WorkspaceBucket, clock: Clock, timing: FanOutTiming):
        self.work = work
        self.bucket = bucket
        self.clock = clock
        self.timing = timing
        self.counts: Counter[str] = Counter()
        self._done: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._finished: list[Finished] = []
        self._in_flight = 0

    def run(self) -> Counter[str]:
        """Deliver until idle; every send started here is settled when this returns."""
        with ThreadPoolExecutor(self.timing.concurrency, thread_name_prefix="deliver") as pool:
            idle_since = self.clock.monotonic()
            while True:
                self._settle_finished()
                started, starved = self._start_more(pool)
                if started:
                    idle_since = self.clock.monotonic()
                if self._in_flight:
                    self._await_finished(starved)
                    continue
                pause = self._pause_before_next_look(starved, idle_since)
                if pause is None:
                    return self.counts
                self.clock.sleep(pause)

    def _start_more(self, pool: ThreadPoolExecutor) -> tuple[int, bool]:
        """Claim and submit what free threads and workspace tokens allow; (started, starved)."""
        free = self.timing.concurrency - self._in_flight
        if self.work.stopped() or free <= 0:
            return 0, False
        if self._in_flight and free < self.timing.claim_batch:
            return 0, False  # a bigger claim soon costs the database less than many small ones
        tokens = self.bucket.take_up_to(free, self.clock.monotonic())
        if tokens == 0:
            return 0, True
        jobs = self.work.claim(tokens)
        self.bucket.give_back(tokens - len(jobs))
        for job in jobs:
            pool.submit(self._send, job)
        self._in_flight += len(jobs)
        return len(jobs), False

    def _send(self, job: Claimed) -> None:
        try:
            outcome = self.work.send(job)
        except Exception as error:  # a bug must not leave the row claimed for good
            log.exception("sending delivery %s to %s crashed", job.id, job.channel_id)
            outcome = Outcome(Verdict.RETRY, error=f"crashed: {error}", ambiguous=True)
        self._done.put((job, outcome))

    def _await_finished(self, starved: bool) -> None:
        timeout = LONGEST_WAIT
        if starved:
            timeout = min(timeout, self.bucket.seconds_until_token(self.clock.monotonic()))
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
        if not self._finished:
            return
        finished, self._finished = self._finished, []
        self.work.settle(finished)
        self.counts.update(outcome.verdict.value for _, outcome in finished)

    def _pause_before_next_look(self, starved: bool, idle_since: float) -> float | None:
        """How long to wait before claiming again, or None to end the run."""
        if self.work.stopped():
            return None
        due_in = self.work.seconds_until_due()
        if due_in is None:
            return None
        if starved:
            due_in = max(due_in, self.bucket.seconds_until_token(self.clock.monotonic()))
        idle_for = self.clock.monotonic() - idle_since
        if due_in > self.timing.linger or idle_for > self.timing.linger:
            return None
        return max(due_in, SHORTEST_PAUSE)
