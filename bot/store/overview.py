"""What the App Home lists: pages of the workspace's subscriptions, a user's own, latest briefs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import StoredSignal, Subscription

# Personal subscriptions are those made in a direct message with the app.
_IN_DIRECT_MESSAGE = Subscription.channel_id.like("D%")


def is_personal(channel_id: str) -> bool:
    """A person's own subscription or mute (made in their DM with the app), not a channel's."""
    return channel_id.startswith("D")


def count_channel_subscriptions(session: Session) -> int:
    query = select(func.count()).select_from(Subscription).where(~_IN_DIRECT_MESSAGE)
    return int(session.scalar(query) or 0)


def channel_subscriptions_page(session: Session, *, offset: int, limit: int) -> list[Subscription]:
    """One page of the workspace's channel subscriptions, by channel, then ID."""
    query = (
        select(Subscription)
        .where(~_IN_DIRECT_MESSAGE)
        .order_by(Subscription.channel_name, Subscription.channel_id, Subscription.id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def personal_subscriptions(session: Session, user_id: str, *, limit: int) -> list[Subscription]:
    """The user's personal subscriptions (those made in a DM with the app), oldest first."""
    query = (
        select(Subscription)
        .where(_IN_DIRECT_MESSAGE, Subscription.created_by == user_id)
        .order_by(Subscription.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def latest_briefs(session: Session, *, limit: int) -> list[StoredSignal]:
    query = select(StoredSignal).order_by(StoredSignal.published.desc()).limit(limit)
    return list(session.scalars(query))
