"""When a source polls next: on its interval while healthy, later and later while failing."""

from __future__ import annotations

import random
from datetime import timedelta

MAX_BACKOFF = timedelta(hours=1)


def backoff_delay(
    failures: int,
    interval: timedelta,
    *,
    retry_after: timedelta | None = None,
    spread: float | None = None,
) -> timedelta:
    """The wait after the `failures`-th failure in a row: exponential, jittered, capped.

    `spread` in [0, 1) picks the point in the jitter window (random when None); the server's
    `retry_after` is a floor, never shortened by jitter.
    """
    ceiling = max(MAX_BACKOFF, interval)
    exponential: timedelta = min(interval * 2 ** max(failures - 1, 0), ceiling)
    fraction = random.random() if spread is None else spread
    # "Equal jitter": half the delay is fixed, half random, so failing sources drift apart.
    delay: timedelta = exponential / 2 + exponential / 2 * fraction
    return max(delay, retry_after) if retry_after else delay
