"""Who typed a command: their time zone, from Slack's `users.info` (scope users:read), asked in
the workspace the command came from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

# A workspace's client by team ID (its install's token, or the one SLACK_BOT_TOKEN); None when
# the app has no token there.
WorkspaceClients = Callable[[str], WebClient | None]


def one_workspace(client: WebClient) -> WorkspaceClients:
    """A single bot token: its client acts in whichever workspace a request names."""
    return lambda team_id: client


class People(Protocol):
    def time_zone(self, user_id: str, team_id: str = "") -> str | None:
        """The person's IANA zone as their workspace knows it, or None when it cannot say."""


class NoPeople:
    """Local mode and the CLI: nobody's zone is known, so digests keep to UTC."""

    def time_zone(self, user_id: str, team_id: str = "") -> str | None:
        return None


class SlackPeople:
    """People over the Web API, each asked of their own workspace."""

    def __init__(self, clients: WorkspaceClients) -> None:
        self.clients = clients

    def time_zone(self, user_id: str, team_id: str = "") -> str | None:
        client = self.clients(team_id)
        if not user_id or client is None:
            return None
        try:
            user = client.users_info(user=user_id).get("user") or {}
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("users.info %s failed: %s", user_id, error, extra={"team": team_id})
            return None
        zone = user.get("tz") if isinstance(user, dict) else None
        return str(zone) if zone else None
