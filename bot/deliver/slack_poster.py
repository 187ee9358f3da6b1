"""Posting to Slack through slack-sdk, with every answer turned into an Outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.deliver.outcome import Outcome, Thread, Verdict
from bot.render import Message
from bot.store.models import is_user_id

log = logging.getLogger(__name__)

SIGNAL_EVENT_TYPE = "signal_posted"
REVISION_EVENT_TYPE = "signal_revised"
DIGEST_EVENT_TYPE = "signal_digest_posted"
# Slack refusing the message we built (as opposed to the channel or the token).
RENDERING_REFUSALS = frozenset(
    {"msg_blocks_too_long", "invalid_blocks", "invalid_blocks_format", "msg_too_long"}
    | {"invalid_attachments"}
)
CHANNEL_PAUSE_REASONS = {
    "is_archived": "the channel is archived",
    "channel_not_found": "the channel no longer exists, or the bot cannot see it",
    "not_in_channel": "the bot is not in this private channel: invite it with /invite",
    "restricted_action": "posting in this channel is restricted",
    # Personal subscriptions: the direct message cannot be opened or taken any more.
    "user_disabled": "the person's account is deactivated",
    "user_not_found": "the person is no longer in the workspace",
    "user_not_visible": "the bot may not see this person",
    "cannot_dm_bot": "the subscriber is a bot, which cannot get direct messages",
    "messages_tab_disabled": "direct messages with the app are closed (its Messages tab is off)",
}
# The same answers about a person's direct message (a deactivated account archives its DMs).
PERSONAL_PAUSE_REASONS = {
    "is_archived": "the person's account is deactivated",
    "channel_not_found": "the direct message with the person is closed or gone",
}


def pause_reason(error: str | None, target: str) -> str:
    """Why a channel's (or a person's) subscriptions are paused, in words for `list`."""
    code = error or "unknown"
    if is_user_id(target) and code in PERSONAL_PAUSE_REASONS:
        return PERSONAL_PAUSE_REASONS[code]
    return CHANNEL_PAUSE_REASONS.get(code, code)


WORKSPACE_STOP_ERRORS = {
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "not_authed",
    "token_expired",
    "team_access_not_granted",
}
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
HISTORY_PAGES = 20


def signal_metadata(signal_key: str, part: int = 0) -> dict[str, object]:
    """The message metadata that marks a post as carrying one signal (CONTRACT.md); its
    threaded continuations also carry their part number (1, 2, …)."""
    payload: dict[str, object] = {"signal_key": signal_key}
    if part:
        payload["part"] = part
    return {"event_type": SIGNAL_EVENT_TYPE, "event_payload": payload}


def digest_metadata(key: str) -> dict[str, object]:
    """The message metadata of a digest message, naming its (subscription, period, part)."""
    return {"event_type": DIGEST_EVENT_TYPE, "event_payload": {"digest_key": key}}


def revision_metadata(signal_key: str, revision: int) -> dict[str, object]:
    """The metadata of the note that says a brief was revised: it is posted once per revision."""
    payload = {"signal_key": signal_key, "revision": revision}
    return {"event_type": REVISION_EVENT_TYPE, "event_payload": payload}


class SlackPoster:
    """A Poster over the Web API; joins public channels it was not invited to."""

    def __init__(self, client: WebClient) -> None:
        # Our own client without slack-sdk's retry handlers: a resent post after a dropped
        # connection could post twice, and a 429 must reschedule the row, not hold a thread.
        self.client = WebClient(
            token=client.token, base_url=client.base_url, timeout=client.timeout, retry_handlers=[]
        )
        self._direct_messages: dict[str, str] = {}  # user ID -> the DM's channel ID

    def post(
        self,
        channel_id: str,
        message: Message,
        metadata: dict[str, object],
        thread_ts: str | None = None,
    ) -> Outcome:
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem

        def send() -> SlackResponse:
            return self.client.chat_postMessage(
                channel=channel_id,
                metadata=metadata,
                unfurl_links=False,
                thread_ts=thread_ts,
                **message.as_kwargs(),
            )

        return self._joining_if_needed(channel_id, send)

    def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem

        def send() -> SlackResponse:
            return self.client.chat_update(channel=channel_id, ts=ts, **message.as_kwargs())

        return self._joining_if_needed(channel_id, send)

    def delete(self, channel_id: str, ts: str) -> Outcome:
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem
        outcome = self._call(lambda: self.client.chat_delete(channel=channel_id, ts=ts))
        return Outcome.sent(ts) if outcome.error == "message_not_found" else outcome

    def reply_in_thread(
        self, channel_id: str, thread_ts: str, text: str, metadata: dict[str, object] | None = None
    ) -> Outcome:
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem
        return self._call(
            lambda: self.client.chat_postMessage(
                channel=channel_id, thread_ts=thread_ts, text=text, metadata=metadata
            )
        )

    def find_thread(self, channel_id: str, thread_ts: str, signal_key: str) -> Thread | Outcome:
        """The parts and revision notes under the post `thread_ts`, from conversations.replies."""
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem
        parts: dict[int, str] = {}
        noted: set[int] = set()
        cursor = None
        for _page in range(HISTORY_PAGES):
            try:
                response = self.client.conversations_replies(
                    channel=channel_id,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            except SlackApiError as error:
                return classify_error(error.response)
            except (URLError, OSError) as error:
                return Outcome(Verdict.RETRY, error=f"connection error: {error}")
            for message in response.get("messages") or []:
                _note_thread_message(message, signal_key, parts, noted)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return Thread(parts, frozenset(noted))
        return Outcome(Verdict.RETRY, error="thread too long to read")

    def find_posted(self, channel_id: str, signal_key: str, oldest: float) -> Outcome | None:
        """The message a crashed or cut-off attempt may have posted, from the channel history."""
        channel_id, problem = self._conversation(channel_id)
        if problem is not None:
            return problem
        cursor = None
        for _page in range(HISTORY_PAGES):
            try:
                response = self.client.conversations_history(
                    channel=channel_id,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            except SlackApiError as error:
                return classify_error(error.response)
            except (URLError, OSError) as error:
                return Outcome(Verdict.RETRY, error=f"connection error: {error}")
            if ts := _ts_carrying(response.get("messages") or [], signal_key):
                return Outcome.sent(ts)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return Outcome(Verdict.RETRY, error="history too long to search")

    def check_auth(self) -> Outcome:
        return self._call(self.client.auth_test, ts_key="user_id")

    def _conversation(self, target: str) -> tuple[str, Outcome | None]:
        """A personal subscription names a user: open (or reuse) the DM with them."""
        if not is_user_id(target):
            return target, None
        if cached := self._direct_messages.get(target):
            return cached, None
        try:
            response = self.client.conversations_open(users=target)
        except SlackApiError as error:
            return target, classify_error(error.response)
        except (URLError, OSError) as error:
            return target, Outcome(Verdict.RETRY, error=f"connection error: {error}")
        channel = str((response.get("channel") or {}).get("id") or "")
        if not channel:
            return target, Outcome(Verdict.RETRY, error="conversations.open returned no channel")
        self._direct_messages[target] = channel
        return channel, None

    def _joining_if_needed(self, channel_id: str, send: Callable[[], SlackResponse]) -> Outcome:
        outcome = self._call(send)
        if outcome.error != "not_in_channel":
            return outcome
        joined = self._join(channel_id)
        if joined.verdict is Verdict.SENT:
            return self._call(send)
        # An archived public channel answers the join with is_archived: say that, not "private".
        return joined if joined.error in CHANNEL_PAUSE_REASONS else outcome

    def _join(self, channel_id: str) -> Outcome:
        outcome = self._call(lambda: self.client.conversations_join(channel=channel_id), ts_key="")
        if outcome.verdict is Verdict.SENT:
            log.info("joined channel %s to post in it", channel_id)
        return outcome

    def _call(self, call: Callable[[], SlackResponse], *, ts_key: str = "ts") -> Outcome:
        try:
            response = call()
        except SlackApiError as error:
            return classify_error(error.response)
        except (URLError, OSError) as error:  # OSError covers timeouts and resets
            return Outcome(Verdict.RETRY, error=f"connection error: {error}", ambiguous=True)
        return Outcome.sent(str(response.get(ts_key, "")) if ts_key else "")


def _payload(message: dict[str, object], event_type: str, signal_key: str) -> dict[str, object]:
    """The message's metadata payload if it is `event_type` about `signal_key`, else {}."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type", event_type) != event_type:
        return {}
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict) or payload.get("signal_key") != signal_key:
        return {}
    return payload


def _is_digest(message: dict[str, object], digest_key: str) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != DIGEST_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("digest_key") == digest_key


def _ts_carrying(messages: list[dict[str, object]], key: str) -> str | None:
    """The ts of the post carrying `key`: a brief's signal_key (its post, not a reply) or a
    digest's key."""
    for message in messages:
        payload = _payload(message, SIGNAL_EVENT_TYPE, key)
        if (payload and not payload.get("part")) or _is_digest(message, key):
            return str(message["ts"])
    return None


def _note_thread_message(
    message: dict[str, object], signal_key: str, parts: dict[int, str], noted: set[int]
) -> None:
    part = _payload(message, SIGNAL_EVENT_TYPE, signal_key).get("part")
    if isinstance(part, int) and part > 0:
        parts.setdefault(part, str(message["ts"]))
    revision = _payload(message, REVISION_EVENT_TYPE, signal_key).get("revision")
    if isinstance(revision, int):
        noted.add(revision)


def classify_error(response: SlackResponse) -> Outcome:
    """Decide retry / pause / stop / fail from Slack's error answer."""
    error = str(response.get("error") or f"http_{response.status_code}")
    if response.status_code == 429 or error == "ratelimited":
        return Outcome(Verdict.RETRY, error="ratelimited", retry_after=_retry_after(response))
    if error in WORKSPACE_STOP_ERRORS:
        return Outcome(Verdict.STOP, error=error)
    if error in CHANNEL_PAUSE_REASONS:
        return Outcome(Verdict.PAUSE, error=error)
    if response.status_code >= 500 or error in TRANSIENT_ERRORS:
        return Outcome(Verdict.RETRY, error=error, ambiguous=True)
    return Outcome(Verdict.FAIL, error=error)


def _retry_after(response: SlackResponse) -> float:
    headers = {name.lower(): value for name, value in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(float(value), 1.0) if value is not None else 1.0
    except ValueError:
        return 1.0
