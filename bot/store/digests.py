"""The digests' outbox: digest rows (made by bot.store.digest_periods) are claimed, sent and
settled like posts, and reconciled after a crash."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, true, update
from sqlalchemy.orm import Session

from bot.alerts.digest_lines import DigestLine
from bot.store.alert_models import Digest
from bot.store.models import StoredSignal
from bot.store.outbox import UNCONFIRMED
from bot.store.slack_state import ChannelPace

DIGESTED = "digested"


@dataclass(frozen=True, slots=True)
class ClaimedDigest:
    """A claimed digest message with its lines, detached from the session."""

    id: int
    channel_id: str
    key: str
    lines: tuple[DigestLine, ...]
    period_at: datetime
    tz: str
    part: int
    parts: int
    attempts: int
    last_error: str | None
    created_at: datetime
    team_id: str = ""  # the workspace whose token sends it ("" with a single bot token)

    @property
    def maybe_posted(self) -> bool:
        return (self.last_error or "").startswith(UNCONFIRMED)


def digest_line(signal: StoredSignal) -> DigestLine:
    """The line a stored brief makes in a digest."""
    return DigestLine(
        signal.id, signal.title, signal.entity, signal.category, signal.topic, signal.published
    )


def claim_due(
    session: Session,
    *,
    limit: int,
    worker: str,
    now: datetime,
    skip_teams: Collection[str] = (),
) -> list[ClaimedDigest]:
    """Claim up to `limit` due digests, at most one per channel and none for a channel that
    has one in flight or is held by its pace, nor for the workspaces in `skip_teams`."""
    busy = select(Digest.channel_id).where(Digest.state == "sending")
    candidates = (
        select(Digest.id, Digest.channel_id)
        .outerjoin(ChannelPace, ChannelPace.channel_id == Digest.channel_id)
        .where(
            Digest.state == "pending",
            Digest.next_attempt_at <= now,
            or_(ChannelPace.ready_at.is_(None), ChannelPace.ready_at <= now),
            Digest.channel_id.not_in(busy),
            Digest.team_id.not_in(list(skip_teams)) if skip_teams else true(),
        )
        .order_by(Digest.period_at, Digest.part, Digest.id)
        .limit(limit * 2)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(of=Digest, skip_locked=True)
    picked: dict[str, int] = {}
    for digest_id, channel_id in session.execute(candidates):
        if channel_id not in picked and len(picked) < limit:
            picked[channel_id] = digest_id
    if not picked:
        return []
    # Conditional on the state: on SQLite the pick above held no lock, so another worker may
    # have claimed one of these meanwhile; the UPDATE decides.
    claimed_ids = session.scalars(
        update(Digest)
        .where(Digest.id.in_(picked.values()), Digest.state == "pending")
        .values(state="sending", claimed_at=now, claimed_by=worker, attempts=Digest.attempts + 1)
        .returning(Digest.id)
        .execution_options(synchronize_session=False)
    ).all()
    rows = list(
        session.scalars(
            select(Digest)
            .where(Digest.id.in_(claimed_ids))
            .order_by(Digest.period_at, Digest.id)
            .execution_options(populate_existing=True)
        )
    )
    wanted = {signal_id for row in rows for signal_id in row.signal_ids}
    lines = {
        signal.id: digest_line(signal)
        for signal in session.scalars(select(StoredSignal).where(StoredSignal.id.in_(wanted)))
    }
    return [_as_claimed(row, lines) for row in rows]


def _as_claimed(row: Digest, lines: dict[str, DigestLine]) -> ClaimedDigest:
    return ClaimedDigest(
        id=row.id,
        channel_id=row.channel_id,
        key=row.key,
        lines=tuple(lines[signal_id] for signal_id in row.signal_ids if signal_id in lines),
        period_at=row.period_at,
        tz=row.tz,
        part=row.part,
        parts=row.parts,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        team_id=row.team_id,
    )


def owned(session: Session, ids: list[int], worker: str) -> dict[int, Digest]:
    query = select(Digest).where(
        Digest.id.in_(ids), Digest.state == "sending", Digest.claimed_by == worker
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: row for row in session.scalars(query)}


def release(session: Session, ids: list[int], worker: str) -> None:
    session.execute(
        update(Digest)
        .where(Digest.id.in_(ids), Digest.claimed_by == worker, Digest.state == "sending")
        .values(state="pending", attempts=Digest.attempts - 1, claimed_by=None)
        .execution_options(synchronize_session=False)
    )


def next_due_at(session: Session) -> datetime | None:
    due: datetime | None = session.scalar(
        select(func.min(Digest.next_attempt_at)).where(Digest.state == "pending")
    )
    return due


def requeue_orphans(
    session: Session, *, live_workers: set[str], stale_before: datetime, now: datetime
) -> int:
    """Digests whose worker died mid-send go back in line, marked unconfirmed: the channel's
    history is read before they are posted again."""
    orphaned = session.scalars(
        select(Digest).where(
            Digest.state == "sending",
            or_(
                Digest.claimed_by.is_(None),
                Digest.claimed_by.not_in(live_workers) if live_workers else true(),
                Digest.claimed_at < stale_before,
            ),
        )
    ).all()
    for row in orphaned:
        row.state, row.claimed_by, row.next_attempt_at = "pending", None, now
        row.last_error = f"{UNCONFIRMED}its worker stopped while sending"
    return len(orphaned)


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Digest.state, func.count()).group_by(Digest.state))
    return {state: count for state, count in rows}


def retry_failed(session: Session, *, now: datetime) -> int:
    """`signal-bot deliveries retry`: failed digests are due again, with fresh attempt counts
    (one that may have gone out is looked for in the history first, as after a crash)."""
    result = session.execute(
        update(Digest)
        .where(Digest.state == "failed")
        .values(state="pending", attempts=0, rate_limited=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
