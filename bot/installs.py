"""Multi-workspace mode: installs through Slack's OAuth v2 flow, a token per workspace.

slack-sdk's SQLAlchemy installation and OAuth state stores keep their tables in the app's own
database (created by migration 0009). Everything done for a workspace uses its own token
(bot.workspaces); Bolt itself finds the team's token for each request it handles.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.store import slack_state
from bot.store.db import transaction
from bot.store.models import utcnow

log = logging.getLogger(__name__)

# The bot scopes an install asks for (the same as slack-app-manifest.yml).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:join",
    "channels:history",
    "groups:history",
    "users:read",  # people look-ups: a subscriber's zone, a workspace admin's role
    "im:write",
    "im:history",
)
STATE_EXPIRES_SECONDS = 600


class WorkspaceInstallations(SQLAlchemyInstallationStore):
    """slack-sdk's store; a new install also lifts a stop left by an uninstall or revocation."""

    def __init__(self, client_id: str, engine: Engine, sessions: sessionmaker[Session]) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.sessions = sessions
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call `listener(team_id)` whenever a workspace's tokens are stored or deleted."""
        self._listeners.append(listener)

    def save(self, installation: Installation) -> None:
        super().save(installation)
        team = installation.team_id or ""
        self._changed(team)
        with transaction(self.sessions) as session:
            resumed = slack_state.resume_workspace(session, team)
        log.info(
            "installed in workspace %s%s",
            team,
            " (sending resumes)" if resumed else "",
            extra={"team": team},
        )

    def count_workspaces(self) -> int:
        """Workspaces with a bot token stored."""
        query = select(func.count(distinct(self.bots.c.team_id))).where(
            self.bots.c.client_id == self.client_id, self.bots.c.bot_token.is_not(None)
        )
        with self.engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def uninstalled(self, team_id: str, reason: str) -> None:
        """The app was removed from a workspace: forget its tokens, stop sending there."""
        self.delete_all(enterprise_id=None, team_id=team_id)
        self._changed(team_id)
        reason = f"workspace {team_id}: {reason}; sending there resumes when it installs again"
        with transaction(self.sessions) as session:
            slack_state.stop_workspace(session, reason, now=utcnow(), team_id=team_id)
        log.error("%s", reason, extra={"team": team_id})

    def _changed(self, team_id: str) -> None:
        for listener in self._listeners:
            listener(team_id)


class SignedStateStore(SQLAlchemyOAuthStateStore):
    """OAuth `state` values signed with SLACK_STATE_SECRET and kept (once) in the database:
    a forged or replayed state is refused before anything is looked up."""

    def __init__(self, secret: str, engine: Engine) -> None:
        super().__init__(expiration_seconds=STATE_EXPIRES_SECONDS, engine=engine)
        self._secret = secret.encode()

    def issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = super().issue(*args, **kwargs)
        return f"{nonce}.{self._signature(nonce)}"

    def consume(self, state: str) -> bool:
        nonce, _, signature = state.rpartition(".")
        if not nonce or not hmac.compare_digest(signature, self._signature(nonce)):
            return False
        return bool(super().consume(nonce))

    def _signature(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def oauth_settings(settings: Settings, installations: WorkspaceInstallations) -> OAuthSettings:
    """Bolt's OAuth flow on /slack/install and /slack/oauth_redirect, set up explicitly
    (SLACK.md, trap 3); the token exchange goes to SLACK_API_URL through the app's client."""
    assert settings.slack_client_id
    assert settings.slack_client_secret
    assert settings.slack_state_secret
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=SignedStateStore(
            settings.slack_state_secret.get_secret_value(), installations.engine
        ),
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
    )
