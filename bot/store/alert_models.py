"""Mappings for mutes and digests (schema: migrations/versions/0006_alerts.py, 0013)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, utcnow


class Mute(Base):
    """Briefs matching `filter` are not posted to `channel_id` (a channel or a user) until then."""

    __tablename__ = "mutes"
    __table_args__ = (Index("ix_mutes_channel_until", "channel_id", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(64))
    filter: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """One digest message of one subscription's period: an outbox item like a post.

    pending -> sending -> sent | failed | paused; `part` of `parts` when a period's briefs
    need more than one message. Unique per (subscription, period, part): gathered once.
    """

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_at", "part", name="uq_digests_period"),
        Index("ix_digests_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    channel_id: Mapped[str] = mapped_column(String(64))
    # The workspace whose token sends it, as for deliveries ("" with a single bot token).
    team_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    period_at: Mapped[datetime]  # the due instant this digest closes
    part: Mapped[int] = mapped_column(Integer, default=1)
    parts: Mapped[int] = mapped_column(Integer, default=1)
    since: Mapped[datetime | None]  # the previous period's end, when there was one
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    signal_ids: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    @property
    def key(self) -> str:
        """Names this message in its metadata, so a resend after a crash can find it."""
        return f"{self.subscription_id}/{self.period_at:%Y-%m-%dT%H:%MZ}/{self.part}"
