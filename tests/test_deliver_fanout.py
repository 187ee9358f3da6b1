"""The fan-out loop on its own: how many sends run at once, and how the workspace cap paces them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bot.deliver.clock import ManualClock
from bot.deliver.fanout import FanOut, FanOutTiming, Finished
from bot.deliver.outcome import Outcome, Verdict
from bot.deliver.throttle import RateLearning, WorkspaceThrottle
from bot.signal import Signal
from bot.store.outbox import Claimed

NOW = datetime(2026, 4, 23, tzinfo=UTC)


def job(number: int) -> Claimed:
    return Claimed(
        id=number,
        channel_id=f"C{number}",
        editing=False,
        message_ts=None,
        signal=Signal(title="t", published=NOW, key="k"),
        signal_id="s",
        revision=1,
        posted_fields=None,
        attempts=1,
        last_error=None,
        claimed_at=NOW,
        created_at=NOW,
    )


class StubWork:
    """Hands out `count` jobs; each send waits at `barrier` (if any) before succeeding."""

    def __init__(self, count: int, barrier: threading.Barrier | None = None) -> None:
        self.waiting = [job(n) for n in range(count)]
        self.barrier = barrier
        self.settled: list[Finished] = []
        self.released: list[Claimed] = []
        self.claims: list[int] = []

    def claim(self, limit: int, skip_teams: frozenset[str]) -> list[Claimed]:
        self.claims.append(limit)
        taken, self.waiting = self.waiting[:limit], self.waiting[limit:]
        return taken

    def send(self, job: Claimed) -> Outcome:
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        return Outcome.sent(f"1.{job.id}")

    def settle(self, finished: list[Finished]) -> None:
        self.settled += finished

    def release(self, jobs: list[Claimed]) -> None:
        self.released += jobs

    def seconds_until_due(self) -> float | None:
        return 0.0 if self.waiting else None

    def stopped(self) -> bool:
        return False

    def stopped_teams(self) -> frozenset[str]:
        return frozenset()


def throttle(per_second: float, burst: float, now: float) -> WorkspaceThrottle:
    """One workspace's bucket at a fixed rate (no 429s here to learn from)."""
    return WorkspaceThrottle(RateLearning(per_second), burst / per_second, now, per_team=False)


def test_sends_run_concurrently_up_to_the_pool_size() -> None:
    work = StubWork(12, barrier=threading.Barrier(4))  # only 4 at once can pass the barrier
    bucket = throttle(1000, 100, 0.0)
    counts = FanOut(work, bucket, ManualClock(), FanOutTiming(concurrency=4, linger=1)).run()

    assert counts == {Verdict.SENT.value: 12}
    assert sorted(done.job.id for done in work.settled) == list(range(12))


def test_a_send_that_raises_becomes_an_unconfirmed_retry_not_a_lost_row() -> None:
    class Exploding(StubWork):
        def send(self, job: Claimed) -> Outcome:
            raise RuntimeError("bug")

    work = Exploding(2)
    bucket = throttle(1000, 100, 0.0)
    FanOut(work, bucket, ManualClock(), FanOutTiming(concurrency=2, linger=1)).run()

    outcomes = [(done.outcome.verdict, done.outcome.ambiguous) for done in work.settled]
    assert outcomes == [(Verdict.RETRY, True)] * 2


def test_the_workspace_cap_paces_claims_on_the_clock() -> None:
    clock = ManualClock()
    work = StubWork(5)
    bucket = throttle(2, 1, clock.monotonic())
    FanOut(work, bucket, clock, FanOutTiming(concurrency=4, linger=5)).run()

    assert len(work.settled) == 5
    assert work.claims == [1, 1, 1, 1, 1]
    assert clock.monotonic() == pytest.approx(2.0, abs=0.06)


def test_under_the_cap_rows_are_claimed_a_batch_ahead_and_sent_token_by_token() -> None:
    clock = ManualClock()
    work = StubWork(10)
    bucket = throttle(2, 1, clock.monotonic())
    FanOut(work, bucket, clock, FanOutTiming(concurrency=32, linger=5)).run()

    assert work.claims == [8, 8], "two claims for ten rows, not ten"
    assert [done.job.id for done in work.settled] == list(range(10))
    assert clock.monotonic() == pytest.approx(4.5, abs=0.06)


def test_rows_claimed_ahead_are_released_when_the_workspace_stops() -> None:
    class StopsAfterFirst(StubWork):
        def stopped(self) -> bool:
            return bool(self.settled)

    clock = ManualClock()
    work = StopsAfterFirst(10)
    bucket = throttle(2, 1, clock.monotonic())
    FanOut(work, bucket, clock, FanOutTiming(concurrency=32, linger=5)).run()

    assert len(work.settled) == 1
    assert [job.id for job in work.released] == list(range(1, 8))


def test_sends_already_made_are_settled_even_when_the_run_fails() -> None:
    class OutboxGoesAway(StubWork):
        def claim(self, limit: int, skip_teams: frozenset[str]) -> list[Claimed]:
            if self.claims:
                raise ConnectionError("database went away")
            return super().claim(limit, skip_teams)

    work = OutboxGoesAway(3, barrier=threading.Barrier(3))
    bucket = throttle(1000, 100, 0.0)
    with pytest.raises(ConnectionError):
        FanOut(work, bucket, ManualClock(), FanOutTiming(concurrency=8, linger=1)).run()

    assert sorted(done.job.id for done in work.settled) == [0, 1, 2]
