"""Posting to Slack through slack-sdk, with every answer turned into an Outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.deliver.outcome import Outcome, Verdict
from bot.render import Message

log = logging.getLogger(__name__)

SIGNAL_EVENT_TYPE = "signal_posted"
CHANNEL_PAUSE_REASONS = {
    "is_archived": "the channel is archived",
    "channel_not_found": "the channel no longer exists, or the bot cannot see it",
    "not_in_channel": "the bot is not in this private channel: invite it with /invite",
    "restricted_action": "posting in this channel is restricted",
}
WORKSPACE_STOP_ERRORS = {
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "not_authed",
    "token_expired",
    "team_access_not_granted",
}
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}


def signal_metadata(signal_key: str) -> dict[str, object]:
    """The message metadata that marks a post as carrying one signal (CONTRACT.md)."""
    return {"event_type": SIGNAL_EVENT_TYPE, "event_payload": {"signal_key": signal_key}}


class SlackPoster:
    """A Poster over a real `WebClient`; joins public channels it was not invited to."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel_id: str, message: Message, metadata: dict[str, object]) -> Outcome:
        def send() -> SlackResponse:
            return self.client.chat_postMessage(
                channel=channel_id, metadata=metadata, unfurl_links=False, **message.as_kwargs()
            )

        outcome = self._call(send)
        if outcome.error == "not_in_channel" and self._join(channel_id):
            outcome = self._call(send)
        return outcome

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
        return self._call(
            lambda: self.client.chat_update(channel=channel_id, ts=ts, **message.as_kwargs())
        )

    def reply_in_thread(self, channel_id: str, thread_ts: str, text: str) -> Outcome:
        return self._call(
            lambda: self.client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, text=text)
        )

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> str | None:
        """The ts of a message already carrying `signal_key`, if a crashed worker sent one."""
        cursor = None
        for _page in range(20):
            try:
                response = self.client.conversations_history(
                    channel=channel_id,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            except SlackApiError as error:
                log.warning("cannot read %s history: %s", channel_id, error.response.get("error"))
                return None
            for message in response.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("signal_key") == signal_key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _join(self, channel_id: str) -> bool:
        try:
            self.client.conversations_join(channel=channel_id)
        except SlackApiError as error:
            log.info("cannot join %s: %s", channel_id, error.response.get("error"))
            return False
        return True

    def _call(self, call: Callable[[], SlackResponse]) -> Outcome:
        try:
            response = call()
        except SlackApiError as error:
            return classify_error(error.response)
        except (URLError, TimeoutError, ConnectionError, OSError) as error:
            return Outcome(Verdict.RETRY, error=f"connection error: {error}")
        return Outcome.sent(str(response["ts"]))


def classify_error(response: SlackResponse) -> Outcome:
    """Decide retry / pause / stop / fail from Slack's error answer."""
    error = str(response.get("error") or f"http_{response.status_code}")
    if response.status_code == 429 or error == "ratelimited":
        retry_after = _retry_after(response)
        return Outcome(Verdict.RETRY, error="ratelimited", retry_after=retry_after)
    if error in WORKSPACE_STOP_ERRORS:
        return Outcome(Verdict.STOP, error=error)
    if error in CHANNEL_PAUSE_REASONS:
        return Outcome(Verdict.PAUSE, error=error)
    if response.status_code >= 500 or error in TRANSIENT_ERRORS:
        return Outcome(Verdict.RETRY, error=error)
    return Outcome(Verdict.FAIL, error=error)


def _retry_after(response: SlackResponse) -> float:
    headers = {name.lower(): value for name, value in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(float(value), 1.0) if value is not None else 1.0
    except ValueError:
        return 1.0
