"""Subscriptions: which channel wants which briefs (the FILTER is stored in canonical form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.options import AlertOptions
from bot.alerts.schedule import parse_schedule
from bot.store.history import ACTOR_BOT, record_change
from bot.store.models import Subscription


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a command was typed, as Slack names it."""

    channel_id: str
    channel_name: str = ""
    team_id: str = ""
    user_id: str = ""


def add_subscription(session: Session, channel: ChannelRef, canonical_filter: str) -> Subscription:
    """Subscribe the channel; subscribing twice to the same filter returns the existing one."""
    existing = find_subscription(session, channel.channel_id, canonical_filter)
    if existing is not None:
        return existing
    subscription = Subscription(
        team_id=channel.team_id,
        channel_id=channel.channel_id,
        channel_name=channel.channel_name,
        filter=canonical_filter,
        created_by=channel.user_id,
    )
    session.add(subscription)
    session.flush()
    return subscription


@dataclass(frozen=True, slots=True)
class Saved:
    subscription: Subscription
    created: bool
    changed: bool  # an existing subscription got new options


def save_subscription(
    session: Session, where: ChannelRef, canonical_filter: str, options: AlertOptions, now: datetime
) -> Saved:
    """Subscribe `where` (a channel, or a person by user ID) with `options`; subscribing the
    same filter again updates its options. A digest's first due time is set from `now`."""
    subscription = find_subscription(session, where.channel_id, canonical_filter)
    created = subscription is None
    if subscription is None:
        subscription = add_subscription(session, where, canonical_filter)
    before = (subscription.digest, subscription.tz, subscription.format)
    subscription.digest = options.digest.canonical if options.digest else None
    subscription.tz = options.tz
    subscription.format = options.format
    changed = not created and before != (subscription.digest, subscription.tz, subscription.format)
    if options.digest is None:
        subscription.next_digest_at = None
    elif created or changed or subscription.next_digest_at is None:
        subscription.next_digest_at = options.digest.next_after(now, options.zone)
    session.flush()
    return Saved(subscription, created, changed)


def options_of(subscription: Subscription) -> AlertOptions:
    """The stored options, parsed back."""
    schedule = parse_schedule(subscription.digest) if subscription.digest else None
    return AlertOptions(digest=schedule, tz=subscription.tz, format=subscription.format)


def find_subscription(session: Session, channel_id: str, canonical: str) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.channel_id == channel_id, Subscription.filter == canonical
        )
    )


def get_channel_subscription(
    session: Session, channel_id: str, subscription_id: int
) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.channel_id == channel_id, Subscription.id == subscription_id
        )
    )


def channel_subscriptions(session: Session, channel_id: str) -> list[Subscription]:
    query = (
        select(Subscription).where(Subscription.channel_id == channel_id).order_by(Subscription.id)
    )
    return list(session.scalars(query))


def active_subscriptions(session: Session) -> list[Subscription]:
    query = select(Subscription).where(Subscription.paused_reason.is_(None))
    return list(session.scalars(query.order_by(Subscription.id)))


def pause_channel(session: Session, channel_id: str, reason: str) -> int:
    """Pause every subscription of a channel Slack will not take messages for."""
    subscriptions = channel_subscriptions(session, channel_id)
    for subscription in subscriptions:
        if subscription.paused_reason != reason:
            _record_state(session, subscription, ACTOR_BOT, "paused", f"paused: {reason}")
        subscription.paused_reason = reason
    return len(subscriptions)


def resume_channel(session: Session, channel_id: str, actor: str = ACTOR_BOT) -> None:
    for subscription in channel_subscriptions(session, channel_id):
        if subscription.paused_reason is not None:
            _record_state(session, subscription, actor, "resumed", "active")
        subscription.paused_reason = None


def _record_state(
    session: Session, subscription: Subscription, actor: str, action: str, after: str
) -> None:
    before = f"paused: {subscription.paused_reason}" if subscription.paused_reason else "active"
    record_change(
        session,
        channel_id=subscription.channel_id,
        team_id=subscription.team_id,
        actor=actor,
        action=action,
        before=before,
        after=after,
        subject_id=subscription.id,
    )
