"""What one attempt to post or edit a message came to, and what happens next because of it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from bot.render import Message


class Verdict(StrEnum):
    SENT = "sent"  # done; `ts` names the message
    RETRY = "retry"  # try again later (rate limit, server or network trouble)
    PAUSE = "pause"  # the channel cannot take messages: pause its subscriptions
    FAIL = "fail"  # this message will never go through (e.g. Slack rejected its blocks)
    STOP = "stop"  # the workspace's token is dead: send nothing more until it is fixed


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, ts: str) -> Outcome:
        return cls(Verdict.SENT, ts=ts)


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    """How hard delivery tries, declared as data."""

    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(minutes=10)
    stale_claim_after: timedelta = timedelta(minutes=2)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter, so retries from many rows spread out."""
        ceiling = min(self.first_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        return ceiling * random.uniform(0.5, 1.0)


class Poster(Protocol):
    """Where messages go: Slack's Web API, or the terminal in local mode."""

    def post(self, channel_id: str, message: Message, metadata: dict[str, object]) -> Outcome: ...

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome: ...

    def reply_in_thread(self, channel_id: str, thread_ts: str, text: str) -> Outcome: ...

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> str | None: ...
