"""Multi-workspace mode, the token side: each installed workspace's client and Poster.

`InstalledPosters` hands delivery a Poster per team and the people look-ups a client per team;
`TeamChannels` checks channels with the team's client. Delivery's tokens are cached for a
minute; a new install in this process forgets the team's cached token at once, and a token Slack
refuses is looked up again once (a reinstall made by another process) before the workspace is
stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from slack_sdk import WebClient

from bot.channels import SlackChannels
from bot.deliver.outcome import Outcome, Poster, Thread, Verdict
from bot.deliver.slack_poster import SlackPoster
from bot.installs import WorkspaceInstallations
from bot.render import Message

TOKEN_CACHE_SECONDS = 60.0
NOT_INSTALLED = "app_not_installed"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Cached:
    at: float
    client: WebClient
    poster: RefreshingPoster


class InstalledPosters:
    """Each workspace's Poster and client on its own token (looked up, then cached for a
    minute; a workspace without an install is looked up again each time, to notice a new
    install)."""

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
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        installations.on_change(self.forget)

    def for_team(self, team_id: str) -> Poster:
        if not team_id and self.fallback is not None:
            return self.fallback
        cached = self._cached(team_id)
        return cached.poster if cached is not None else NotInstalled()

    def workspace_client(self, team_id: str) -> WebClient | None:
        """The client for calls on behalf of a workspace (users.info, views.publish): its
        install's; SLACK_BOT_TOKEN's for a team without one, when that is set. Looked up each
        time, as Bolt does for each request: one indexed query beside a call to Slack, and
        a reinstall made by another process is used at once."""
        installed = self.client_for(team_id) if team_id else None
        if installed is not None:
            return installed
        return self.client if self.client.token else None

    def client_for(self, team_id: str) -> WebClient | None:
        """A WebClient on the team's stored bot token; None if the app is not installed there."""
        bot = self.installations.find_bot(enterprise_id=None, team_id=team_id or None)
        if bot is None or not bot.bot_token:
            return None
        return WebClient(
            token=bot.bot_token, base_url=self.client.base_url, timeout=self.client.timeout
        )

    def forget(self, team_id: str) -> None:
        """Drop the team's cached token (it was installed again, or uninstalled)."""
        with self._lock:
            self._cache.pop(team_id, None)

    def fresher_than(self, team_id: str, stale_token: str | None) -> Poster | None:
        """Slack refused `stale_token`: the team's Poster on a newer stored token, if any."""
        self.forget(team_id)
        cached = self._cached(team_id)
        if cached is None or cached.client.token == stale_token:
            return None
        return cached.poster.poster

    def _cached(self, team_id: str) -> _Cached | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(team_id)
        if cached is not None and now - cached.at < TOKEN_CACHE_SECONDS:
            return cached
        client = self.client_for(team_id)
        if client is None:
            return None
        token = client.token
        poster = RefreshingPoster(SlackPoster(client), lambda: self.fresher_than(team_id, token))
        cached = _Cached(now, client, poster)
        with self._lock:
            self._cache[team_id] = cached
        return cached


class RefreshingPoster:
    """A workspace's SlackPoster that, when Slack refuses its token, tries once more with a
    newer token if the workspace was installed again meanwhile."""

    def __init__(self, poster: SlackPoster, fresher: Callable[[], Poster | None]) -> None:
        self.poster = poster
        self._fresher = fresher

    def post(
        self,
        channel_id: str,
        message: Message,
        metadata: dict[str, object],
        thread_ts: str | None = None,
    ) -> Outcome:
        return self._once_more(lambda p: p.post(channel_id, message, metadata, thread_ts))

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
        return self._once_more(lambda p: p.edit(channel_id, ts, message))

    def delete(self, channel_id: str, ts: str) -> Outcome:
        return self._once_more(lambda p: p.delete(channel_id, ts))

    def reply_in_thread(
        self, channel_id: str, thread_ts: str, text: str, metadata: dict[str, object] | None = None
    ) -> Outcome:
        return self._once_more(lambda p: p.reply_in_thread(channel_id, thread_ts, text, metadata))

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> Outcome | None:
        return self._once_more(lambda p: p.find_posted(channel_id, signal_key, oldest))

    def find_thread(
        self, channel_id: str, thread_ts: str, signal_key: str
    ) -> Thread | Outcome | None:
        return self._once_more(lambda p: p.find_thread(channel_id, thread_ts, signal_key))

    def check_auth(self) -> Outcome:
        return self._once_more(lambda p: p.check_auth())

    def _once_more(self, call: Callable[[Poster], T]) -> T:
        answer = call(self.poster)
        if not (isinstance(answer, Outcome) and answer.verdict is Verdict.STOP):
            return answer
        fresher = self._fresher()
        return answer if fresher is None else call(fresher)


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
