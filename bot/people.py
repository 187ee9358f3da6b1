"""Who typed a command: their time zone, from Slack's `users.info` (scope users:read)."""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)


class People(Protocol):
    def time_zone(self, user_id: str) -> str | None:
        """The person's IANA zone as Slack knows it, or None when it cannot say."""


class NoPeople:
    """Local mode and the CLI: nobody's zone is known, so digests keep to UTC."""

    def time_zone(self, user_id: str) -> str | None:
        return None


class SlackPeople:
    """People over the Web API."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def time_zone(self, user_id: str) -> str | None:
        if not user_id:
            return None
        try:
            user = self.client.users_info(user=user_id).get("user") or {}
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("users.info %s failed: %s", user_id, error)
            return None
        zone = user.get("tz") if isinstance(user, dict) else None
        return str(zone) if zone else None
