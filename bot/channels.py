"""Can the bot post in a channel? Asks Slack, and joins public channels it is not in yet."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

INVITE_ME_FIRST = (
    "This is a private channel and I'm not in it yet. Invite me first "
    "(`/invite @signal-bot`), then try again."
)


class SlackChannels:
    """ChannelAccess over the Web API (scopes channels:read, groups:read, channels:join)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def problem_posting_in(self, channel_id: str, team_id: str = "") -> str | None:
        if channel_id.startswith("D"):
            return None  # a DM with the bot: always writable
        try:
            channel = self.client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "channel_not_found":
                # Private channels the bot is not in are invisible to it.
                return INVITE_ME_FIRST
            log.warning("conversations.info %s failed: %s", channel_id, code)
            return f"Slack did not let me look at this channel ({code}). Try again in a moment."
        if channel.get("is_archived"):
            return "This channel is archived, so I cannot post here."
        if channel.get("is_member"):
            return None
        if channel.get("is_private"):
            return INVITE_ME_FIRST
        return self._join(channel_id)

    def _join(self, channel_id: str) -> str | None:
        try:
            self.client.conversations_join(channel=channel_id)
        except SlackApiError as error:
            code = error.response.get("error")
            log.warning("conversations.join %s failed: %s", channel_id, code)
            return f"I could not join this channel ({code}). Invite me with `/invite @signal-bot`."
        log.info("joined channel %s", channel_id)
        return None
