"""The delivery outbox: rows are claimed, sent, and settled as sent, retried, paused or failed.

States: `pending` (a post is due) and `edit` (a revision to apply with chat.update) wait to be
claimed; a claimed row is `sending` (or `editing`) until settled as `sent`, `failed` or `paused`.

Per channel, only the first waiting row (by the signal's published time) may be claimed, and
only while nothing else of that channel is in flight: that keeps each channel in published order
across any number of workers. On PostgreSQL the claim skips rows other workers hold locked
(FOR UPDATE SKIP LOCKED); on SQLite the claim is a single UPDATE, serialized by the write lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Subquery, case, func, or_, select, true, update
from sqlalchemy.orm import Session, lazyload

from bot.alerts.targets import Target
from bot.signal import Signal
from bot.store.models import Delivery, StoredSignal, utcnow
from bot.store.slack_state import ChannelPace

CLAIMABLE = {"pending": "sending", "edit": "editing"}
WAITING = tuple(CLAIMABLE)
IN_FLIGHT = tuple(CLAIMABLE.values())
# Marks the last error of a post that may have reached Slack: look before sending again.
UNCONFIRMED = "unconfirmed: "


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed delivery with everything needed to send it, detached from the session."""

    id: int
    channel_id: str
    editing: bool
    message_ts: str | None
    signal: Signal
    signal_id: str
    revision: int
    posted_fields: dict[str, str] | None
    attempts: int
    last_error: str | None
    claimed_at: datetime
    created_at: datetime
    format: str = "full"  # full | compact: how the brief is split into post and replies
    part_ts: tuple[str, ...] = ()  # the ts of each part posted so far, the post first
    posted_revision: int = 0  # the revision the posted parts show

    @property
    def waiting_state(self) -> str:
        """The state to fall back to when the attempt is to be retried."""
        return "edit" if self.editing else "pending"

    @property
    def maybe_posted(self) -> bool:
        """An earlier attempt may have posted it: the channel history decides."""
        return not self.editing and (self.last_error or "").startswith(UNCONFIRMED)


def enqueue(
    session: Session, signal_id: str, targets: Iterable[Target | tuple[str, int | None]]
) -> int:
    """One delivery per target, in the state routing chose (bot.alerts.targets), or pending
    for a plain (channel, subscription) pair; returns how many."""
    rows = [
        Delivery(
            signal_id=signal_id,
            channel_id=target.channel_id,
            subscription_id=target.subscription_id,
            state=target.state,
            format=target.format,
        )
        if isinstance(target, Target)
        else Delivery(signal_id=signal_id, channel_id=target[0], subscription_id=target[1])
        for target in targets
    ]
    session.add_all(rows)
    return len(rows)


def request_edits(session: Session, signal_id: str) -> int:
    """A revised signal: every copy already posted is to be edited in place."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.signal_id == signal_id, Delivery.state == "sent")
        .values(state="edit", attempts=0, rate_limited=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim_due(session: Session, *, limit: int, worker: str, now: datetime) -> list[Claimed]:
    """Claim up to `limit` due rows, at most one per channel, oldest signal first."""
    heads = (
        select(_heads.c.id, _heads.c.published)
        .where(
            _heads.c.next_attempt_at <= now,
            or_(_heads.c.ready_at.is_(None), _heads.c.ready_at <= now),
        )
        .order_by(_heads.c.published, _heads.c.id)
        .limit(limit * HEADS_PER_CLAIM)  # more than wanted: other workers may hold some
        .subquery("due_heads")
    )
    candidates = (
        select(Delivery.id)
        .join(heads, heads.c.id == Delivery.id)
        # Checked again here: PostgreSQL re-evaluates this level's conditions on a row that
        # changed while the claim waited for it, so a row claimed meanwhile drops out.
        .where(Delivery.state.in_(WAITING))
        .order_by(heads.c.published, heads.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(of=Delivery, skip_locked=True)
    claimed_ids = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(candidates.correlate(None).scalar_subquery()))
        .values(
            state=case((Delivery.state == "edit", "editing"), else_="sending"),
            claimed_at=now,
            claimed_by=worker,
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    return claimed_rows(session, list(claimed_ids))


def claimed_rows(session: Session, ids: list[int]) -> list[Claimed]:
    """The claimed rows as detached values, in sending order."""
    if not ids:
        return []
    query = (
        select(Delivery, StoredSignal)
        .join(StoredSignal, StoredSignal.id == Delivery.signal_id)
        .where(Delivery.id.in_(ids))
        .order_by(StoredSignal.published, Delivery.id)
        .options(lazyload(Delivery.signal))
        .execution_options(populate_existing=True)
    )
    return [_as_claimed(row, signal) for row, signal in session.execute(query)]


def _as_claimed(row: Delivery, signal: StoredSignal) -> Claimed:
    assert row.claimed_at is not None
    return Claimed(
        id=row.id,
        channel_id=row.channel_id,
        editing=row.state == "editing",
        message_ts=row.message_ts,
        signal=signal.to_signal(),
        signal_id=signal.id,
        revision=signal.revision,
        posted_fields=row.posted_fields,
        attempts=row.attempts,
        last_error=row.last_error,
        claimed_at=row.claimed_at,
        created_at=row.created_at,
        format=row.format,
        part_ts=tuple(row.part_ts or ()),
        posted_revision=row.posted_revision,
    )


def _channel_heads() -> Subquery:
    """Each channel's head: what is in flight, else its oldest waiting row by published time.

    One window over the active rows sorts them once. (A per-row NOT EXISTS, and a join back to
    the window's result, both turned quadratic on PostgreSQL when a fresh fan-out met stale
    planner statistics.)
    """
    in_flight_first = case((Delivery.state.in_(IN_FLIGHT), 0), else_=1)
    place = func.row_number().over(
        partition_by=Delivery.channel_id,
        order_by=(in_flight_first, StoredSignal.published, Delivery.id),
    )
    ranked = (
        select(
            Delivery.id,
            Delivery.state,
            Delivery.next_attempt_at,
            StoredSignal.published,
            ChannelPace.ready_at,
            place.label("place"),
        )
        .join(StoredSignal, StoredSignal.id == Delivery.signal_id)
        .outerjoin(ChannelPace, ChannelPace.channel_id == Delivery.channel_id)
        .where(Delivery.state.in_(WAITING + IN_FLIGHT))
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.place == 1, ranked.c.state.in_(WAITING)).subquery("heads")


_heads = _channel_heads()
HEADS_PER_CLAIM = 4


def next_due_at(session: Session) -> datetime | None:
    """When the earliest claimable row becomes due (its own retry time or its channel's pace)."""
    later_of_both = case(
        (_heads.c.ready_at > _heads.c.next_attempt_at, _heads.c.ready_at),
        else_=_heads.c.next_attempt_at,
    )
    due: datetime | None = session.scalar(select(func.min(later_of_both)))
    return due


def orphaned_claims(
    session: Session, *, live_workers: set[str], stale_before: datetime, limit: int = 200
) -> list[Delivery]:
    """In-flight rows whose worker is gone, or that have been in flight for far too long."""
    query = (
        select(Delivery)
        .where(
            Delivery.state.in_(IN_FLIGHT),
            or_(
                Delivery.claimed_by.is_(None),
                Delivery.claimed_by.not_in(live_workers) if live_workers else true(),
                Delivery.claimed_at < stale_before,
            ),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def requeue_orphan(session: Session, row: Delivery, *, now: datetime, max_attempts: int) -> bool:
    """Put an orphaned claim back in line (or fail it, out of attempts), unless its state
    moved on meanwhile. A post that may have gone out is marked unconfirmed, so the history is
    read before it is sent again."""
    waiting = "edit" if row.state == "editing" else "pending"
    error = f"{UNCONFIRMED}its worker stopped while sending" if row.state == "sending" else None
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == row.id,
            Delivery.state == row.state,
            Delivery.claimed_by.is_not_distinct_from(row.claimed_by),
            Delivery.claimed_at == row.claimed_at,
        )
        .values(
            state="failed" if row.attempts >= max_attempts else waiting,
            claimed_by=None,
            next_attempt_at=now,
            last_error=error or row.last_error,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_claims(session: Session, ids: list[int], worker: str) -> int:
    """Rows `worker` claimed but never sent go back in line; the attempt does not count."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claimed_by == worker, Delivery.state.in_(IN_FLIGHT))
        .values(
            state=case((Delivery.state == "editing", "edit"), else_="pending"),
            attempts=Delivery.attempts - 1,
            claimed_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def owned_rows(session: Session, ids: list[int], worker: str) -> dict[int, Delivery]:
    """The rows `worker` still holds claims on (a reconciler may have taken some away),
    locked on PostgreSQL until the transaction ends."""
    query = (
        select(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state.in_(IN_FLIGHT), Delivery.claimed_by == worker)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Delivery)
    return {row.id: row for row in session.scalars(query).unique()}


def deliveries(session: Session, *, state: str | None = None, limit: int = 100) -> list[Delivery]:
    """The most recent deliveries, optionally of one state."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if state:
        query = query.where(Delivery.state == state)
    return list(session.scalars(query))


def fallbacks(session: Session, *, limit: int = 100) -> list[Delivery]:
    """The most recent deliveries that went out as a short fallback (Slack refused the brief)."""
    query = (
        select(Delivery)
        .where(Delivery.fallback_reason.is_not(None))
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def retry_fallbacks(session: Session, *, now: datetime | None = None) -> int:
    """Deliveries sent as a fallback are rendered again and edited in place (after a fix)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.fallback_reason.is_not(None), Delivery.state == "sent")
        .values(state="edit", attempts=0, rate_limited=0, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_fallbacks(session: Session) -> int:
    """How many deliveries went out as a short fallback because Slack refused their rendering."""
    query = select(func.count()).where(Delivery.fallback_reason.is_not(None))
    return int(session.scalar(query) or 0)


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    return {state: count for state, count in rows}


def retry_failed(session: Session, *, now: datetime | None = None) -> int:
    """`signal-bot deliveries retry`: failed rows are due again, with fresh attempt counts.

    A row whose message exists goes back to `edit`, so a retry never posts a second copy.
    """
    result = session.execute(
        update(Delivery)
        .where(Delivery.state == "failed")
        .values(
            state=case((Delivery.message_ts.is_(None), "pending"), else_="edit"),
            attempts=0,
            rate_limited=0,
            next_attempt_at=now or utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
