"""The history of subscriptions and mutes: every change, who made it, from what to what.

Code that changes a subscription or a mute calls `record_change` in the same transaction, so a
change and its record are committed (or rolled back) together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import SubscriptionChange, utcnow

# Who acted, when it was not a Slack user.
ACTOR_CLI = "cli"
ACTOR_IMPORT = "import"
ACTOR_BOT = "signal-bot"


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A recorded change, detached from its session."""

    id: int
    at: datetime
    channel_id: str
    actor: str
    action: str
    subject: str
    subject_id: int | None
    before: str | None
    after: str | None


def record_change(
    session: Session,
    *,
    channel_id: str,
    actor: str,
    action: str,
    before: str | None,
    after: str | None,
    subject: str = "subscription",
    subject_id: int | None = None,
    team_id: str = "",
    at: datetime | None = None,
) -> None:
    """Record one change (`before`/`after`: the thing as a person would type it, None if absent)."""
    session.add(
        SubscriptionChange(
            at=at or utcnow(),
            team_id=team_id,
            channel_id=channel_id,
            actor=actor or ACTOR_CLI,
            action=action,
            subject=subject,
            subject_id=subject_id,
            before=before,
            after=after,
        )
    )


def recent_changes(
    session: Session, *, channel_id: str | None = None, limit: int = 20
) -> list[ChangeRecord]:
    """The latest changes, newest first: of one channel, or of the whole workspace."""
    query = select(SubscriptionChange).order_by(SubscriptionChange.id.desc()).limit(limit)
    if channel_id is not None:
        query = query.where(SubscriptionChange.channel_id == channel_id)
    return [_record(row) for row in session.scalars(query)]


def _record(row: SubscriptionChange) -> ChangeRecord:
    return ChangeRecord(
        id=row.id,
        at=row.at,
        channel_id=row.channel_id,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        subject_id=row.subject_id,
        before=row.before,
        after=row.after,
    )
