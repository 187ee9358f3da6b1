"""The Bolt app: listeners are shims that ack fast and hand the text to bot.commands."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.commands import Commands, Reply
from bot.people import WorkspaceClients, one_workspace
from bot.render import Message
from bot.sharing import PostFailed, Publisher
from bot.slack import listeners as management_listeners
from bot.store.subscriptions import ChannelRef

log = logging.getLogger(__name__)

# Slack waits 3 s for the HTTP answer; past this budget we ack and answer via response_url.
ANSWER_BUDGET_SECONDS = 2.0
SHARED_EVENT_TYPE = "signal_shared"
# Threads that compute slash command answers. Searches are CPU-bound (Python, and SQLite, which
# lets go of the interpreter lock): one per core of the 2-core machine the benchmark runs on. At
# 20 concurrent `/brief`s over a million briefs, 2 threads answered 250-265 a second with a p99
# of 117-121 ms; 4 threads 209-235 a second, p99 157-171 ms, with more CPU per answer spent
# handing the lock around (benchmarks/slash_load.py). Two rather than one, so that one slow
# query does not hold up every command behind it.
COMMAND_THREADS = 2
# Threads for what waits on Slack (response_url answers, follow-ups, views) and button answers.
BACKGROUND_THREADS = 4
SOMETHING_WENT_WRONG = (
    ":warning: Something went wrong on my side while answering that. "
    "It has been logged; please try again in a moment."
)


@dataclass(frozen=True)
class Workers:
    """Where listeners send work after their ack: `commands` for slash command answers, which
    race Slack's 3 s; `background` for everything else, mostly waiting on Slack."""

    commands: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(COMMAND_THREADS, thread_name_prefix="command")
    )
    background: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            BACKGROUND_THREADS, thread_name_prefix="background"
        )
    )


def build_bolt_app(
    *,
    client: WebClient,
    signing_secret: str,
    commands: Commands,
    on_app_removed: Callable[[str, str], None] | None = None,
    oauth_settings: OAuthSettings | None = None,
    workspace_clients: WorkspaceClients | None = None,
) -> App:
    """A Bolt app on our WebClient (so SLACK_API_URL applies) with every listener registered.

    `on_app_removed(reason, team_id)` is told when Slack says the app was uninstalled or its
    tokens revoked, so that delivery there stops at once instead of failing post by post.
    `oauth_settings` turns on the install flow (multi-workspace mode); `workspace_clients`
    then gives each workspace's client for work done outside a request (the App Home).
    """
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        # OAuth stays off unless configured on purpose (SLACK.md, trap 3).
        installation_store=oauth_settings.installation_store if oauth_settings else None,
        oauth_settings=oauth_settings,
        # Listeners run in the request's own thread and hand slow work to `workers` themselves
        # (answer_in_time, answer_action), instead of Bolt's extra thread polling for the ack.
        process_before_response=True,
    )
    workers = Workers()
    # Bolt tries listeners in order, building each one's arguments: `/brief`, the busiest and
    # claimed by no other listener, goes first. Then a bare `/signals subscribe` opens the form
    # before the generic `/signals` listener sees it.
    register_brief(app, commands, workers)
    clients = workspace_clients or one_workspace(client)
    management_listeners.register(app, commands, clients, workers.background)
    register_listeners(app, commands, workers)
    register_removal_events(app, on_app_removed or (lambda reason, team: None))
    return app


def register_removal_events(app: App, on_app_removed: Callable[[str, str], None]) -> None:
    @app.event("app_uninstalled")
    def app_uninstalled(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        on_app_removed("the app was uninstalled from the workspace", str(body.get("team_id", "")))

    @app.event("tokens_revoked")
    def tokens_revoked(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        team = str(body.get("team_id", ""))
        on_app_removed("Slack revoked the bot token (tokens_revoked)", team)


def register_brief(app: App, commands: Commands, workers: Workers) -> None:
    @app.command("/brief")
    def brief_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        text, where = typed_text(command), channel_of(command)
        answer_in_time(lambda: commands.brief(text, where), ack, respond, workers)


def register_listeners(app: App, commands: Commands, workers: Workers) -> None:
    @app.command("/signals")
    def signals_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        text, where = typed_text(command), channel_of(command)
        answer_in_time(lambda: commands.signals(text, where), ack, respond, workers)

    @app.action("open_brief")
    def open_brief(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL itself, we only acknowledge

    @app.action(re.compile(r"^show_brief(_\d+)?$"))
    def show_brief(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        value = str(action.get("value", ""))
        answer_action(
            lambda: commands.show(value), respond, workers.background, replace_original=False
        )

    @app.action(re.compile(r"^share_brief(_\d+)?$"))
    def share_brief(
        ack: Ack, action: dict[str, Any], body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        value, where = str(action.get("value", "")), actor_of(body)
        publish = slack_publisher(client)
        answer_action(
            lambda: commands.share(value, where, publish),
            respond,
            workers.background,
            replace_original=False,
        )

    @app.action(re.compile(r"^search_(next|previous)$"))
    def search_page(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        kind, query_text, offset = page_request(action.get("value"))
        answer_action(
            lambda: commands.page(kind, query_text, offset),
            respond,
            workers.background,
            replace_original=True,
        )

    @app.action(re.compile(r"^mute"))
    def mute_menu(ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        ack()
        choice = str(
            (action.get("selected_option") or {}).get("value") or action.get("value") or ""
        )
        where = actor_of(body)
        answer_action(
            lambda: commands.mute_from_menu(choice, where),
            respond,
            workers.background,
            replace_original=False,
        )

    @app.action("undo_mute")
    def undo_mute(ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        ack()
        value, where = str(action.get("value", "")), actor_of(body)
        answer_action(
            lambda: commands.undo_mute(value, where),
            respond,
            workers.background,
            replace_original=True,
        )

    @app.error
    def on_error(error: Exception) -> None:
        log.exception("Bolt listener failed", exc_info=error)


def typed_text(command: dict[str, Any]) -> str:
    """What the person typed: Slack sends `&`, `<`, `>` in command text as HTML entities."""
    text = str(command.get("text") or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def channel_of(command: dict[str, Any]) -> ChannelRef:
    return ChannelRef(
        channel_id=command.get("channel_id", ""),
        channel_name=command.get("channel_name", ""),
        team_id=command.get("team_id", ""),
        user_id=command.get("user_id", ""),
    )


def actor_of(body: dict[str, Any]) -> ChannelRef:
    """Who clicked a button, and in which channel (a block_actions payload)."""
    channel, user, team = (body.get(key) or {} for key in ("channel", "user", "team"))
    return ChannelRef(
        channel_id=str(channel.get("id", "")),
        channel_name=str(channel.get("name", "")),
        team_id=str(team.get("id", "")),
        user_id=str(user.get("id", "")),
    )


def page_request(value: object) -> tuple[str, str, int]:
    """(kind, query text, offset) from a Next/Previous button's value; junk reads as empty."""
    try:
        state = json.loads(str(value or "{}"))
        kind, query_text = str(state.get("kind", "search")), str(state.get("query_text", ""))
        return kind, query_text, max(int(state.get("offset", 0)), 0)
    except (ValueError, TypeError, AttributeError):
        return "search", "", 0


def slack_publisher(client: WebClient) -> Publisher:
    """Post a shared brief (the post, then its threaded continuations) in a channel through the
    app's client; PostFailed says why the post could not go out."""

    def publish(channel_id: str, parts: list[Message], signal_key: str) -> str:
        metadata = {"event_type": SHARED_EVENT_TYPE, "event_payload": {"signal_key": signal_key}}
        ts = _post_shared(client, channel_id, parts[0], metadata)
        for number, part in enumerate(parts[1:], start=1):
            try:
                _post_shared(client, channel_id, part, metadata, thread_ts=ts)
            except PostFailed as failure:
                log.warning("shared brief %s: part %d not posted: %s", signal_key, number, failure)
                break
        return ts

    return publish


def _post_shared(
    client: WebClient,
    channel_id: str,
    message: Message,
    metadata: dict[str, Any],
    thread_ts: str | None = None,
) -> str:
    try:
        response = client.chat_postMessage(
            channel=channel_id, metadata=metadata, thread_ts=thread_ts, **message.as_kwargs()
        )
    except SlackApiError as error:
        raise PostFailed(f"Slack answered `{error.response.get('error')}`.") from error
    except (SlackClientError, OSError) as error:
        raise PostFailed("Slack could not be reached. Please try again in a moment.") from error
    return str(response.get("ts") or "")


def answer_action(
    compute: Callable[[], Reply],
    respond: Respond,
    workers: ThreadPoolExecutor,
    *,
    replace_original: bool,
) -> None:
    """After a button's ack: answer through response_url (apologizing if it failed), off the
    request thread, so that Slack gets its HTTP 200 at once."""

    def answer() -> None:
        reply = _safely(compute)
        _respond_safely(respond, {"replace_original": replace_original, **_response(reply)})
        _send_followups(respond, reply)

    workers.submit(answer)


def answer_in_time(
    compute: Callable[[], Reply], ack: Ack, respond: Respond, workers: Workers
) -> None:
    """Answer in the HTTP response when ready in time, else ack now and answer via response_url."""
    future = workers.commands.submit(_safely, compute)
    try:
        reply = future.result(timeout=ANSWER_BUDGET_SECONDS)
    except FutureTimeout:
        ack(response_type="ephemeral", text=":hourglass_flowing_sand: Working on it…")
        future.add_done_callback(
            lambda done: workers.background.submit(_respond_fully, respond, done.result())
        )
        return
    if reply is not None and reply.followups:
        # All through response_url, so that the messages arrive in order.
        ack()
        workers.background.submit(_respond_fully, respond, reply)
        return
    ack(**_response(reply))


def _respond_fully(respond: Respond, reply: Reply | None) -> None:
    _respond_safely(respond, _response(reply))
    _send_followups(respond, reply)


def _send_followups(respond: Respond, reply: Reply | None) -> None:
    """A long reply's further messages, in order, each through response_url."""
    for followup in reply.followup_responses() if reply else []:
        _respond_safely(respond, {"replace_original": False, **followup})


def _respond_safely(respond: Respond, answer: dict[str, Any]) -> None:
    try:
        respond(**answer)
    except Exception:  # response_url gone or Slack down: nothing left to tell anyone but the log
        log.exception("could not answer through response_url")


def _response(reply: Reply | None) -> dict[str, Any]:
    if reply is None:
        return {"response_type": "ephemeral", "text": SOMETHING_WENT_WRONG}
    return reply.as_response()


def _safely(compute: Callable[[], Reply]) -> Reply | None:
    try:
        return compute()
    except Exception:  # a person gets an apology, the log gets the traceback, the process lives
        log.exception("command failed")
        return None
