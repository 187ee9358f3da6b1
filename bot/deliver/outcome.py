"""What one attempt to post or edit a message came to, the limits delivery keeps to, and the
Poster protocol that every delivery target implements."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from bot.deliver.pacing import Pace
from bot.render import Message

# Slack: about one message per second per channel, short bursts tolerated.
SLACK_CHANNEL_PACE = Pace(per_second=1.0, burst=3)


class Verdict(StrEnum):
    SENT = "sent"  # done; `ts` names the message
    RETRY = "retry"  # try again later (rate limit, server or network trouble)
    PAUSE = "pause"  # the channel cannot take messages: pause its subscriptions
    FAIL = "fail"  # this message will never go through (e.g. Slack rejected its blocks)
    STOP = "stop"  # the workspace's token is dead: send nothing more until it is fixed
    MORE = "more"  # some parts of a long brief went out; the rest follow at the channel's pace


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from a 429's Retry-After
    # The request may have reached Slack (a dropped connection, a 5xx): look before resending.
    ambiguous: bool = False
    # A brief in parts: the ts of each part posted so far, the post first (None: not known).
    parts: tuple[str, ...] | None = None
    # Slack refused the rendering and a short fallback went out instead: why, with the sizes.
    fallback: str | None = None
    writes: int = 1  # chat.* writes the attempt made: each takes a token of the channel's pace

    @classmethod
    def sent(cls, ts: str) -> Outcome:
        return cls(Verdict.SENT, ts=ts)

    @property
    def rate_limited(self) -> bool:
        return self.verdict is Verdict.RETRY and self.retry_after is not None


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    """How fast and how hard delivery tries, declared as data."""

    concurrency: int = 16  # posts in flight at once, per process
    channel_pace: Pace = SLACK_CHANNEL_PACE
    # Slack's workspace-wide limit for chat.postMessage is not published; 429s correct us.
    workspace_per_minute: float = 1200
    workspace_burst: float = 10
    # Sustained rates stay this fraction under the limits: requests reach Slack with jitter.
    pace_margin: float = 0.97
    max_attempts: int = 6  # failures (5xx, network, unknown errors) before `failed`
    max_rate_limited: int = 20  # 429s before `failed`
    first_backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(minutes=10)
    # A run keeps going for posts due this soon (a channel's next token), else the next tick.
    linger: timedelta = timedelta(seconds=3)
    # A worker not heard from for this long is dead, and its claims are reconciled.
    worker_timeout: timedelta = timedelta(seconds=30)
    # A claim this old is reconciled even if its worker looks alive (it lost the row).
    stale_claim_after: timedelta = timedelta(minutes=10)
    # How far before a claim to look in the channel's history for the message.
    history_margin: timedelta = timedelta(minutes=1)
    auth_check_every: timedelta = timedelta(minutes=1)

    @property
    def channel_bucket(self) -> Pace:
        """The per-channel bucket as delivery runs it (with the margin)."""
        return Pace(self.channel_pace.per_second * self.pace_margin, self.channel_pace.burst)

    def workspace_bucket(self, live_workers: int) -> Pace:
        """This worker's share of the workspace-wide cap (with the margin): of its rate and of
        its burst, or live workers starting together would each burst the whole allowance."""
        share = 1 / max(live_workers, 1)
        per_second = self.workspace_per_minute / 60 * self.pace_margin * share
        return Pace(per_second, max(1.0, self.workspace_burst * share))

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter, so retries from many rows spread out."""
        ceiling = min(self.first_backoff * (1 << max(attempts - 1, 0)), self.max_backoff)
        return ceiling * random.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Thread:
    """What a brief's thread holds: the ts of each continuation part (by part number, the post
    being 0) and the revisions already noted in it."""

    parts: dict[int, str]
    noted_revisions: frozenset[int]


class Poster(Protocol):
    """Where messages go: Slack's Web API, or the terminal in local mode."""

    def post(
        self,
        channel_id: str,
        message: Message,
        metadata: dict[str, object],
        thread_ts: str | None = None,
    ) -> Outcome:
        """Post `message`, as a threaded reply under `thread_ts` if given."""
        ...

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome: ...

    def delete(self, channel_id: str, ts: str) -> Outcome:
        """SENT when the message is gone (also when it was gone already)."""
        ...

    def reply_in_thread(
        self, channel_id: str, thread_ts: str, text: str, metadata: dict[str, object] | None = None
    ) -> Outcome: ...

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> Outcome | None:
        """SENT with the ts of a message carrying `signal_key`; None if there is none;
        another verdict when the history could not be read."""
        ...

    def find_thread(
        self, channel_id: str, thread_ts: str, signal_key: str
    ) -> Thread | Outcome | None:
        """The parts and revision notes under a post; an Outcome when the thread could not be
        read; None when this Poster keeps no history (the stored part ts are then the truth)."""
        ...

    def check_auth(self) -> Outcome:
        """SENT while the token works; STOP when Slack refuses it."""
        ...
