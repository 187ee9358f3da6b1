"""Signed requests from "Slack" to the app over HTTP, for the modal and App Home scenarios."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
from conftest import SIGNING_SECRET
from fake_slack import FakeSlack
from slack_signing import event_body, interactive_body, sign, slash_command_body

from bot.signal import Section, Signal
from bot.store.models import utcnow

TEAM = {"id": "T0FAKE", "domain": "fake-team"}


def recent_brief(
    title: str,
    days_ago: float,
    *,
    topic: str = "AI Advances",
    entity: str = "",
    category: str = "",
    body: str = "",
) -> Signal:
    """A brief published `days_ago` before now, so it counts in 30-day windows."""
    return Signal(
        title=title,
        published=utcnow() - timedelta(days=days_ago),
        key=f"optyx:{title}",
        source="optyx",
        topic=topic,
        entity=entity,
        category=category,
        summary=f"About {title}.",
        sections=(Section("The News", body or f"{title} happened."),),
    )


def post_signed(web_url: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": content_type}
    return httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)


def slash(
    web_url: str,
    slack: FakeSlack,
    text: str,
    *,
    channel: str = "C0AI",
    channel_name: str = "ai-news",
    user: str = "U123",
    trigger_id: str = "trigger-1",
) -> httpx.Response:
    body = slash_command_body(
        "/signals",
        text,
        channel_id=channel,
        channel_name=channel_name,
        user_id=user,
        response_url=slack.response_url("cmd"),
        trigger_id=trigger_id,
    )
    response = post_signed(web_url, body, "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    return response


def said(response: httpx.Response) -> str:
    """What a person reads in the command's HTTP answer ('' for an empty ack)."""
    return json.dumps(response.json(), ensure_ascii=False) if response.content else ""


def interact(web_url: str, payload: dict[str, Any]) -> httpx.Response:
    body = interactive_body({"team": TEAM, "api_app_id": "A0FAKE", "token": "t", **payload})
    return post_signed(web_url, body, "application/x-www-form-urlencoded")


def event(web_url: str, event: dict[str, Any], event_id: str = "Ev0001") -> httpx.Response:
    return post_signed(web_url, event_body(event, event_id=event_id), "application/json")


def user_of(user: str) -> dict[str, str]:
    return {"id": user, "username": f"user-{user.lower()}", "team_id": "T0FAKE"}


def with_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The view as Slack sends it back: the person's input in state.values."""
    return {**view, "state": {"values": values}}


def picked(field: str, *slugs: str) -> dict[str, Any]:
    chosen = [{"value": slug, "text": {"type": "plain_text", "text": slug}} for slug in slugs]
    element = "multi_static_select"
    return {field: {f"modal_pick_{field}": {"type": element, "selected_options": chosen}}}


def typed_keyword(text: str) -> dict[str, Any]:
    return {"keyword": {"modal_keyword": {"type": "plain_text_input", "value": text}}}


def chosen_channel(channel: str) -> dict[str, Any]:
    element = {"type": "conversations_select", "selected_conversation": channel}
    return {"channel": {"modal_channel": element}}


def block_texts(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


def wait_for_home(
    slack: FakeSlack, user: str, showing: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The user's published home tab, once it shows `showing` (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        home = slack.home(user)
        if home is not None and showing in block_texts(home):
            return home
        if time.monotonic() > deadline:
            raise AssertionError(f"the home tab never showed {showing!r}: {home!r}")
        time.sleep(0.02)
