"""`/signals` and `/brief`: command text in, a reply out. Used by Slack and the CLI alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot import search as search_store
from bot.config import SourceConfig
from bot.errors import FilterError
from bot.filters import parse_filter
from bot.health import configured_source_health, failing_first
from bot.render import Message, Renderer
from bot.search.grammar import no_hit_hints, parse_query
from bot.sharing import Publisher, share_brief, share_notice
from bot.store.db import transaction
from bot.store.signals import get_signal
from bot.store.subscriptions import (
    ChannelRef,
    add_subscription,
    channel_subscriptions,
    find_subscription,
    get_channel_subscription,
    resume_channel,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 5


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    usage: str
    summary: str


SUBCOMMANDS = (
    Subcommand("help", "help", "Show this help."),
    Subcommand("subscribe", "subscribe FILTER", "Post new briefs matching FILTER in this channel."),
    Subcommand(
        "unsubscribe", "unsubscribe ID|FILTER", "Remove one of this channel's subscriptions."
    ),
    Subcommand("list", "list", "This channel's subscriptions, with IDs and state."),
    Subcommand("search", "search QUERY", "Search past briefs, best match first."),
    Subcommand("latest", "latest [FILTER]", "The most recent briefs, optionally filtered."),
    Subcommand("show", "show ID", "One whole brief."),
    Subcommand("sources", "sources", "Each source's health: last poll, last error, next poll."),
)
SUBCOMMAND_NAMES = {sub.name for sub in SUBCOMMANDS}


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    response_type: str = "ephemeral"

    def as_response(self) -> dict[str, Any]:
        return {"response_type": self.response_type, **self.message.as_kwargs()}


class ChannelAccess(Protocol):
    def problem_posting_in(self, channel_id: str) -> str | None:
        """None when the bot can post in the channel (joining it if it may); else why not."""


class OpenChannels:
    """Local mode: every channel is writable."""

    def problem_posting_in(self, channel_id: str) -> str | None:
        return None


class Commands:
    """The slash commands' logic, with the database and Slack passed in."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        renderer: Renderer,
        channels: ChannelAccess,
        *,
        sources: Sequence[SourceConfig] = (),
        push_enabled: bool = False,
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.channels = channels
        self.configured_sources = sources
        self.push_enabled = push_enabled

    def signals(self, text: str, where: ChannelRef) -> Reply:
        """`/signals SUBCOMMAND ARGS`."""
        name, _, args = text.strip().partition(" ")
        name, args = name.lower(), args.strip()
        if name in ("", "help"):
            return self.help()
        if name not in SUBCOMMAND_NAMES:
            return self.help(error=f"I don't know the subcommand `{name}`.")
        try:
            return self._dispatch(name, args, where)
        except FilterError as error:
            return self.help(error=str(error))

    def brief(self, text: str, where: ChannelRef) -> Reply:
        """`/brief QUERY`: a shortcut for `/signals search QUERY`."""
        try:
            return self.search(text)
        except FilterError as error:
            return self.help(error=str(error))

    def _dispatch(self, name: str, args: str, where: ChannelRef) -> Reply:
        if name == "subscribe":
            return self.subscribe(args, where)
        if name == "unsubscribe":
            return self.unsubscribe(args, where)
        if name == "list":
            return self.list(where)
        if name == "search":
            return self.search(args)
        if name == "latest":
            return self.latest(args)
        if name == "sources":
            return self.sources()
        return self.show(args)

    def help(self, error: str | None = None) -> Reply:
        message = self.renderer.render(
            "help.json.j2", subcommands=SUBCOMMANDS, error=error, command="/signals"
        )
        return Reply(message)

    def subscribe(self, args: str, where: ChannelRef) -> Reply:
        if not args:
            raise FilterError("Say what to subscribe to, e.g. `subscribe ai-advances`.")
        signal_filter = parse_filter(args)
        problem = self.channels.problem_posting_in(where.channel_id)
        if problem:
            return self._notice(":warning:", problem)
        with transaction(self.sessions) as session:
            existing = find_subscription(session, where.channel_id, signal_filter.canonical)
            subscription = add_subscription(session, where, signal_filter.canonical)
            resume_channel(session, where.channel_id)
            matching = search_store.latest(session, signal_filter, limit=1)
        verb = "was already subscribed" if existing else "is now subscribed"
        lines = [
            f"{_channel_label(where)} {verb} to {signal_filter.describe()} "
            f"(subscription #{subscription.id}).",
            "New briefs that match will be posted here as they arrive.",
        ]
        if matching:
            lines.append(f"The latest matching brief so far: {matching[0].title}")
        return self._notice(":white_check_mark:", *lines)

    def unsubscribe(self, args: str, where: ChannelRef) -> Reply:
        if not args:
            raise FilterError("Say which subscription to remove: `unsubscribe ID` (see `list`).")
        with transaction(self.sessions) as session:
            if args.lstrip("#").isdigit():
                found = get_channel_subscription(session, where.channel_id, int(args.lstrip("#")))
            else:
                canonical = parse_filter(args).canonical
                found = find_subscription(session, where.channel_id, canonical)
            if found is None:
                return self._notice(
                    ":grey_question:",
                    f"This channel has no subscription matching “{args}”.",
                    "Type `/signals list` to see its subscriptions and their IDs.",
                )
            description = parse_filter(found.filter).describe()
            session.delete(found)
        return self._notice(
            ":white_check_mark:", f"Unsubscribed this channel from {description} (#{found.id})."
        )

    def list(self, where: ChannelRef) -> Reply:
        with transaction(self.sessions) as session:
            rows = channel_subscriptions(session, where.channel_id)
            listed = [
                _ListedSubscription(
                    id=row.id,
                    canonical=row.filter,
                    description=parse_filter(row.filter).describe(),
                    state=row.state,
                    paused_reason=row.paused_reason,
                )
                for row in rows
            ]
        message = self.renderer.render(
            "subscriptions.json.j2", channel_name=_channel_label(where), subscriptions=listed
        )
        return Reply(message)

    def search(self, args: str, *, offset: int = 0) -> Reply:
        if not args.strip():
            raise FilterError("Say what to look for, e.g. `/brief muse spark` or `/brief llam*`.")
        query = parse_query(args)
        with transaction(self.sessions) as session:
            page = search_store.search(session, query, limit=PAGE_SIZE, offset=offset)
        return self._results(args, page, hints=no_hit_hints(query))

    def latest(self, args: str, *, offset: int = 0) -> Reply:
        signal_filter = parse_filter(args or "all")
        with transaction(self.sessions) as session:
            page = search_store.latest_page(session, signal_filter, limit=PAGE_SIZE, offset=offset)
        return self._results(args, page, kind="latest")

    def page(self, kind: str, query_text: str, offset: int) -> Reply:
        """Another page of results (the Next and Previous buttons); `kind` is search or latest."""
        try:
            if kind == "latest":
                return self.latest(query_text, offset=offset)
            return self.search(query_text, offset=offset)
        except FilterError as error:
            return self.help(error=str(error))

    def share(self, signal_id: str, where: ChannelRef, publish: Publisher) -> Reply:
        """Post a brief in the channel for everyone, once per (brief, channel)."""
        outcome = share_brief(
            self.sessions,
            self.renderer,
            signal_id=signal_id.strip(),
            channel_id=where.channel_id,
            user_id=where.user_id,
            publish=publish,
            channel_problem=lambda: self.channels.problem_posting_in(where.channel_id),
        )
        return self._notice(*share_notice(outcome))

    def show(self, args: str) -> Reply:
        handle = args.strip()
        if not handle:
            raise FilterError("Say which brief to show: `show ID` (IDs are on every message).")
        with transaction(self.sessions) as session:
            row = get_signal(session, handle)
            signal = row.to_signal() if row else None
        if signal is None:
            return self._notice(
                ":grey_question:",
                f"No brief has the ID “{handle}”.",
                "IDs are shown on every posted brief and search result.",
            )
        return Reply(self.renderer.render_signal(signal))

    def sources(self) -> Reply:
        with transaction(self.sessions) as session:
            rows = configured_source_health(session, self.configured_sources, self.push_enabled)
        rows = failing_first(rows)
        return Reply(self.renderer.render("sources.json.j2", sources=rows))

    def _results(
        self,
        query_text: str,
        page: search_store.SearchPage,
        *,
        kind: str = "search",
        hints: Sequence[str] = (),
    ) -> Reply:
        message = self.renderer.render(
            "search_results.json.j2",
            query_text=query_text,
            results=page.hits,
            total=page.total,
            offset=page.offset,
            page_size=PAGE_SIZE,
            kind=kind,
            more_than_total=page.more_than_total,
            searched_back_to=page.searched_back_to,
            hints=list(hints),
        )
        return Reply(message)

    def _notice(self, emoji: str, *lines: str) -> Reply:
        return Reply(self.renderer.render("notice.json.j2", emoji=emoji, lines=list(lines)))


@dataclass(frozen=True, slots=True)
class _ListedSubscription:
    id: int
    canonical: str
    description: str
    state: str
    paused_reason: str | None


def _channel_label(where: ChannelRef) -> str:
    return f"#{where.channel_name}" if where.channel_name else "This channel"


def split_cli_words(words: list[str]) -> str:
    """CLI arguments back into the text a person would type after the slash command."""
    return " ".join(f'"{word}"' if " " in word and '"' not in word else word for word in words)
