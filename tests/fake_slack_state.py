"""What the fake Slack workspace holds and how its Web API methods answer (no HTTP here)."""

import base64
import copy
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from fake_slack_blocks import CONTENT_ERRORS, ContentRefused, check_message, stored_text
from fake_slack_views import ViewError, Views

JsonDict = dict[str, Any]
T = TypeVar("T")
BOT_MESSAGE_FIELDS = {"type": "message", "user": "UBOT", "bot_id": "B0FAKE", "team": "T0FAKE"}


class SlackError(Exception):
    """Raised by a method handler; becomes {"ok": false, "error": ..., "errors": [details]}."""


@dataclass(frozen=True)
class Call:
    method: str
    params: JsonDict
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class Reply:
    body: JsonDict
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(error: str, status: int = 200, retry_after: int | None = None) -> Reply:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Reply({"ok": False, "error": error}, status, headers)


@dataclass
class Channel:
    id: str
    name: str
    private: bool
    member: bool
    archived: bool
    messages: list[JsonDict] = field(default_factory=list)  # oldest first
    ephemerals: list[JsonDict] = field(default_factory=list)

    def info(self) -> JsonDict:
        return {
            **{"id": self.id, "name": self.name, "is_channel": True, "is_im": False},
            **{"is_private": self.private, "is_member": self.member},
            **{"is_archived": self.archived, "is_general": self.name == "general"},
        }


@dataclass
class RateLimit:
    """Token buckets of `burst` tokens: one per channel, one workspace-wide if asked for."""

    per_channel_per_second: float
    burst: int
    global_per_minute: float | None
    methods: frozenset[str]
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str | None, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def seconds_to_wait(self, channel: str) -> float:
        """0 if the call may pass (it then takes a token from each bucket), else the wait."""
        rates: dict[str | None, float] = {channel: self.per_channel_per_second}
        if self.global_per_minute:
            rates[None] = self.global_per_minute / 60  # None: the workspace-wide bucket
        now = self.clock()
        tokens = {key: self._refilled(key, rate, now) for key, rate in rates.items()}
        wait = max((1 - tokens[key]) / rate for key, rate in rates.items())
        taken = 1 if wait <= 0 else 0
        self.buckets.update({key: (count - taken, now) for key, count in tokens.items()})
        return max(wait, 0.0)

    def _refilled(self, key: str | None, per_second: float, now: float) -> float:
        tokens, since = self.buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - since) * per_second)


def is_true(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def in_window(ts: str, params: JsonDict) -> bool:
    # Decimal, as a float would lose the microseconds of a Slack ts.
    oldest, stamp = Decimal(str(params.get("oldest") or 0)), Decimal(ts)
    latest = Decimal(str(params.get("latest") or "Infinity"))
    if is_true(params.get("inclusive")):
        return oldest <= stamp <= latest
    return oldest < stamp < latest


class SlackState(Views):
    """One fake workspace: channels, messages, recorded calls and injected faults."""

    def __init__(self) -> None:
        self._init_views()
        self._lock = threading.Condition()
        self._channels: dict[str, Channel] = {}
        self._calls: list[Call] = []
        self._responses: list[tuple[str, JsonDict]] = []
        self._faults: dict[str, deque[Reply]] = {}
        self._rate_limit: RateLimit | None = None
        self._auth_error: str | None = None
        self._last_ts = Decimal(0)
        self._users: dict[str, JsonDict] = {}
        self._closed_dms: set[str] = set()
        self.latency = 0.0
        self.rate_limited_count = 0
        # Content real Slack would refuse (not injected faults): the `slack` fixture fails a
        # test that sent any, unless the test set `expect_refusals`.
        self.refusals: list[tuple[str, str]] = []
        self.expect_refusals = False
        # Several workspaces: each bot token belongs to a team (any other token: T0FAKE).
        self._teams_by_token: dict[str, str] = {}
        self._team_names: dict[str, str] = {}
        self._install_codes: dict[str, tuple[str, str]] = {}  # code -> (team, token)
        self._oauth_client: tuple[str, str] | None = None
        self._team_auth_errors: dict[str, str] = {}
        self._token_errors: dict[str, str] = {}
        self._user_teams: dict[str, str] = {}  # users that belong to one workspace only
        self._team_rate_limits: dict[str, RateLimit] = {}
        self.rate_limited_by_team: dict[str, int] = {}
        self.socket_mode_url: str | None = None  # what apps.connections.open hands out

    # Set up by the test.
    def add_channel(
        self,
        id: str,
        name: str,
        *,
        private: bool = False,
        member: bool = True,
        archived: bool = False,
    ) -> None:
        with self._lock:
            self._channels[id] = Channel(id, name, private, member, archived)

    def add_user(
        self,
        id: str,
        *,
        tz: str | None = "UTC",
        deleted: bool = False,
        admin: bool = False,
        owner: bool = False,
        team: str | None = None,
    ) -> str:
        """A person (a workspace admin or owner if said); returns the ID of their (future)
        direct message with the app. With `team`, only that workspace's token finds them."""
        with self._lock:
            if team is not None:
                self._user_teams[id] = team
            self._users[id] = {"id": id, "name": id.lower(), "deleted": deleted, "tz": tz}
            self._users[id] |= {"is_admin": admin, "is_owner": owner, "is_primary_owner": False}
            return "D" + id[1:]

    def deactivate_user(self, id: str) -> None:
        """As Slack does: the account is disabled and its direct messages are archived."""
        with self._lock:
            self._users[id]["deleted"] = True
            if dm := self._channels.get("D" + id[1:]):
                dm.archived = True

    def close_dm(self, user_id: str) -> None:
        """The person turned off direct messages from the app: posting there is refused."""
        with self._lock:
            self._closed_dms.add("D" + user_id[1:])

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend([error_reply(error, status, retry_after)] * times)

    def add_team(self, team_id: str, token: str, name: str = "") -> None:
        """A workspace whose bot token is `token`."""
        with self._lock:
            self._teams_by_token[token] = team_id
            self._team_names[team_id] = name or team_id.lower()

    def allow_oauth(self, client_id: str, client_secret: str) -> None:
        """The app's credentials that oauth.v2.access accepts."""
        self._oauth_client = (client_id, client_secret)

    def approve_install(self, code: str, team_id: str, token: str) -> None:
        """A user approved the install in `team_id`: `code` is what Slack redirects back with,
        and oauth.v2.access exchanges it (once) for `token`."""
        self.add_team(team_id, token)
        with self._lock:
            self._install_codes[code] = (team_id, token)

    def revoke_token(self, token: str, error: str = "token_revoked") -> None:
        """Calls with this one token now fail with `error` (a reinstall's new one works)."""
        with self._lock:
            self._token_errors[token] = error

    def revoke_team(self, team_id: str, error: str = "token_revoked") -> None:
        """Every call with that workspace's token now fails with `error`."""
        self._team_auth_errors[team_id] = error

    def team_of(self, headers: dict[str, str], params: JsonDict) -> str:
        """The workspace a call's bot token belongs to."""
        return self._teams_by_token.get(self.token_of(headers, params), "T0FAKE")

    def token_of(self, headers: dict[str, str], params: JsonDict) -> str:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        return str(params.get("token") or auth.removeprefix("Bearer ").strip())

    def set_latency(self, seconds: float) -> None:
        self.latency = seconds

    def set_auth_error(self, error: str | None = "invalid_auth") -> None:
        self._auth_error = error

    def limit_rate(
        self,
        per_channel_per_second: float = 1.0,
        burst: int = 1,
        global_per_minute: float | None = None,
        *,
        methods: frozenset[str] = frozenset({"chat.postMessage"}),
        team: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Answer 429 beyond these rates, for every workspace or (`team`) for one of them with
        its own buckets; `clock` (seconds) lets a test move time itself."""
        limit = RateLimit(per_channel_per_second, burst, global_per_minute, methods, clock)
        with self._lock:
            if team is None:
                self._rate_limit = limit
            else:
                self._team_rate_limits[team] = limit

    # Asserted on by the test.
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if method in (None, call.method)]

    def messages(self, channel: str) -> list[JsonDict]:
        """All messages posted to the channel, oldest first, with their metadata."""
        with self._lock:
            return [dict(message) for message in self._channels[channel].messages]

    def ephemerals(self, channel: str) -> list[JsonDict]:
        with self._lock:
            return [dict(message) for message in self._channels[channel].ephemerals]

    def responses(self, tag: str | None = None) -> list[JsonDict]:
        with self._lock:
            return [payload for got, payload in self._responses if tag in (None, got)]

    def clear(self) -> None:
        """Forget recorded calls, responses and 429s; channels, messages and faults stay."""
        with self._lock:
            self._calls.clear()
            self._responses.clear()
            self.rate_limited_count = 0
            self.rate_limited_by_team.clear()

    def wait_for_calls(self, method: str, n: int, timeout: float = 5.0) -> list[Call]:
        return self._wait_for(lambda: self.calls(method), n, timeout, f"{method} calls")

    def wait_for_responses(
        self, n: int, timeout: float = 5.0, *, tag: str | None = None
    ) -> list[JsonDict]:
        return self._wait_for(lambda: self.responses(tag), n, timeout, "response_url posts")

    def _wait_for(self, fetch: Callable[[], list[T]], n: int, timeout: float, what: str) -> list[T]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(fetch()) >= n, timeout):
                raise AssertionError(f"expected {n} {what} within {timeout}s, got {fetch()!r}")
            return fetch()

    # Called by the HTTP server.
    def record_response(self, tag: str, payload: JsonDict) -> Reply:
        """A response_url post: refused as Slack would, else recorded."""
        with self._lock:
            try:
                check_message(payload, required=True)
            except ContentRefused as refused:
                self.refusals.append(("response_url", refused.args[0]))
                return error_reply(refused.args[0], status=400)
            self._responses.append((tag, payload))
            self._lock.notify_all()
            return Reply({"ok": True})

    def check_app_answer(self, payload: JsonDict) -> None:
        """An HTTP response body the app gave Slack (e.g. a slash command's reply)."""
        if "text" not in payload and "blocks" not in payload:
            return  # an empty ack
        with self._lock:
            try:
                check_message(payload, required=True)
            except ContentRefused as refused:
                self.refusals.append(("http response", refused.args[0]))

    def answer(self, method: str, params: JsonDict | None, headers: dict[str, str]) -> Reply:
        """Record the call and answer it; `params` is None when the body was not valid JSON."""
        with self._lock:
            self._calls.append(Call(method, params or {}, headers, time.monotonic()))
            self._lock.notify_all()
            if params is None:
                return error_reply("invalid_json")
            reply = self._answer(method, params, headers)
            if reply.status == 429:
                self.rate_limited_count += 1
                team = self.team_of(headers, params)
                self.rate_limited_by_team[team] = self.rate_limited_by_team.get(team, 0) + 1
            return copy.deepcopy(reply)  # the server serialises it after the lock is released

    def _answer(self, method: str, params: JsonDict, headers: dict[str, str]) -> Reply:
        if method == "oauth.v2.access":
            return self._oauth_v2_access(params, headers)
        team = self.team_of(headers, params)
        token_error = self._token_errors.get(self.token_of(headers, params))
        if error := self._auth_error or self._team_auth_errors.get(team) or token_error:
            return error_reply(error)
        if not params.get("token") and "authorization" not in {k.lower() for k in headers}:
            return error_reply("not_authed")
        if faults := self._faults.get(method):
            return faults.popleft()
        if wait := self._rate_limit_wait(method, params, team):
            return error_reply("ratelimited", 429, max(1, math.ceil(wait)))
        if method == "users.info" and self._user_teams.get(str(params.get("user")), team) != team:
            return error_reply("user_not_found")  # a person of another workspace
        if method == "auth.test":
            return Reply({"ok": True, **self._api_auth_test(params), "team_id": team})
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply({"ok": False, "error": "unknown_method", "req_method": method})
        try:
            return Reply({"ok": True, **handler(params)})
        except (SlackError, ContentRefused, ViewError) as error:
            name, *details = error.args
            if name in CONTENT_ERRORS:
                self.refusals.append((method, name))
            return Reply({"ok": False, "error": name} | ({"errors": details} if details else {}))

    def _rate_limit_wait(self, method: str, params: JsonDict, team: str) -> float:
        limit = self._team_rate_limits.get(team, self._rate_limit)
        if limit is None or method not in limit.methods:
            return 0.0
        return limit.seconds_to_wait(str(params.get("channel")))

    def _oauth_v2_access(self, params: JsonDict, headers: dict[str, str]) -> Reply:
        """The token exchange at the end of an install: app credentials (form or HTTP Basic)
        and a code that is good once."""
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth.startswith("Basic "):
            given = tuple(base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1))
        else:
            given = (str(params.get("client_id")), str(params.get("client_secret")))
        if self._oauth_client is None or given != self._oauth_client:
            return error_reply("invalid_client_id")
        approved = self._install_codes.pop(str(params.get("code")), None)
        if approved is None:
            return error_reply("invalid_code")
        team, token = approved
        return Reply(
            {
                "ok": True,
                "app_id": "A0FAKE",
                "authed_user": {"id": "U0INSTALLER"},
                "scope": "commands,chat:write,channels:read,groups:read,channels:join",
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": f"UBOT{team}",
                "team": {"id": team, "name": self._team_names.get(team, team)},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        )

    # The Web API methods, named after them.
    def _api_apps_connections_open(self, params: JsonDict) -> JsonDict:
        if self.socket_mode_url is None:
            raise SlackError("not_allowed_token_type")
        return {"url": self.socket_mode_url}

    def _api_auth_test(self, params: JsonDict) -> JsonDict:
        identity = {"team_id": "T0FAKE", "user_id": "UBOT", "bot_id": "B0FAKE"}
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "signal-bot", **identity}

    def _api_chat_postMessage(self, params: JsonDict) -> JsonDict:
        channel = self._postable_channel(params)
        channel.messages.append(message := self._new_message(params))
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _api_chat_postEphemeral(self, params: JsonDict) -> JsonDict:
        channel = self._postable_channel(params)
        message = {**self._new_message(params), "user": params.get("user")}  # the one who sees it
        channel.ephemerals.append(message)
        return {"message_ts": message["ts"]}

    def _api_chat_update(self, params: JsonDict) -> JsonDict:
        channel = self._channel(params)
        message = next((m for m in channel.messages if m["ts"] == params.get("ts")), None)
        if message is None:
            raise SlackError("message_not_found")
        check_message(params, required=False)
        message.update({k: params[k] for k in ("text", "blocks", "metadata") if k in params})
        message["text"] = stored_text(message)
        message["edited"] = {"user": "UBOT", "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": message,
        }

    def _api_users_info(self, params: JsonDict) -> JsonDict:
        user = self._users.get(str(params.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": dict(user)}

    def _api_conversations_open(self, params: JsonDict) -> JsonDict:
        user = self._users.get(str(params.get("users")))
        if user is None:
            raise SlackError("user_not_found")
        if user["deleted"]:
            raise SlackError("user_disabled")
        dm = "D" + user["id"][1:]
        if dm not in self._channels:
            self._channels[dm] = Channel(dm, "", private=True, member=True, archived=False)
        return {"channel": {"id": dm, "is_im": True, "user": user["id"]}}

    def _api_conversations_info(self, params: JsonDict) -> JsonDict:
        return {"channel": self._channel(params).info()}

    def _api_conversations_join(self, params: JsonDict) -> JsonDict:
        channel = self._channel(params)
        if channel.archived:
            raise SlackError("is_archived")
        if channel.private:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.member:
            warning = "already_in_channel"
            metadata = {"warnings": [warning]}
            return {"channel": channel.info(), "warning": warning, "response_metadata": metadata}
        channel.member = True
        return {"channel": channel.info()}

    def _api_conversations_history(self, params: JsonDict) -> JsonDict:
        channel = self._channel(params)
        if not channel.member:
            raise SlackError("not_in_channel")
        # As in Slack, thread replies are not in the history (unless broadcast to the channel).
        found = [
            m
            for m in reversed(channel.messages)
            if in_window(m["ts"], params) and (is_top_level(m) or m.get("subtype"))
        ]
        return {**self._page(found, params), "pin_count": 0}

    def _api_conversations_replies(self, params: JsonDict) -> JsonDict:
        channel = self._channel(params)
        if not channel.member:
            raise SlackError("not_in_channel")
        parent_ts = str(params.get("ts"))
        thread = [m for m in channel.messages if parent_ts in (m["ts"], m.get("thread_ts"))]
        if not thread or not is_top_level(thread[0]):
            raise SlackError("thread_not_found")
        return self._page([m for m in thread if in_window(m["ts"], params)], params)

    def _api_chat_delete(self, params: JsonDict) -> JsonDict:
        channel = self._channel(params)
        found = [m for m in channel.messages if m["ts"] == params.get("ts")]
        if not found:
            raise SlackError("message_not_found")
        channel.messages.remove(found[0])
        return {"channel": channel.id, "ts": found[0]["ts"]}

    def _page(self, found: list[JsonDict], params: JsonDict) -> JsonDict:
        limit = int(params.get("limit") or 100)
        with_metadata = is_true(params.get("include_all_metadata"))
        page = [m if with_metadata else drop_metadata(m) for m in found[:limit]]
        return {"messages": page, "has_more": len(found) > limit}

    def _channel(self, params: JsonDict) -> Channel:
        wanted = str(params.get("channel"))
        if wanted in self._users:  # posting to a user ID posts in their DM with the app
            self._open_direct_message(wanted := "D" + wanted[1:], str(params.get("channel")))
        if (channel := self._channels.get(wanted)) is None:
            raise SlackError("channel_not_found")
        return channel

    def _open_direct_message(self, channel_id: str, user_id: str) -> None:
        self._channels.setdefault(channel_id, Channel(channel_id, user_id, True, True, False))

    def _postable_channel(self, params: JsonDict) -> Channel:
        channel = self._channel(params)
        if channel.id in self._closed_dms:
            raise SlackError("messages_tab_disabled")
        if channel.archived or not channel.member:
            raise SlackError("is_archived" if channel.archived else "not_in_channel")
        check_message(params, required=True)
        return channel

    def _new_message(self, params: JsonDict) -> JsonDict:
        kept = ("text", "blocks", "metadata", "thread_ts")
        content = {key: params[key] for key in kept if params.get(key) not in (None, "")}
        message = {**BOT_MESSAGE_FIELDS, "text": "", **content, "ts": self._next_ts()}
        if message.get("thread_ts") and is_true(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        return {**message, "text": stored_text(message)}

    def _next_ts(self) -> str:
        # Real clock time (so `oldest=time.time() - x` works), nudged to stay unique and increasing.
        now = Decimal(f"{time.time():.6f}")
        self._last_ts = max(now, self._last_ts + Decimal("0.000001"))
        return f"{self._last_ts:.6f}"


def is_top_level(message: JsonDict) -> bool:
    return message.get("thread_ts") in (None, message["ts"])


def drop_metadata(message: JsonDict) -> JsonDict:
    return {key: value for key, value in message.items() if key != "metadata"}
