"""Who is a workspace admin or owner, asked of Slack with users.info and cached for minutes."""

from __future__ import annotations

import logging
import threading

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.managers import RoleUnknown

log = logging.getLogger(__name__)

ROLE_CACHE_SECONDS = 300
ROLE_CACHE_USERS = 10_000


class SlackRoles:
    """`is_workspace_admin(user_id)` over users.info; answers are kept ROLE_CACHE_SECONDS."""

    def __init__(self, client: WebClient, *, ttl_seconds: float = ROLE_CACHE_SECONDS) -> None:
        self.client = client
        self._cache: TTLCache[str, bool] = TTLCache(maxsize=ROLE_CACHE_USERS, ttl=ttl_seconds)
        self._lock = threading.Lock()

    def is_workspace_admin(self, user_id: str) -> bool:
        with self._lock:
            cached = self._cache.get(user_id)
        if cached is not None:
            return cached
        answer = self._ask(user_id)
        with self._lock:
            self._cache[user_id] = answer
        return answer

    def _ask(self, user_id: str) -> bool:
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as error:
            code = error.response.get("error")
            log.warning("users.info %s failed: %s", user_id, code)
            raise RoleUnknown(f"users.info answered `{code}`") from error
        except (SlackClientError, OSError) as error:
            log.warning("users.info %s failed: %s", user_id, error)
            raise RoleUnknown("Slack could not be reached") from error
        return any(bool(user.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))
