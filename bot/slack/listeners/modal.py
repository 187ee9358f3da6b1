"""The subscribe modal's listeners: open (bare `/signals subscribe`), refresh, suggest, submit."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.listeners.replies import tell, user_and_team
from bot.slack.subscribe_modal import Accepted, SubscribeModal
from bot.slack.views.modal_state import CALLBACK_ID, ModalTarget
from bot.store.subscriptions import ChannelRef

log = logging.getLogger(__name__)

BARE_SUBSCRIBE = re.compile(r"^\s*subscribe\s*$", re.IGNORECASE)


def asks_for_form(command: dict[str, Any]) -> bool:
    """`/signals subscribe` with nothing after it."""
    return bool(BARE_SUBSCRIBE.match(str(command.get("text") or "")))


def register(app: App, form: SubscribeModal, workers: ThreadPoolExecutor) -> None:
    @app.command("/signals", matchers=[asks_for_form])
    def open_subscribe_form(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        where = ChannelRef(
            channel_id=str(command.get("channel_id", "")),
            channel_name=str(command.get("channel_name", "")),
            team_id=str(command.get("team_id", "")),
            user_id=str(command.get("user_id", "")),
        )
        if refusal := form.context.refusal(where):
            ack(**refusal.as_response())
            return
        target = ModalTarget(where.channel_id, where.channel_name)
        problem = open_view(client, str(command.get("trigger_id", "")), form.new_view(target))
        if problem:
            ack(response_type="ephemeral", text=problem)
            return
        ack()

    @app.action(re.compile(r"^modal_(pick_[a-z]+|keyword)$"))
    def refresh_count(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        workers.submit(update_view, client, form, view)

    @app.options(re.compile(r"^modal_pick_[a-z]+$"))
    def suggest_options(ack: Ack, payload: dict[str, Any]) -> None:
        action_id, typed = str(payload.get("action_id", "")), str(payload.get("value") or "")
        ack(options=form.suggest(action_id, typed))

    @app.view(CALLBACK_ID)
    def submit_form(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user_id, team_id = user_and_team(body)
        checked = form.check(view, user_id, team_id)
        if not isinstance(checked, Accepted):
            ack(response_action="errors", errors=checked)
            return
        ack()
        workers.submit(confirm, client, form, checked)


def open_view(client: WebClient, trigger_id: str, view: dict[str, Any]) -> str | None:
    """Open the modal; a problem to tell the person when Slack would not."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("views.open failed: %s", code)
        return (
            f":warning: Slack did not open the form (`{code}`). Please try again, or type "
            "`/signals subscribe FILTER` (`/signals topics` lists what there is)."
        )
    except (SlackClientError, OSError) as error:
        log.warning("views.open failed: %s", error)
        return ":warning: Slack could not be reached to open the form. Please try again."
    return None


def update_view(client: WebClient, form: SubscribeModal, view: dict[str, Any]) -> None:
    """Refresh the count; a stale hash means a newer refresh is already on its way."""
    try:
        client.views_update(
            view_id=str(view.get("id", "")), hash=view.get("hash"), view=form.refreshed_view(view)
        )
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            log.warning("views.update failed: %s", error.response.get("error"))
    except Exception:  # off the request thread: log, never kill the worker
        log.exception("could not refresh the subscribe form")


def confirm(client: WebClient, form: SubscribeModal, accepted: Accepted) -> None:
    """Subscribe as the typed command would, then tell the person in the channel."""
    try:
        reply = form.apply(accepted)
    except Exception:  # the person gets an apology, the log the traceback
        log.exception("subscribing from the form failed")
        reply = form.context.notice(
            ":warning:",
            "Something went wrong on my side while saving the subscription. "
            "`/signals list` shows what this channel has; please try again.",
        )
    tell(client, accepted.where, reply)
