"""The App Home's listeners: publish on `app_home_opened`; Add, Edit, Remove and paging."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.commands import Commands
from bot.slack.home import HomePublisher
from bot.slack.listeners.modal import open_view
from bot.slack.listeners.replies import user_and_team
from bot.slack.subscribe_modal import SubscribeModal
from bot.slack.views.home import ADD_ACTION, SUBSCRIPTION_MENU, UNMUTE_ACTION
from bot.slack.views.modal_state import ModalTarget
from bot.store.alert_models import Mute
from bot.store.db import transaction
from bot.store.models import Subscription
from bot.store.overview import is_personal
from bot.store.subscriptions import ChannelRef

log = logging.getLogger(__name__)


def register(app: App, form: SubscribeModal, home: HomePublisher, commands: Commands) -> None:
    @app.event("app_home_opened")
    def home_opened(ack: Ack, body: dict[str, Any], event: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") == "home":
            home.publish_soon(str(event.get("user", "")), str(body.get("team_id", "")))

    @app.action(re.compile(r"^home_page_(next|previous)$"))
    def turn_page(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, team_id = user_and_team(body)
        home.publish_soon(user_id, team_id, page=_number(action.get("value")))

    @app.action(ADD_ACTION)
    def add_subscription(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id, team_id = user_and_team(body)
        target = _new_target(client, form, user_id, team_id)
        if target is None:
            home.publish_soon(
                user_id, team_id, notice="Slack could not open a direct message with you."
            )
            return
        if problem := open_view(client, str(body.get("trigger_id", "")), form.new_view(target)):
            home.publish_soon(user_id, team_id, notice=problem)

    @app.action(re.compile(rf"^{UNMUTE_ACTION}_\d+$"))
    def unmute(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, team_id = user_and_team(body)
        mute_id = _number(action.get("value"))
        with transaction(form.context.sessions) as session:
            row = session.get(Mute, mute_id)
            channel_id = row.channel_id if row is not None else ""
        if not channel_id or (is_personal(channel_id) and channel_id != user_id):
            home.publish_soon(user_id, team_id, notice="That mute has already ended.")
            return
        where = ChannelRef(channel_id, "", team_id, user_id)
        reply = commands.signals(f"unmute {mute_id}", where)
        home.publish_soon(user_id, team_id, notice=reply.message.text)

    @app.action(re.compile(rf"^{SUBSCRIPTION_MENU}_\d+$"))
    def subscription_menu(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user_id, team_id = user_and_team(body)
        verb, _, number = str((action.get("selected_option") or {}).get("value", "")).partition(":")
        where = _subscription_channel(form, _number(number), user_id, team_id)
        if where is None:
            home.publish_soon(user_id, team_id, notice="That subscription no longer exists.")
            return
        if refusal := form.context.refusal(where):
            home.publish_soon(user_id, team_id, notice=refusal.message.text)
            return
        if verb == "edit":
            view = form.edit_view(_number(number))
            problem = "That subscription no longer exists." if view is None else None
            problem = problem or open_view(client, str(body.get("trigger_id", "")), view or {})
            if problem:
                home.publish_soon(user_id, team_id, notice=problem)
        elif verb == "remove":
            reply = commands.signals(f"unsubscribe #{_number(number)}", where)
            home.publish_soon(user_id, team_id, notice=reply.message.text)


def _new_target(
    client: WebClient, form: SubscribeModal, user_id: str, team_id: str
) -> ModalTarget | None:
    """Managers pick a channel in the form; anyone else subscribes their DM with the app."""
    if form.context.permissions.is_manager(user_id, team_id):
        return ModalTarget()
    try:
        channel = client.conversations_open(users=user_id)["channel"]
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("conversations.open for %s failed: %s", user_id, error)
        return None
    return ModalTarget(channel_id=str(channel["id"]))


def _subscription_channel(
    form: SubscribeModal, subscription_id: int, user_id: str, team_id: str
) -> ChannelRef | None:
    with transaction(form.context.sessions) as session:
        row = session.get(Subscription, subscription_id)
        # Someone else's personal subscription is not theirs to change, nor to know of.
        theirs = user_id in (row.channel_id, row.created_by) if row is not None else False
        if row is None or (is_personal(row.channel_id) and not theirs):
            return None
        return ChannelRef(row.channel_id, row.channel_name, team_id, user_id)


def _number(value: object) -> int:
    try:
        return max(int(str(value)), 0)
    except ValueError:
        return 0
