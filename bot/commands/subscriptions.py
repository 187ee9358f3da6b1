"""`subscribe`, `unsubscribe` and `list`: a channel's (or a person's) standing orders for briefs.

`subscribe_to` is the one path that creates or edits a subscription: the slash command, the
subscribe modal and App Home all go through it. Changing a channel's subscriptions needs
SIGNAL_BOT_MANAGERS' permission (bot.managers; a person's own need none); every change is
recorded in the history (bot.store.history) and announced to the App Home.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import search as search_store
from bot.alerts.options import AlertOptions, is_known_zone, parse_subscription
from bot.commands.base import CommandContext, Reply, channel_label, personal_target
from bot.commands.mutes import listed_mutes
from bot.errors import FilterError
from bot.filters import SignalFilter, parse_filter
from bot.store.db import transaction
from bot.store.history import record_change
from bot.store.models import Subscription, is_user_id
from bot.store.subscriptions import (
    ChannelRef,
    channel_subscriptions,
    find_subscription,
    get_channel_subscription,
    options_of,
    resume_channel,
    save_subscription,
)

SUBSCRIBE_EXAMPLE = (
    "Say what to subscribe to, e.g. `subscribe ai-advances` or "
    "`subscribe entity:Meta digest=daily@08:00 format=compact`."
)


def subscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    """`subscribe [me] FILTER [OPTION…]`."""
    target, rest = personal_target(args, where)
    if not rest.strip():
        raise FilterError(SUBSCRIBE_EXAMPLE)
    signal_filter, options = parse_subscription(rest)
    return subscribe_to(context, signal_filter, options, target, who=where.user_id)


def subscribe_to(
    context: CommandContext,
    signal_filter: SignalFilter,
    options: AlertOptions,
    where: ChannelRef,
    who: str,
) -> Reply:
    """Create the subscription of `where` (a channel, or a person by user ID) or update its
    options; a digest without `tz=` keeps to `who`'s zone from Slack, else UTC."""
    if refusal := context.refusal(where):
        return refusal
    personal = is_user_id(where.channel_id)
    if not personal and (
        problem := context.channels.problem_posting_in(where.channel_id, where.team_id)
    ):
        return context.notice(":warning:", problem)
    if options.digest is not None and options.tz is None:
        zone = context.people.time_zone(who, where.team_id)
        options = options.with_zone(zone if is_known_zone(zone) else "UTC")
    with transaction(context.sessions) as session:
        existing = find_subscription(session, where.channel_id, signal_filter.canonical)
        before = typed(existing) if existing else None
        saved = save_subscription(
            session, where, signal_filter.canonical, options, context.clock.now()
        )
        if saved.created or saved.changed:
            action = "subscribed" if saved.created else "edited"
            _record(session, where, who, action, before, saved.subscription)
        resume_channel(session, where.channel_id, who)
        matching = search_store.latest(session, signal_filter, limit=1)
        subscription = saved.subscription
        next_digest = subscription.next_digest_at
    context.changes.changed_by(who, where.team_id)
    described = f"{signal_filter.describe()} (subscription #{subscription.id})"
    lines = [
        _what_happened(where, saved.created, saved.changed, described),
        f"{_delivered_where(where)} {options.describe()}.",
    ]
    if next_digest is not None:
        due = next_digest.astimezone(options.zone)
        lines.append(
            f"The next digest is due {due:%a %d %b %H:%M} ({options.tz or 'UTC'}); "
            "a period without matching briefs posts nothing."
        )
    if matching:
        lines.append(f"The latest matching brief so far: {matching[0].title}")
    return context.notice(":white_check_mark:", *lines)


def _what_happened(where: ChannelRef, created: bool, changed: bool, described: str) -> str:
    personal = is_user_id(where.channel_id)
    label = channel_label(where)
    if created:
        return f"{label} {'are' if personal else 'is'} now subscribed to {described}."
    if changed:
        return f"Updated the options of the subscription to {described}."
    return f"{label} {'were' if personal else 'was'} already subscribed to {described}."


def _delivered_where(where: ChannelRef) -> str:
    if is_user_id(where.channel_id):
        return "New briefs that match will come to you by direct message,"
    return "New briefs that match will be posted here,"


def unsubscribe(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    """`unsubscribe [me] ID|FILTER`."""
    target, rest = personal_target(args, where)
    if not rest:
        raise FilterError("Say which subscription to remove: `unsubscribe ID` (see `list`).")
    if refusal := context.refusal(target):
        return refusal
    whose = "You have" if is_user_id(target.channel_id) else "This channel has"
    with transaction(context.sessions) as session:
        if rest.lstrip("#").isdigit():
            found = get_channel_subscription(session, target.channel_id, int(rest.lstrip("#")))
        else:
            canonical = parse_filter(rest).canonical
            found = find_subscription(session, target.channel_id, canonical)
        if found is None:
            return context.notice(
                ":grey_question:",
                f"{whose} no subscription matching “{rest}”.",
                f"Type `/signals list{_me(target)}` to see them and their IDs.",
            )
        description = parse_filter(found.filter).describe()
        _record(session, target, where.user_id, "unsubscribed", typed(found), None, found.id)
        session.delete(found)
    context.changes.changed_by(where.user_id, where.team_id)
    who = "you" if is_user_id(target.channel_id) else "this channel"
    return context.notice(
        ":white_check_mark:", f"Unsubscribed {who} from {description} (#{found.id})."
    )


def edit_subscription(
    context: CommandContext, subscription_id: int, args: str, where: ChannelRef
) -> Reply:
    """Give subscription #ID of `where` a new FILTER and options (the modal's edit mode)."""
    signal_filter, options = parse_subscription(args)
    if refusal := context.refusal(where):
        return refusal
    with transaction(context.sessions) as session:
        found = get_channel_subscription(session, where.channel_id, subscription_id)
        if found is None:
            return context.notice(
                ":grey_question:", f"Subscription #{subscription_id} no longer exists here."
            )
        clash = find_subscription(session, where.channel_id, signal_filter.canonical)
        if clash is not None and clash.id != found.id:
            return context.notice(
                ":grey_question:",
                f"{channel_label(where)} already has that subscription (#{clash.id}); "
                f"#{found.id} is unchanged.",
            )
        before = typed(found)
        found.filter = signal_filter.canonical
        session.flush()
        saved = save_subscription(
            session, where, signal_filter.canonical, options, context.clock.now()
        )
        if typed(saved.subscription) != before:
            _record(session, where, where.user_id, "edited", before, saved.subscription)
    context.changes.changed_by(where.user_id, where.team_id)
    return context.notice(
        ":white_check_mark:",
        f"Subscription #{subscription_id} now follows {signal_filter.describe()}, "
        f"{options.describe()}.",
    )


def typed(row: Subscription) -> str:
    """A subscription as a person would type it: its FILTER and options."""
    return f"{row.filter} {options_of(row).canonical}".strip()


def _record(
    session: Session,
    where: ChannelRef,
    who: str,
    action: str,
    before: str | None,
    after: Subscription | None,
    subject_id: int | None = None,
) -> None:
    record_change(
        session,
        channel_id=where.channel_id,
        team_id=where.team_id,
        actor=who,
        action=action,
        before=before,
        after=typed(after) if after else None,
        subject_id=after.id if after else subject_id,
    )


def _me(target: ChannelRef) -> str:
    return " me" if is_user_id(target.channel_id) else ""


def list_subscriptions(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    """`list [me]`: subscriptions with their options and state, then the mutes in force."""
    target, _ = personal_target(args, where)
    with transaction(context.sessions) as session:
        listed = [
            ListedSubscription(
                id=row.id,
                canonical=row.filter,
                description=parse_filter(row.filter).describe(),
                state=row.state,
                paused_reason=row.paused_reason,
                options=options_of(row).describe(),
            )
            for row in channel_subscriptions(session, target.channel_id)
        ]
        mutes = listed_mutes(session, target.channel_id, context.clock.now())
    message = context.renderer.render(
        "subscriptions.json.j2",
        channel_name=channel_label(target)
        if is_user_id(target.channel_id)
        else channel_label(where),
        subscriptions=listed,
        mutes=mutes,
        personal=is_user_id(target.channel_id),
    )
    return Reply(message)


@dataclass(frozen=True, slots=True)
class ListedSubscription:
    id: int
    canonical: str
    description: str
    state: str
    paused_reason: str | None
    options: str = ""
