"""Who may change channel subscriptions and mutes: the SIGNAL_BOT_MANAGERS setting.

`everyone` (the default), `admins`, or Slack user IDs (`U012AB3CD U045EF6GH`, commas or spaces);
`admins` may be combined with IDs. Workspace admins and owners always may. Everyone may still
search, list and read, and manage their own personal subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import ConfigError
from bot.render import mrkdwn

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class RoleUnknown(Exception):
    """Slack could not say whether a user is a workspace admin; the text says why."""


@dataclass(frozen=True, slots=True)
class ManagerPolicy:
    everyone: bool = True
    user_ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, setting: str) -> ManagerPolicy:
        words = [word for word in re.split(r"[\s,]+", setting.strip()) if word]
        if not words or [word.lower() for word in words] == ["everyone"]:
            return cls(everyone=True)
        ids = {word for word in words if word.lower() != "admins"}
        if bad := sorted(word for word in ids if not _USER_ID.match(word)):
            raise ConfigError(
                f"SIGNAL_BOT_MANAGERS: {', '.join(bad)} is not `everyone`, `admins` or a Slack "
                "user ID like U012AB3CD"
            )
        return cls(everyone=False, user_ids=frozenset(ids))

    def who_may(self, *, mentions: bool = True) -> str:
        """`workspace admins and owners, <@U1> and <@U2>` (mrkdwn: the IDs were validated);
        without mentions, for plain text: `… and the people SIGNAL_BOT_MANAGERS names`."""
        if not mentions:
            named = ["the people SIGNAL_BOT_MANAGERS names"] if self.user_ids else []
        else:
            named = [f"<@{user_id}>" for user_id in sorted(self.user_ids)]
        return ", ".join(["workspace admins and owners", *named[:-1]]) + (
            f" and {named[-1]}" if named else ""
        )


class Permissions:
    """Answers "may this user change channel subscriptions?" with a refusal text, or None."""

    def __init__(
        self, policy: ManagerPolicy, is_workspace_admin: Callable[[str, str], bool] | None = None
    ) -> None:
        self.policy = policy
        # (user ID, team ID) -> an admin or owner of that workspace?
        self._is_workspace_admin = is_workspace_admin or (lambda user_id, team_id: False)

    def is_manager(self, user_id: str, team_id: str = "") -> bool:
        """True for the managers; False also when Slack could not be asked."""
        return self.refusal(user_id, team_id) is None

    def refusal(self, user_id: str, team_id: str = "", *, mentions: bool = True) -> str | None:
        """None when the user may change channel subscriptions; else a friendly refusal, as
        mrkdwn with `<@U…>` mentions (or plain text without them). `team_id` is the
        workspace the user acts in, whose admins and owners always may."""
        # No user: the CLI, run by whoever holds the database.
        if self.policy.everyone or not user_id or user_id in self.policy.user_ids:
            return None
        try:
            if self._is_workspace_admin(user_id, team_id):
                return None
        except RoleUnknown as unknown:
            return (
                f"I could not check with Slack who you are ({mrkdwn(str(unknown))}), so I "
                "changed nothing. Please try again in a moment."
            )
        return (
            f"Only {self.policy.who_may(mentions=mentions)} can change this workspace's channel "
            "subscriptions and mutes, so I changed nothing. You can still search, list and read "
            "briefs, and manage your personal subscriptions."
        )


EVERYONE = Permissions(ManagerPolicy())
