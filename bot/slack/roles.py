"""Who is a workspace admin or owner, asked of their own workspace with users.info and cached
for minutes per (team, user)."""

from __future__ import annotations

import logging
import threading

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.managers import RoleUnknown
from bot.people import WorkspaceClients

log = logging.getLogger(__name__)

ROLE_CACHE_SECONDS = 300
ROLE_CACHE_USERS = 10_000


class SlackRoles:
    """`is_workspace_admin(user_id, team_id)` over users.info with the team's token; answers
    are kept ROLE_CACHE_SECONDS."""

    def __init__(
        self, clients: WorkspaceClients, *, ttl_seconds: float = ROLE_CACHE_SECONDS
    ) -> None:
        self.clients = clients
        self._cache: TTLCache[tuple[str, str], bool] = TTLCache(
            maxsize=ROLE_CACHE_USERS, ttl=ttl_seconds
        )
        self._lock = threading.Lock()

    def is_workspace_admin(self, user_id: str, team_id: str = "") -> bool:
        key = (team_id, user_id)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        answer = self._ask(user_id, team_id)
        with self._lock:
            self._cache[key] = answer
        return answer

    def _ask(self, user_id: str, team_id: str) -> bool:
        client = self.clients(team_id)
        if client is None:
            raise RoleUnknown("signal-bot is not installed in this workspace")
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as error:
            code = error.response.get("error")
            log.warning("users.info %s failed: %s", user_id, code, extra={"team": team_id})
            raise RoleUnknown(f"users.info answered `{code}`") from error
        except (SlackClientError, OSError) as error:
            log.warning("users.info %s failed: %s", user_id, error, extra={"team": team_id})
            raise RoleUnknown("Slack could not be reached") from error
        return any(bool(user.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))
