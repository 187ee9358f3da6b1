"""Ingest: upsert signals by key, match subscriptions, and write outbox rows, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from bot import metrics
from bot.alerts.targets import Target, route_signal
from bot.filters import SignalFilter, parse_filter
from bot.signal import Signal
from bot.store import outbox
from bot.store.models import Subscription, utcnow
from bot.store.mutes import active_mutes
from bot.store.signals import Change, upsert_signals
from bot.store.subscriptions import active_subscriptions

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestReport:
    """What one ingest did, by signal ID."""

    new: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    unchanged: int = 0
    queued: int = 0

    @property
    def stored(self) -> int:
        return len(self.new) + len(self.revised)

    def __iadd__(self, other: IngestReport) -> IngestReport:
        self.new += other.new
        self.revised += other.revised
        self.unchanged += other.unchanged
        self.queued += other.queued
        return self


def ingest(
    session: Session, signals: Sequence[Signal], *, announce: bool, now: datetime | None = None
) -> IngestReport:
    """Store `signals` (already keyed to their source); queue new ones when `announce`, held
    back as `muted` where a mute in force at `now` covers them."""
    report = IngestReport()
    subscriptions = active_subscriptions(session) if announce else []
    mutes = _muted_filters(session, now or utcnow()) if announce else {}
    for upserted in upsert_signals(session, signals):
        row = upserted.row
        if upserted.change is Change.UNCHANGED:
            report.unchanged += 1
        elif upserted.change is Change.REVISED:
            report.revised.append(row.id)
            metrics.signals_ingested.labels(row.source, "revised").inc()
            outbox.request_edits(session, row.id)
        else:
            report.new.append(row.id)
            metrics.signals_ingested.labels(row.source, "new").inc()
            if announce:
                targets = route_signal(row.to_signal(), subscriptions, mutes, _compiled)
                report.queued += outbox.enqueue(session, row.id, targets)
    session.flush()
    return report


def announce_new(session: Session, signals: Iterable[Signal], *, now: datetime) -> int:
    """Queue just-stored new signals for the subscriptions they match, as `ingest` does;
    returns how many posts were queued (none to match: `signals` is not even iterated)."""
    subscriptions = active_subscriptions(session)
    if not subscriptions:
        return 0
    mutes = _muted_filters(session, now)
    return sum(
        outbox.enqueue(session, signal.id, route_signal(signal, subscriptions, mutes, _compiled))
        for signal in signals
    )


def match_subscriptions(signal: Signal, subscriptions: Sequence[Subscription]) -> list[Target]:
    """Where `signal` goes: one target per channel, however many filters match (no mutes)."""
    return route_signal(signal, subscriptions, {}, _compiled)


def _muted_filters(session: Session, now: datetime) -> dict[str, list[SignalFilter]]:
    """Each channel's (or person's) mutes in force at `now`, parsed."""
    muted: dict[str, list[SignalFilter]] = {}
    for mute in active_mutes(session, now=now):
        muted.setdefault(mute.channel_id, []).append(_compiled(mute.filter))
    return muted


@lru_cache(maxsize=4096)
def _compiled(canonical: str) -> SignalFilter:
    return parse_filter(canonical)
