"""Answering a person outside a slash command's response: ephemeral in the channel, else by DM."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.commands import Reply
from bot.store.subscriptions import ChannelRef

log = logging.getLogger(__name__)


def tell(client: WebClient, where: ChannelRef, reply: Reply) -> None:
    """Show the reply to the user in the channel (only they see it), or in a DM if Slack says no."""
    message: dict[str, Any] = reply.message.as_kwargs()
    try:
        if where.channel_id.startswith("D"):
            client.chat_postMessage(channel=where.channel_id, **message)
        else:
            client.chat_postEphemeral(channel=where.channel_id, user=where.user_id, **message)
        return
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("could not answer %s in %s: %s", where.user_id, where.channel_id, error)
    try:
        client.chat_postMessage(channel=where.user_id, **message)
    except (SlackApiError, SlackClientError, OSError) as error:
        log.error("could not answer %s at all: %s", where.user_id, error)


def user_and_team(body: dict[str, Any]) -> tuple[str, str]:
    user, team = body.get("user") or {}, body.get("team") or {}
    return str(user.get("id", "")), str(team.get("id", "") or user.get("team_id", ""))
