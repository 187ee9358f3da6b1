"""Multi-workspace mode: installs through Slack's OAuth v2 flow, a token per workspace.

slack-sdk's SQLAlchemy installation and OAuth state stores keep their tables in the app's own
database (created by migration 0009). Everything done for a workspace uses its own token:
`InstalledPosters` hands delivery a Poster per team, `TeamChannels` checks channels with the
team's client. Bolt itself finds the team's token for each request it handles.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from typing import Any

from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import SlackChannels
from bot.config import Settings
from bot.deliver.outcome import Outcome, Poster, Verdict
from bot.deliver.slack_poster import SlackPoster
from bot.render import Message
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
)
STATE_EXPIRES_SECONDS = 600
TOKEN_CACHE_SECONDS = 60.0
NOT_INSTALLED = "app_not_installed"


class WorkspaceInstallations(SQLAlchemyInstallationStore):
    """slack-sdk's store; a new install also lifts a stop left by an uninstall or revocation."""

    def __init__(self, client_id: str, engine: Engine, sessions: sessionmaker[Session]) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.sessions = sessions

    def save(self, installation: Installation) -> None:
        super().save(installation)
        team = installation.team_id or ""
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
        reason = f"workspace {team_id}: {reason}; sending there resumes when it installs again"
        with transaction(self.sessions) as session:
            slack_state.stop_workspace(session, reason, now=utcnow(), team_id=team_id)
        log.error("%s", reason, extra={"team": team_id})


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


class InstalledPosters:
    """Each workspace's Poster, on its own token (looked up, then cached for a minute; a
    workspace without an install is looked up again each time, to notice a new install)."""

    per_team = True

    def __init__(
        self,
        installations: WorkspaceInstallations,
        client: WebClient,
        fallback: Poster | None = None,
    ) -> None:
        self.installations = installations
        self.client = client  # base URL and timeout for every workspace's client
        self.fallback = fallback  # SLACK_BOT_TOKEN's, for subscriptions made without a team
        self._cache: dict[str, tuple[float, Poster]] = {}
        self._lock = threading.Lock()

    def for_team(self, team_id: str) -> Poster:
        if not team_id and self.fallback is not None:
            return self.fallback
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(team_id)
        if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
            return cached[1]
        client = self.client_for(team_id)
        if client is None:
            return NotInstalled()
        poster = SlackPoster(client)
        with self._lock:
            self._cache[team_id] = (now, poster)
        return poster

    def client_for(self, team_id: str) -> WebClient | None:
        """A WebClient on the team's bot token; None if the app is not installed there."""
        bot = self.installations.find_bot(enterprise_id=None, team_id=team_id or None)
        if bot is None or not bot.bot_token:
            return None
        return WebClient(
            token=bot.bot_token, base_url=self.client.base_url, timeout=self.client.timeout
        )


class NotInstalled:
    """The Poster of a workspace the app is not (or no longer) installed in."""

    def _refused(self) -> Outcome:
        return Outcome(Verdict.STOP, error=NOT_INSTALLED)

    def post(
        self,
        channel_id: str,
        message: Message,
        metadata: dict[str, object],
        thread_ts: str | None = None,
    ) -> Outcome:
        return self._refused()

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
        return self._refused()

    def delete(self, channel_id: str, ts: str) -> Outcome:
        return self._refused()

    def reply_in_thread(
        self, channel_id: str, thread_ts: str, text: str, metadata: dict[str, object] | None = None
    ) -> Outcome:
        return self._refused()

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> Outcome | None:
        return self._refused()

    def find_thread(self, channel_id: str, thread_ts: str, signal_key: str) -> Outcome:
        return self._refused()

    def check_auth(self) -> Outcome:
        return self._refused()


class TeamChannels:
    """ChannelAccess with each workspace's own token."""

    def __init__(self, posters: InstalledPosters, fallback: SlackChannels | None) -> None:
        self.posters = posters
        self.fallback = fallback

    def problem_posting_in(self, channel_id: str, team_id: str = "") -> str | None:
        client = self.posters.client_for(team_id) if team_id else None
        if client is not None:
            return SlackChannels(client).problem_posting_in(channel_id)
        if self.fallback is not None:
            return self.fallback.problem_posting_in(channel_id)
        return "signal-bot is not installed in this workspace: install it again from its page."
