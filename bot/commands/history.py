"""`history`: the latest changes to this channel's subscriptions and mutes, and who made them."""

from __future__ import annotations

from bot.commands.base import CommandContext, Reply
from bot.store.db import transaction
from bot.store.history import recent_changes
from bot.store.subscriptions import ChannelRef

HISTORY_LENGTH = 20


def history(context: CommandContext, args: str, where: ChannelRef) -> Reply:
    with transaction(context.sessions) as session:
        changes = recent_changes(session, channel_id=where.channel_id, limit=HISTORY_LENGTH)
    message = context.renderer.render(
        "history.json.j2", channel_name=where.channel_name, changes=changes
    )
    return Reply(message)
