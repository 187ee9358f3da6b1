"""The delivery outbox: rows are claimed, sent, and settled as sent, retried, paused or failed.

States: `pending` (post due) and `edit` (a revision to apply with chat.update) are claimable;
a claimed row is `sending` (or `editing`) until settled as `sent`, `failed` or `paused`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store.models import Delivery, StoredSignal, utcnow

CLAIMABLE = {"pending": "sending", "edit": "editing"}
IN_FLIGHT = tuple(CLAIMABLE.values())


def enqueue(session: Session, signal_id: str, targets: Iterable[tuple[str, int]]) -> int:
    """One pending delivery per (channel, subscription) target; returns how many."""
    rows = [
        Delivery(signal_id=signal_id, channel_id=channel_id, subscription_id=subscription_id)
        for channel_id, subscription_id in targets
    ]
    session.add_all(rows)
    return len(rows)


def request_edits(session: Session, signal_id: str) -> int:
    """A revised signal: every copy already posted is to be edited in place."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.signal_id == signal_id, Delivery.state == "sent")
        .values(state="edit", next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim_due(session: Session, *, limit: int, now: datetime | None = None) -> list[Delivery]:
    """Claim due rows, oldest signal first, so each goes to exactly one worker."""
    now = now or utcnow()
    query = (
        select(Delivery)
        .join(StoredSignal, StoredSignal.id == Delivery.signal_id)
        .where(Delivery.state.in_(CLAIMABLE), Delivery.next_attempt_at <= now)
        .order_by(StoredSignal.published, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Delivery, skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.state = CLAIMABLE[row.state]
        row.claimed_at = now
        row.attempts += 1
    session.flush()
    return rows


def stale_claims(session: Session, *, older_than: timedelta) -> list[Delivery]:
    """Rows claimed by a worker that died before settling them."""
    cutoff = utcnow() - older_than
    query = select(Delivery).where(Delivery.state.in_(IN_FLIGHT), Delivery.claimed_at < cutoff)
    return list(session.scalars(query))


def deliveries(session: Session, *, state: str | None = None, limit: int = 100) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if state:
        query = query.where(Delivery.state == state)
    return list(session.scalars(query))


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    return {state: count for state, count in rows}


def retry_failed(session: Session) -> int:
    """`signal-bot deliveries retry`: failed rows become due again, with a fresh attempt count."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.state == "failed")
        .values(state="pending", attempts=0, next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
