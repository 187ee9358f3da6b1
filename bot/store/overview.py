"""What the App Home lists: pages of the workspace's subscriptions, a user's own, latest briefs."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.store.models import StoredSignal, Subscription

# A person's own subscriptions: made in their DM with the app (`D…`), or kept under their user
# ID (`U…`, `W…` on Enterprise Grid), as `subscribe me …` does.
PERSONAL_PREFIXES = ("D", "U", "W")
_PERSONAL = or_(*(Subscription.channel_id.like(f"{prefix}%") for prefix in PERSONAL_PREFIXES))


def is_personal(channel_id: str) -> bool:
    """A person's own subscription or mute, not a channel's."""
    return channel_id[:1] in PERSONAL_PREFIXES


def count_channel_subscriptions(session: Session) -> int:
    query = select(func.count()).select_from(Subscription).where(~_PERSONAL)
    return int(session.scalar(query) or 0)


def channel_subscriptions_page(session: Session, *, offset: int, limit: int) -> list[Subscription]:
    """One page of the workspace's channel subscriptions, by channel, then ID."""
    query = (
        select(Subscription)
        .where(~_PERSONAL)
        .order_by(Subscription.channel_name, Subscription.channel_id, Subscription.id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def personal_subscriptions(session: Session, user_id: str, *, limit: int) -> list[Subscription]:
    """The user's personal subscriptions, oldest first."""
    query = (
        select(Subscription)
        .where(
            _PERSONAL,
            or_(Subscription.channel_id == user_id, Subscription.created_by == user_id),
        )
        .order_by(Subscription.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def latest_briefs(session: Session, *, limit: int) -> list[StoredSignal]:
    query = select(StoredSignal).order_by(StoredSignal.published.desc()).limit(limit)
    return list(session.scalars(query))
