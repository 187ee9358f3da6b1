"""Closing digest periods: due subscriptions' waiting briefs become digest rows (the digests'
outbox, bot.store.digests).

Idempotent across workers and crashes: a period is closed by a conditional UPDATE of the
subscription's `next_digest_at` (only the worker that moves it gathers), in the same
transaction as its digest rows, and (subscription, period, part) is unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.alerts.digest_lines import DigestLine, split_into_parts
from bot.alerts.schedule import parse_schedule
from bot.alerts.targets import DIGEST, MUTED
from bot.filters import SignalFilter
from bot.signal import Signal
from bot.store.alert_models import Digest
from bot.store.digests import DIGESTED, digest_line
from bot.store.models import Delivery, StoredSignal, Subscription


def due_subscriptions(
    session: Session, now: datetime, *, after_id: int = 0, limit: int = 200
) -> list[int]:
    """IDs (above `after_id`, ascending) of active digest subscriptions whose period ended."""
    query = (
        select(Subscription.id)
        .where(
            Subscription.next_digest_at <= now,
            Subscription.paused_reason.is_(None),
            Subscription.id > after_id,
        )
        .order_by(Subscription.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def gather(
    session: Session,
    subscription_ids: list[int],
    now: datetime,
    mutes: dict[str, list[SignalFilter]],
) -> int:
    """Close the due periods of these subscriptions: their waiting briefs become digest rows.
    Returns how many digest messages were queued (none for an empty period, nor for a period
    another worker closed first)."""
    due = session.scalars(
        select(Subscription).where(
            Subscription.id.in_(subscription_ids),
            Subscription.next_digest_at <= now,
            Subscription.paused_reason.is_(None),
        )
    ).all()
    closed = _close_periods(session, due, now)
    closed_ids = [subscription.id for subscription, _ in closed]
    waiting = _waiting_lines(session, closed_ids)
    previous_periods = _previous_periods(session, closed_ids)
    digests: list[tuple[Digest, list[DigestLine]]] = []
    changes: list[dict[str, object]] = []
    parts_cache: dict[tuple[DigestLine, ...], list[list[DigestLine]]] = {}
    for subscription, period_at in closed:
        lines: list[DigestLine] = []
        for delivery_id, line, signal in waiting.get(subscription.id, []):
            if any(muted.matches(signal) for muted in mutes.get(subscription.channel_id, ())):
                changes.append({"id": delivery_id, "state": MUTED})  # muted since it arrived
            else:
                lines.append(line)
        parts = _parts_of(tuple(lines), parts_cache)
        previous = previous_periods.get(subscription.id)
        for number, part in enumerate(parts, start=1):
            digest = Digest(
                subscription_id=subscription.id,
                channel_id=subscription.channel_id,
                team_id=subscription.team_id,
                period_at=period_at,
                part=number,
                parts=len(parts),
                since=previous,
                tz=subscription.tz or "UTC",
                signal_ids=[line.signal_id for line in part],
                next_attempt_at=now,
            )
            digests.append((digest, part))
    session.add_all([digest for digest, _ in digests])
    session.flush()
    _mark_muted(session, [change["id"] for change in changes])
    _mark_digested(session, digests, waiting)
    return len(digests)


def _parts_of(
    lines: tuple[DigestLine, ...], cache: dict[tuple[DigestLine, ...], list[list[DigestLine]]]
) -> list[list[DigestLine]]:
    """Subscriptions alike wait for the same briefs: split each distinct list once."""
    if lines not in cache:
        cache[lines] = split_into_parts(lines)
    return cache[lines]


def _close_periods(
    session: Session, due: Sequence[Subscription], now: datetime
) -> list[tuple[Subscription, datetime]]:
    """Move each subscription's due time on; (subscription, the period it closed) for those
    this worker moved. Subscriptions alike (schedule, zone, due time) move in one conditional
    UPDATE, and one another worker moved first drop out (on SQLite and PostgreSQL alike)."""
    alike: dict[tuple[str, str, datetime], list[Subscription]] = {}
    for subscription in due:
        if subscription.digest and subscription.next_digest_at is not None:
            key = (subscription.digest, subscription.tz or "UTC", subscription.next_digest_at)
            alike.setdefault(key, []).append(subscription)
    closed: list[tuple[Subscription, datetime]] = []
    for (schedule_text, tz, period_at), group in alike.items():
        schedule = parse_schedule(schedule_text)
        if schedule is None:
            continue
        moved = session.scalars(
            update(Subscription)
            .where(
                Subscription.id.in_([subscription.id for subscription in group]),
                Subscription.next_digest_at == period_at,
            )
            .values(next_digest_at=schedule.next_after(now, ZoneInfo(tz)))
            .returning(Subscription.id)
            .execution_options(synchronize_session=False)
        ).all()
        won = set(moved)
        closed += [(subscription, period_at) for subscription in group if subscription.id in won]
    return closed


def _mark_muted(session: Session, delivery_ids: list[object]) -> None:
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids))
            .values(state=MUTED)
            .execution_options(synchronize_session=False)
        )


def _mark_digested(
    session: Session,
    digests: list[tuple[Digest, list[DigestLine]]],
    waiting: dict[int, list[tuple[int, DigestLine, Signal]]],
) -> None:
    """The waiting deliveries now listed in a digest: set-based for one-part digests (almost
    all), row by row where a period took several messages."""
    delivery_of = {
        (subscription_id, line.signal_id): delivery_id
        for subscription_id, rows in waiting.items()
        for delivery_id, line, _ in rows
    }
    by_period: dict[datetime, list[int]] = {}
    for digest, part in digests:
        if digest.parts == 1:  # only the rows read: a brief arriving meanwhile waits its turn
            listed = (delivery_of[(digest.subscription_id or 0, line.signal_id)] for line in part)
            by_period.setdefault(digest.period_at, []).extend(listed)
    for period_at, delivery_ids in by_period.items():
        its_digest = (
            select(Digest.id)
            .where(
                Digest.subscription_id == Delivery.subscription_id,
                Digest.period_at == period_at,
                Digest.part == 1,
            )
            .scalar_subquery()
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids))
            .values(state=DIGESTED, digest_id=its_digest)
            .execution_options(synchronize_session=False)
        )
    several = [
        {"delivery_id": delivery_of[(digest.subscription_id or 0, line.signal_id)], "to": digest.id}
        for digest, part in digests
        if digest.parts > 1
        for line in part
    ]
    if several:
        table = cast(Table, Delivery.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("delivery_id"))
            .values(state=DIGESTED, digest_id=bindparam("to")),
            several,
        )


def _waiting_lines(
    session: Session, subscription_ids: list[int]
) -> dict[int, list[tuple[int, DigestLine, Signal]]]:
    """Per subscription, its briefs waiting for a digest: (delivery ID, line, signal). Each
    brief is loaded once, however many subscriptions wait for it."""
    waiting: dict[int, list[tuple[int, DigestLine, Signal]]] = {}
    if not subscription_ids:
        return waiting
    rows = session.execute(
        select(Delivery.id, Delivery.subscription_id, Delivery.signal_id).where(
            Delivery.subscription_id.in_(subscription_ids), Delivery.state == DIGEST
        )
    ).all()
    signals = {
        signal.id: (digest_line(signal), signal.to_signal())
        for signal in session.scalars(
            select(StoredSignal).where(StoredSignal.id.in_({row.signal_id for row in rows}))
        )
    }
    for delivery_id, subscription_id, signal_id in rows:
        if subscription_id is not None and signal_id in signals:
            line, signal = signals[signal_id]
            waiting.setdefault(subscription_id, []).append((delivery_id, line, signal))
    return waiting


def _previous_periods(session: Session, subscription_ids: list[int]) -> dict[int, datetime]:
    """Each subscription's latest digest period so far (a digest says "since" it)."""
    if not subscription_ids:
        return {}
    query = (
        select(Digest.subscription_id, func.max(Digest.period_at))
        .where(Digest.subscription_id.in_(subscription_ids))
        .group_by(Digest.subscription_id)
    )
    return {
        subscription_id: period
        for subscription_id, period in session.execute(query)
        if subscription_id is not None
    }
