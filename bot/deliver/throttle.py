"""Each workspace's send rate: a token bucket per team, whose rate is learnt from Slack.

Slack does not publish its workspace-wide limit on chat.* writes. The configured cap
(SIGNAL_BOT_POSTS_PER_MINUTE) is where each workspace starts and the most it ever gets. A 429
that the channel's own pace does not explain lowers that workspace's rate (multiplicative
decrease); posts that go through raise it again slowly (additive increase). Every workspace has
its own bucket and rate, so one workspace's 429s never slow another.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.deliver.pacing import Pace, WorkspaceBucket


@dataclass(frozen=True, slots=True)
class RateLearning:
    """How a workspace's rate adapts (per second throughout)."""

    cap: float  # the configured cap: the starting rate and the ceiling
    # An unexplained 429 multiplies the rate by the share of posts Slack took since the last
    # decrease, kept between these two: a rate four times too fast halves, one just over the
    # limit loses a tenth.
    deepest_decrease: float = 0.5
    decrease: float = 0.9
    recovery: float = 0.1  # share of the cap regained per minute of posts going through
    floor_share: float = 0.01  # the rate never falls below this share of the cap
    # After a decrease, 429s of posts started within this long still show the old rate.
    settle_time: float = 1.0

    @property
    def floor(self) -> float:
        return self.cap * self.floor_share

    @property
    def increase_per_second(self) -> float:
        return self.cap * self.recovery / 60


class AdaptiveRate:
    """AIMD on one workspace's rate; times are seconds on any one clock. Not thread-safe:
    WorkspaceThrottle locks around it."""

    # A success after a gap longer than this counts only this long: idle time teaches nothing.
    LONGEST_CREDIT = 1.0

    def __init__(self, learning: RateLearning, now: float) -> None:
        self.learning = learning
        self.rate = learning.cap
        self._lowered_at = float("-inf")
        self._credited_at = now
        self._taken = 0  # posts Slack took since the last decrease
        self._refused = 0  # and refused for the workspace's limit

    def rate_limited(self, started_at: float, now: float) -> bool:
        """An unexplained 429 on a post started at `started_at`; True if the rate went down.

        A post started before the last decrease had time to show went out at the old rate:
        its 429 says nothing new (as TCP slows once per window, not once per lost packet)."""
        self._refused += 1
        if started_at < self._lowered_at + self.learning.settle_time:
            return False
        taken_share = self._taken / (self._taken + self._refused)
        factor = min(max(taken_share, self.learning.deepest_decrease), self.learning.decrease)
        self.rate = max(self.learning.floor, self.rate * factor)
        self._lowered_at = self._credited_at = now
        self._taken = self._refused = 0
        return True

    def went_through(self, now: float) -> None:
        """A post was accepted: earn back a little of the rate."""
        self._taken += 1
        credit = min(max(now - self._credited_at, 0.0), self.LONGEST_CREDIT)
        self._credited_at = now
        self.rate = min(self.learning.cap, self.rate + credit * self.learning.increase_per_second)


class WorkspaceThrottle:
    """Per team: this process's bucket and learnt rate; thread-safe. With one bot token
    (`per_team=False`) every team ID means the one workspace."""

    def __init__(
        self,
        learning: RateLearning,
        burst_seconds: float,
        now: float,
        *,
        per_team: bool = True,
    ) -> None:
        self.per_team = per_team
        self._learning = learning
        self._burst_seconds = burst_seconds
        self._share = 1.0  # of the cap, when several workers split it
        self._buckets: dict[str, WorkspaceBucket] = {}
        self._rates: dict[str, AdaptiveRate] = {}
        self._started = now
        self._lock = threading.Lock()

    def share_between(self, live_workers: int, now: float) -> None:
        """Split each workspace's cap between this many live workers."""
        with self._lock:
            self._share = 1.0 / max(live_workers, 1)
            for team in self._buckets:
                self._reshape(team, now)

    def take_up_to(self, team: str, wanted: int, now: float) -> int:
        return self._bucket(team, now).take_up_to(wanted, now)

    def seconds_until_token(self, team: str, now: float) -> float:
        return self._bucket(team, now).seconds_until_token(now)

    def spend(self, team: str, writes: int, now: float) -> None:
        """Writes made beyond the one token an attempt took (a long brief's threaded parts)."""
        if writes > 0:
            self._bucket(team, now).spend(writes, now)

    def tokens_at_hand(self, now: float) -> int | None:
        """Whole tokens the one workspace of a single token holds; None with several (each
        claim then fills the free threads, and rows beyond a team's tokens wait)."""
        return None if self.per_team else self._bucket("", now).whole_tokens(now)

    def teams_to_skip(self, now: float) -> frozenset[str] | None:
        """Teams a claim should skip for want of tokens; None when no claim is worth making
        (the one workspace of a single token has none)."""
        empty = self.teams_without_tokens(now)
        if not self.per_team:
            return None if empty else frozenset()
        return empty

    def seconds_until_any_token(self, now: float) -> float:
        with self._lock:
            buckets = list(self._buckets.values())
        return min((b.seconds_until_token(now) for b in buckets), default=0.0)

    def teams_without_tokens(self, now: float) -> frozenset[str]:
        """Teams whose bucket has no whole token left: claiming for them would only wait."""
        with self._lock:
            buckets = list(self._buckets.items())
        return frozenset(team for team, b in buckets if b.seconds_until_token(now) > 0)

    def rate_limited(self, team: str, started_at: float, now: float) -> bool:
        """Slack's workspace limit refused a post: lower the team's rate (True if lowered)."""
        with self._lock:
            lowered = self._rate(team, now).rate_limited(started_at, now)
            if lowered:
                self._reshape(team, now)
            return lowered

    def went_through(self, team: str, now: float) -> None:
        with self._lock:
            self._rate(team, now).went_through(now)
            self._reshape(team, now)

    def per_minute(self, team: str) -> float:
        """The team's learnt rate (its whole-workspace figure, before splitting)."""
        with self._lock:
            rate = self._rates.get(self._key(team))
            return (rate.rate if rate else self._learning.cap) * 60

    def _bucket(self, team: str, now: float) -> WorkspaceBucket:
        team = self._key(team)
        with self._lock:
            bucket = self._buckets.get(team)
            if bucket is None:
                bucket = self._buckets[team] = WorkspaceBucket(self._pace(team, now), now)
            return bucket

    def _key(self, team: str) -> str:
        return team if self.per_team else ""

    def _rate(self, team: str, now: float) -> AdaptiveRate:
        team = self._key(team)
        rate = self._rates.get(team)
        if rate is None:
            rate = self._rates[team] = AdaptiveRate(self._learning, now)
        return rate

    def _pace(self, team: str, now: float) -> Pace:
        """The bucket for the team's rate: its burst scales with the rate, so that a bucket
        refilled while idle fires no more at once than Slack tolerates at that rate."""
        per_second = self._rate(team, now).rate * self._share
        return Pace(per_second, max(1.0, per_second * self._burst_seconds))

    def _reshape(self, team: str, now: float) -> None:
        if (bucket := self._buckets.get(self._key(team))) is not None:
            bucket.reshape(self._pace(team, now), now)
