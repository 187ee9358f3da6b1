"""Where one new brief goes: per channel (or person) the most immediate matching subscription,
held back when a mute covers it (pure; the outbox rows are written by bot.ingest).

Overlap: a brief matching several subscriptions of one channel is delivered once. The winner
is the most immediate: a post beats a digest line, a daily digest beats a weekly one, a full
post beats a compact one; then the oldest subscription.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.filters import SignalFilter
from bot.signal import Signal

POST, DIGEST, MUTED = "pending", "digest", "muted"  # the delivery states a new row starts in


class Subscribed(Protocol):
    """What routing reads of a subscription (bot.store.models.Subscription has it)."""

    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def filter(self) -> str: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def format(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Target:
    channel_id: str
    subscription_id: int
    state: str  # POST, DIGEST or MUTED
    format: str = "full"


def immediacy(subscription: Subscribed) -> tuple[int, int, int]:
    """Smaller is more immediate: post < daily digest < weekly digest; full < compact."""
    digest = subscription.digest or ""
    cadence = 0 if not digest else 1 if digest.startswith("daily") else 2
    return cadence, 0 if subscription.format == "full" else 1, subscription.id


def route_signal(
    signal: Signal,
    subscriptions: Iterable[Subscribed],
    mutes: Mapping[str, Sequence[SignalFilter]],
    compiled: Callable[[str], SignalFilter],
) -> list[Target]:
    """One target per channel whose subscriptions match `signal`; `compiled` parses a filter.

    Each distinct filter is matched once per brief, however many channels share it."""
    matches = _Matches(signal)
    winners: dict[str, Subscribed] = {}
    for subscription in subscriptions:
        current = winners.get(subscription.channel_id)
        if current is not None and immediacy(current) <= immediacy(subscription):
            continue
        if matches(compiled(subscription.filter)):
            winners[subscription.channel_id] = subscription
    return [
        Target(
            channel_id,
            winner.id,
            _state(matches, winner, mutes.get(channel_id, ())),
            winner.format,
        )
        for channel_id, winner in winners.items()
    ]


class _Matches:
    """`signal` against filters, remembered by filter (the same parsed object is reused)."""

    def __init__(self, signal: Signal) -> None:
        self.signal = signal
        self.seen: dict[int, bool] = {}
        self.alive: list[SignalFilter] = []  # keeps each id() meaningful while we remember it

    def __call__(self, signal_filter: SignalFilter) -> bool:
        known = self.seen.get(id(signal_filter))
        if known is None:
            known = self.seen[id(signal_filter)] = signal_filter.matches(self.signal)
            self.alive.append(signal_filter)
        return known


def _state(matches: _Matches, winner: Subscribed, mutes: Sequence[SignalFilter]) -> str:
    if any(matches(muted) for muted in mutes):
        return MUTED
    return DIGEST if winner.digest else POST
