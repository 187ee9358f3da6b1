"""Briefs shared in a channel from search results: one row per (brief, channel), claimed first.

A click claims the row before posting, so two clicks (or two people) cannot both post. A claim
that never got its message (the process died mid-post) may be taken over after CLAIM_TIMEOUT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.models import Base

CLAIM_TIMEOUT = timedelta(minutes=2)


class SharedBrief(Base):
    """A brief posted in a channel by someone's Share click (or being posted right now)."""

    __tablename__ = "shared_briefs"
    __table_args__ = (
        UniqueConstraint("signal_id", "channel_id", name="uq_shared_briefs_signal_channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    shared_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime]
    message_ts: Mapped[str | None] = mapped_column(String(32))


def insert_claim(
    session: Session, signal_id: str, channel_id: str, user_id: str, now: datetime
) -> None:
    """Claim the right to post; IntegrityError (at flush) when the pair is already claimed."""
    session.add(
        SharedBrief(signal_id=signal_id, channel_id=channel_id, shared_by=user_id, claimed_at=now)
    )
    session.flush()


def existing_claim(session: Session, signal_id: str, channel_id: str) -> SharedBrief | None:
    """The claim on this (brief, channel), if any."""
    return session.scalars(
        select(SharedBrief).where(
            SharedBrief.signal_id == signal_id, SharedBrief.channel_id == channel_id
        )
    ).one_or_none()


def take_over_claim(session: Session, stale: SharedBrief, user_id: str, now: datetime) -> bool:
    """Claim a row whose post never went out (CLAIM_TIMEOUT ago), unless another click just did."""
    if stale.message_ts is not None or now - stale.claimed_at < CLAIM_TIMEOUT:
        return False
    taken = session.execute(
        update(SharedBrief)
        .where(SharedBrief.id == stale.id, SharedBrief.claimed_at == stale.claimed_at)
        .values(shared_by=user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))


def record_share(session: Session, signal_id: str, channel_id: str, message_ts: str) -> None:
    """The claimed post went out: remember its message."""
    session.execute(
        update(SharedBrief)
        .where(SharedBrief.signal_id == signal_id, SharedBrief.channel_id == channel_id)
        .values(message_ts=message_ts)
    )


def release_share(session: Session, signal_id: str, channel_id: str) -> None:
    """The claimed post failed: let a later click try again."""
    session.execute(
        delete(SharedBrief).where(
            SharedBrief.signal_id == signal_id,
            SharedBrief.channel_id == channel_id,
            SharedBrief.message_ts.is_(None),
        )
    )
