"""`subscribe`, `unsubscribe` and `list`: a channel's standing orders for briefs."""

from __future__ import annotations

from dataclasses import dataclass

from bot import search as search_store
from bot.commands.base import CommandContext, Reply, channel_label
from bot.errors import FilterError
from bot.filters import parse_filter
from bot.store.db import transaction
from bot.store.subscriptions import (
    ChannelRef,
    add_subscription,
    channel_subscriptions,
    find_subscription,
    get_channel_subscription,
    resume_channel,
)


def subscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    if not args:
        raise FilterError("Say what to subscribe to, e.g. `subscribe ai-advances`.")
    signal_filter = parse_filter(args)
    problem = context.channels.problem_posting_in(where.channel_id)
    if problem:
        return context.notice(":warning:", problem)
    with transaction(context.sessions) as session:
        existing = find_subscription(session, where.channel_id, signal_filter.canonical)
        subscription = add_subscription(session, where, signal_filter.canonical)
        resume_channel(session, where.channel_id)
        matching = search_store.latest(session, signal_filter, limit=1)
    verb = "was already subscribed" if existing else "is now subscribed"
    lines = [
        f"{channel_label(where)} {verb} to {signal_filter.describe()} "
        f"(subscription #{subscription.id}).",
        "New briefs that match will be posted here as they arrive.",
    ]
    if matching:
        lines.append(f"The latest matching brief so far: {matching[0].title}")
    return context.notice(":white_check_mark:", *lines)


def unsubscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    if not args:
        raise FilterError("Say which subscription to remove: `unsubscribe ID` (see `list`).")
    with transaction(context.sessions) as session:
        if args.lstrip("#").isdigit():
            found = get_channel_subscription(session, where.channel_id, int(args.lstrip("#")))
        else:
            canonical = parse_filter(args).canonical
            found = find_subscription(session, where.channel_id, canonical)
        if found is None:
            return context.notice(
                ":grey_question:",
                f"This channel has no subscription matching “{args}”.",
                "Type `/signals list` to see its subscriptions and their IDs.",
            )
        description = parse_filter(found.filter).describe()
        session.delete(found)
    return context.notice(
        ":white_check_mark:", f"Unsubscribed this channel from {description} (#{found.id})."
    )


def list_subscriptions(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    with transaction(context.sessions) as session:
        listed = [
            ListedSubscription(
                id=row.id,
                canonical=row.filter,
                description=parse_filter(row.filter).describe(),
                state=row.state,
                paused_reason=row.paused_reason,
            )
            for row in channel_subscriptions(session, where.channel_id)
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
