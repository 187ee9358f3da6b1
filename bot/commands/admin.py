"""`sources`: how the signal sources are doing."""

from __future__ import annotations

from bot.commands.base import CommandContext, Reply
from bot.health import configured_source_health, failing_first
from bot.store.db import transaction
from bot.store.subscriptions import ChannelRef


def sources(context: CommandContext, args: str = "", where: ChannelRef | None = None) -> Reply:
    with transaction(context.sessions) as session:
        rows = configured_source_health(session, context.sources, context.push_enabled)
    rows = failing_first(rows)
    return Reply(context.renderer.render("sources.json.j2", sources=rows))
