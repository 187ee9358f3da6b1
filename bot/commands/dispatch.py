"""The `/signals` subcommand table, and `Commands`: the one object Slack and the CLI call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.commands import admin, history, mutes, search, subscriptions, topics
from bot.commands.base import ChangeNotifier, ChannelAccess, CommandContext, Reply
from bot.config import SourceConfig
from bot.deliver.clock import Clock, SystemClock
from bot.errors import FilterError
from bot.managers import EVERYONE, Permissions
from bot.people import NoPeople, People
from bot.render import Renderer
from bot.sharing import Publisher
from bot.store.subscriptions import ChannelRef

log = logging.getLogger(__name__)

Run = Callable[[CommandContext, str, ChannelRef], Reply]  # (context, args, where)


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Run | None = None  # None: `help`, answered by Commands itself


SUBCOMMANDS = (
    Subcommand("help", "help", "Show this help."),
    Subcommand(
        "subscribe",
        "subscribe [FILTER] [OPTION…]",
        "Post new briefs matching FILTER in this channel (`subscribe me …`: to you by DM), at "
        "once or in a digest (`digest=daily@08:00 tz=Europe/London`), full or `format=compact`; "
        "with nothing after it, a form to pick from.",
        subscriptions.subscribe,
    ),
    Subcommand(
        "unsubscribe",
        "unsubscribe ID|FILTER",
        "Remove one of this channel's subscriptions (`unsubscribe me …`: one of yours).",
        subscriptions.unsubscribe,
    ),
    Subcommand(
        "list",
        "list",
        "This channel's subscriptions with options and state, and its mutes (`list me`: yours).",
        subscriptions.list_subscriptions,
    ),
    Subcommand(
        "mute",
        "mute FILTER for DURATION|until YYYY-MM-DD",
        "Post nothing matching FILTER here until then (`mute me …`: to you); DURATION is "
        "30m, 6h, 1d, 2w…",
        mutes.mute,
    ),
    Subcommand(
        "unmute",
        "unmute ID|all",
        "End a mute early (`list` shows them; `unmute me …` for yours).",
        mutes.unmute,
    ),
    Subcommand(
        "topics",
        "topics",
        "Topics, entities and categories of the last 30 days, most frequent first.",
        topics.topics,
    ),
    Subcommand(
        "history",
        "history",
        "The last 20 changes to this channel's subscriptions and mutes, and who made them.",
        history.history,
    ),
    Subcommand(
        "search",
        "search QUERY",
        "Search past briefs, best match first.",
        search.search,
    ),
    Subcommand(
        "latest",
        "latest [FILTER]",
        "The most recent briefs, optionally filtered.",
        search.latest,
    ),
    Subcommand("show", "show ID", "One whole brief.", search.show),
    Subcommand(
        "sources",
        "sources",
        "Each source's health: last poll, last error, next poll.",
        admin.sources,
    ),
)
SUBCOMMANDS_BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}


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
        people: People | None = None,
        clock: Clock | None = None,
        permissions: Permissions = EVERYONE,
    ) -> None:
        self.context = CommandContext(
            sessions,
            renderer,
            channels,
            sources,
            push_enabled,
            people=people or NoPeople(),
            clock=clock or SystemClock(),
            permissions=permissions,
            changes=ChangeNotifier(),
        )

    def signals(self, text: str, where: ChannelRef) -> Reply:
        """`/signals SUBCOMMAND ARGS`."""
        name, _, args = text.strip().partition(" ")
        name, args = name.lower(), args.strip()
        if name in ("", "help"):
            return self.help()
        subcommand = SUBCOMMANDS_BY_NAME.get(name)
        if subcommand is None or subcommand.run is None:
            return self.help(error=f"I don't know the subcommand `{name}`.")
        run = subcommand.run
        return self._answer(lambda: run(self.context, args, where))

    def brief(self, text: str, where: ChannelRef) -> Reply:
        """`/brief QUERY`: a shortcut for `/signals search QUERY`."""
        return self._answer(lambda: search.search(self.context, text, where))

    def help(self, error: str | None = None) -> Reply:
        message = self.context.renderer.render(
            "help.json.j2", subcommands=SUBCOMMANDS, error=error, command="/signals"
        )
        return Reply(message)

    def search(self, args: str, *, offset: int = 0) -> Reply:
        return search.search(self.context, args, offset=offset)

    def show(self, args: str) -> Reply:
        return search.show(self.context, args)

    def page(self, kind: str, query_text: str, offset: int) -> Reply:
        """Another page of results (the Next and Previous buttons); `kind` is search or latest."""
        if kind == "latest":
            return self._answer(lambda: search.latest(self.context, query_text, offset=offset))
        return self._answer(lambda: search.search(self.context, query_text, offset=offset))

    def mute_from_menu(self, choice: str, where: ChannelRef) -> Reply:
        """A choice from a posted brief's mute menu."""
        return self._answer(lambda: mutes.mute_from_menu(self.context, choice, where))

    def undo_mute(self, mute_id: str, where: ChannelRef) -> Reply:
        return self._answer(lambda: mutes.undo_mute(self.context, mute_id, where))

    def share(self, signal_id: str, where: ChannelRef, publish: Publisher) -> Reply:
        """Post a brief in the channel for everyone, once per (brief, channel)."""
        return search.share(self.context, signal_id, where, publish)

    def edit_subscription(self, subscription_id: int, text: str, where: ChannelRef) -> Reply:
        """Give one of the channel's subscriptions a new FILTER (the modal's edit mode)."""
        return self._answer(
            lambda: subscriptions.edit_subscription(self.context, subscription_id, text, where)
        )

    def _answer(self, compute: Callable[[], Reply]) -> Reply:
        """The reply, or usage help naming what was malformed."""
        try:
            return compute()
        except FilterError as error:
            return self.help(error=str(error))


def split_cli_words(words: list[str]) -> str:
    """CLI arguments back into the text a person would type after the slash command."""
    return " ".join(f'"{word}"' if " " in word and '"' not in word else word for word in words)
