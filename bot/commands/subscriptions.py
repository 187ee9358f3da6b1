"""`subscribe`, `unsubscribe` and `list`: a channel's standing orders for briefs.

Changing a channel's subscriptions needs SIGNAL_BOT_MANAGERS' permission (bot.managers); every
change is recorded in the history (bot.store.history) and announced to the App Home.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.commands.base import CommandContext, Reply, channel_label
from bot.errors import FilterError
from bot.filters import SignalFilter, parse_filter
from bot.store import search as search_store
from bot.store.db import transaction
from bot.store.history import record_change
from bot.store.models import Subscription
from bot.store.subscriptions import (
    ChannelRef,
    add_subscription,
    channel_subscriptions,
    find_subscription,
    get_channel_subscription,
    resume_channel,
)


def parse_subscription(args: str) -> SignalFilter:
    """What `subscribe ARGS` asks for; FilterError says what is wrong. The one validation that
    typed commands and the subscribe modal share."""
    if not args.strip():
        raise FilterError("Say what to subscribe to, e.g. `subscribe ai-advances`.")
    return parse_filter(args)


def subscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    signal_filter = parse_subscription(args)
    if refusal := context.refusal(where):
        return refusal
    problem = context.channels.problem_posting_in(where.channel_id)
    if problem:
        return context.notice(":warning:", problem)
    with transaction(context.sessions) as session:
        existing = find_subscription(session, where.channel_id, signal_filter.canonical)
        subscription = add_subscription(session, where, signal_filter.canonical)
        if existing is None:
            _record(session, where, "subscribed", None, subscription)
        resume_channel(session, where.channel_id, where.user_id)
        matching = search_store.latest(session, signal_filter, limit=1)
    context.changes.changed_by(where.user_id)
    verb = "was already subscribed" if existing else "is now subscribed"
    lines = [
        f"{channel_label(where)} {verb} to {signal_filter.describe()} "
        f"(subscription #{subscription.id}).",
        "New briefs that match will be posted here as they arrive.",
    ]
    if matching:
        lines.append(f"The latest matching brief so far: {matching[0].title}")
    return context.notice(":white_check_mark:", *lines)


def edit_subscription(
    context: CommandContext, subscription_id: int, args: str, where: ChannelRef
) -> Reply:
    """Give subscription #ID of the channel a new FILTER (the subscribe modal's edit mode)."""
    signal_filter = parse_subscription(args)
    if refusal := context.refusal(where):
        return refusal
    with transaction(context.sessions) as session:
        found = get_channel_subscription(session, where.channel_id, subscription_id)
        if found is None:
            return _not_found(context, f"#{subscription_id}")
        clash = find_subscription(session, where.channel_id, signal_filter.canonical)
        if clash is not None and clash.id != found.id:
            return context.notice(
                ":grey_question:",
                f"{channel_label(where)} already has that subscription (#{clash.id}); "
                f"#{found.id} is unchanged.",
            )
        before = found.filter
        found.filter = signal_filter.canonical
        if before != found.filter:
            _record(session, where, "edited", before, found)
    context.changes.changed_by(where.user_id)
    return context.notice(
        ":white_check_mark:",
        f"Subscription #{subscription_id} of {channel_label(where)} now follows "
        f"{signal_filter.describe()}.",
    )


def unsubscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    if not args:
        raise FilterError("Say which subscription to remove: `unsubscribe ID` (see `list`).")
    if refusal := context.refusal(where):
        return refusal
    with transaction(context.sessions) as session:
        if args.lstrip("#").isdigit():
            found = get_channel_subscription(session, where.channel_id, int(args.lstrip("#")))
        else:
            canonical = parse_filter(args).canonical
            found = find_subscription(session, where.channel_id, canonical)
        if found is None:
            return _not_found(context, args)
        description = parse_filter(found.filter).describe()
        _record(session, where, "unsubscribed", found.filter, None, subject_id=found.id)
        session.delete(found)
    context.changes.changed_by(where.user_id)
    return context.notice(
        ":white_check_mark:", f"Unsubscribed this channel from {description} (#{found.id})."
    )


def list_subscriptions(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    with transaction(context.sessions) as session:
        listed = [
            listed_subscription(row) for row in channel_subscriptions(session, where.channel_id)
        ]
    message = context.renderer.render(
        "subscriptions.json.j2", channel_name=channel_label(where), subscriptions=listed
    )
    return Reply(message)


@dataclass(frozen=True, slots=True)
class ListedSubscription:
    id: int
    canonical: str
    description: str
    state: str
    paused_reason: str | None
    channel_id: str = ""


def listed_subscription(row: Subscription) -> ListedSubscription:
    return ListedSubscription(
        id=row.id,
        canonical=row.filter,
        description=parse_filter(row.filter).describe(),
        state=row.state,
        paused_reason=row.paused_reason,
        channel_id=row.channel_id,
    )


def _not_found(context: CommandContext, asked: str) -> Reply:
    return context.notice(
        ":grey_question:",
        f"This channel has no subscription matching “{asked}”.",
        "Type `/signals list` to see its subscriptions and their IDs.",
    )


def _record(
    session: Session,
    where: ChannelRef,
    action: str,
    before: str | None,
    after: Subscription | None,
    *,
    subject_id: int | None = None,
) -> None:
    record_change(
        session,
        channel_id=where.channel_id,
        team_id=where.team_id,
        actor=where.user_id,
        action=action,
        before=before,
        after=after.filter if after else None,
        subject_id=after.id if after else subject_id,
    )
