"""Pacing: token buckets that keep posts under Slack's limits instead of running into them.

A channel's bucket lives in the database (any worker may send its next message); the
workspace-wide bucket lives in each process and holds that process's share of the cap.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Pace:
    """A bucket's shape: `per_second` sustained, up to `burst` at once."""

    per_second: float
    burst: float

    def refilled(self, tokens: float, elapsed: float) -> float:
        """Tokens after `elapsed` seconds (negative `tokens` mean a debt being paid off)."""
        return min(self.burst, tokens + elapsed * self.per_second)

    def seconds_until(self, tokens: float, cost: float = 1.0) -> float:
        """How long until the bucket holds `cost` tokens."""
        return max(0.0, (cost - tokens) / self.per_second)


@dataclass(frozen=True, slots=True)
class ChannelBucket:
    """A channel's bucket as stored: `tokens` at `at`, and when the next post may go out."""

    tokens: float
    at: datetime
    ready_at: datetime

    @classmethod
    def full(cls, pace: Pace, now: datetime) -> ChannelBucket:
        return cls(pace.burst, now, now)

    def after_send(self, pace: Pace, sent_at: datetime, cost: float = 1.0) -> ChannelBucket:
        """The bucket once a post started at `sent_at` took its token(s)."""
        elapsed = max((sent_at - self.at).total_seconds(), 0.0)
        tokens = pace.refilled(self.tokens, elapsed) - cost
        ready_at = sent_at + timedelta(seconds=pace.seconds_until(tokens))
        return ChannelBucket(tokens, sent_at, max(ready_at, self.ready_at))

    @classmethod
    def held_until(cls, until: datetime, pace: Pace, now: datetime) -> ChannelBucket:
        """Slack said 429 at `now`: one token comes back exactly when Retry-After ends (a
        debt until then, so that `at` stays the time of the channel's last attempt)."""
        debt = pace.per_second * max((until - now).total_seconds(), 0.0)
        return cls(1.0 - debt, now, until)


class WorkspaceBucket:
    """This process's share of one workspace's rate (bot.deliver.throttle); thread-safe.

    It holds half a token more than its burst: a loop that comes for its token a little late
    keeps the time it lost instead of falling behind the rate.
    """

    CATCH_UP = 0.5

    def __init__(self, pace: Pace, now: float) -> None:
        self._pace = self._with_catch_up(pace)
        self._tokens = pace.burst
        self._at = now
        self._lock = threading.Lock()

    def reshape(self, pace: Pace, now: float) -> None:
        """Change the rate (the workspace's learnt rate moved, or more or fewer live workers
        share it)."""
        with self._lock:
            self._refill(now)
            self._pace = self._with_catch_up(pace)
            self._tokens = min(self._tokens, self._pace.burst)

    def take_up_to(self, wanted: int, now: float) -> int:
        """Take as many whole tokens as are there, up to `wanted`."""
        with self._lock:
            self._refill(now)
            taken = max(0, min(wanted, math.floor(self._tokens)))
            self._tokens -= taken
            return taken

    def spend(self, count: float, now: float) -> None:
        """Take tokens for writes already made (a long brief's extra parts), into debt."""
        with self._lock:
            self._refill(now)
            self._tokens -= count

    def whole_tokens(self, now: float) -> int:
        with self._lock:
            self._refill(now)
            return max(0, math.floor(self._tokens))

    def seconds_until_token(self, now: float) -> float:
        with self._lock:
            self._refill(now)
            return self._pace.seconds_until(self._tokens)

    def _refill(self, now: float) -> None:
        self._tokens = self._pace.refilled(self._tokens, max(now - self._at, 0.0))
        self._at = now

    @classmethod
    def _with_catch_up(cls, pace: Pace) -> Pace:
        return Pace(pace.per_second, pace.burst + cls.CATCH_UP)
