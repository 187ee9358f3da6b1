"""`search`, `latest`, `show` and the buttons on results: reading the archive."""

from __future__ import annotations

from collections.abc import Sequence

from bot import metrics
from bot import search as search_store
from bot.commands.base import CommandContext, Reply
from bot.errors import FilterError
from bot.filters import parse_filter
from bot.render import Message
from bot.search.grammar import no_hit_hints, parse_query
from bot.sharing import Publisher, share_brief, share_notice
from bot.signal import Signal
from bot.store.db import transaction
from bot.store.signals import get_signal
from bot.store.subscriptions import ChannelRef

PAGE_SIZE = 5


def search(
    context: CommandContext, args: str, where: ChannelRef | None = None, *, offset: int = 0
) -> Reply:
    if not args.strip():
        raise FilterError("Say what to look for, e.g. `/brief muse spark` or `/brief llam*`.")
    query = parse_query(args)
    with metrics.search_seconds.time(), transaction(context.sessions) as session:
        page = search_store.search(session, query, limit=PAGE_SIZE, offset=offset)
    return _results(context, args, page, hints=no_hit_hints(query))


def latest(
    context: CommandContext, args: str, where: ChannelRef | None = None, *, offset: int = 0
) -> Reply:
    signal_filter = parse_filter(args or "all")
    with transaction(context.sessions) as session:
        page = search_store.latest_page(session, signal_filter, limit=PAGE_SIZE, offset=offset)
    return _results(context, args, page, kind="latest")


def show(context: CommandContext, args: str, where: ChannelRef | None = None) -> Reply:
    handle = args.strip()
    if not handle:
        raise FilterError("Say which brief to show: `show ID` (IDs are on every message).")
    with transaction(context.sessions) as session:
        row = get_signal(session, handle)
        signal = row.to_signal() if row else None
    if signal is None:
        return context.notice(
            ":grey_question:",
            f"No brief has the ID “{handle}”.",
            "IDs are shown on every posted brief and search result.",
        )
    first, followups = _first_and_followups(context, signal)
    return Reply(first, followups=followups)


# A response_url takes five messages: the brief's first parts, and, if it is longer, a last
# message that says where to read the rest.
MAX_SHOWN_PARTS = 5


def _first_and_followups(
    context: CommandContext, signal: Signal
) -> tuple[Message, tuple[Message, ...]]:
    parts = context.renderer.render_brief(signal)
    if len(parts) <= MAX_SHOWN_PARTS:
        return parts[0], tuple(parts[1:])
    shown = parts[: MAX_SHOWN_PARTS - 1]
    more = len(parts) - len(shown)
    where = f" Read it whole at {signal.url}" if signal.url else ""
    rest = context.notice(
        ":page_facing_up:", f"This brief goes on for {more} more messages' worth.{where}"
    ).message
    return shown[0], (*shown[1:], rest)


def share(context: CommandContext, signal_id: str, where: ChannelRef, publish: Publisher) -> Reply:
    """Post a brief in the channel for everyone, once per (brief, channel)."""
    outcome = share_brief(
        context.sessions,
        context.renderer,
        signal_id=signal_id.strip(),
        channel_id=where.channel_id,
        user_id=where.user_id,
        publish=publish,
        channel_problem=lambda: context.channels.problem_posting_in(
            where.channel_id, where.team_id
        ),
        now=context.clock.now(),
    )
    return context.notice(*share_notice(outcome))


def _results(
    context: CommandContext,
    query_text: str,
    page: search_store.SearchPage,
    *,
    kind: str = "search",
    hints: Sequence[str] = (),
) -> Reply:
    message = context.renderer.render(
        "search_results.json.j2",
        query_text=query_text,
        results=page.hits,
        total=page.total,
        offset=page.offset,
        page_size=PAGE_SIZE,
        kind=kind,
        more_than_total=page.more_than_total,
        hints=list(hints),
    )
    return Reply(message)
