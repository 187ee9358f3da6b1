"""Helpers for the shaped-alerts scenarios: signed slash commands and clicks as a given person
in a given channel, briefs ingested on the injected clock, and what the fake Slack received."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from conftest import SIGNING_SECRET
from fake_slack import FakeSlack
from slack_signing import block_actions_body, sign, slash_command_body
from sqlalchemy import select

from bot.app import Services
from bot.deliver.clock import ManualClock
from bot.ingest import ingest
from bot.signal import Signal
from bot.store.db import transaction
from bot.store.models import Delivery, Subscription

CHANNEL = "C0ALERTS"
USER = "U0ANNA"


def post_signed(web_url: str, body: bytes) -> httpx.Response:
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)


def slash(
    web_url: str, slack: FakeSlack, text: str, *, channel: str = CHANNEL, user: str = USER
) -> str:
    """`/signals TEXT` typed by `user` in `channel`; everything the person reads in the answer."""
    body = slash_command_body(
        "/signals",
        text,
        channel_id=channel,
        channel_name="alerts" if channel.startswith("C") else "directmessage",
        user_id=user,
        response_url=slack.response_url("cmd"),
    )
    response = post_signed(web_url, body)
    assert response.status_code == 200, response.text
    return json.dumps(response.json(), ensure_ascii=False)


def choose(
    web_url: str,
    slack: FakeSlack,
    action: dict[str, Any],
    *,
    channel: str = CHANNEL,
    user: str = USER,
    tag: str = "menu",
) -> dict[str, Any]:
    """Pick from a message's control (an overflow option or a button); the app's answer."""
    answered = len(slack.responses(tag))
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake-team"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": channel},
        "channel": {"id": channel, "name": "alerts"},
        "response_url": slack.response_url(tag),
        "actions": [{**action, "block_id": "b", "action_ts": "1.2"}],
    }
    response = post_signed(web_url, block_actions_body(payload))
    assert response.status_code == 200, response.text
    return slack.wait_for_responses(answered + 1, tag=tag)[-1]


def brief(
    title: str, *, entity: str = "Meta", topic: str = "AI Advances", minute: int = 0
) -> Signal:
    published = datetime(2030, 1, 6, 12, minute, tzinfo=UTC)
    return Signal(
        title=title,
        published=published,
        key=title,
        entity=entity,
        category="PLATFORM RELEASE",
        topic=topic,
        summary=f"What happened: {title}.",
    ).keyed("optyx")


def arrive(services: Services, clock: ManualClock, *signals: Signal) -> list[str]:
    """New briefs ingested now (on the injected clock); their IDs."""
    with transaction(services.sessions) as session:
        report = ingest(session, list(signals), announce=True, now=clock.now())
    return report.new


def deliver(services: Services) -> None:
    services.deliverer.deliver_pending()


def states(services: Services) -> dict[str, str]:
    """Each delivery's state, by the brief's title and the channel: `"title@C…": state`."""
    with transaction(services.sessions) as session:
        rows = session.scalars(select(Delivery)).all()
        return {f"{row.signal.title}@{row.channel_id}": row.state for row in rows}


def subscriptions(services: Services) -> list[tuple[str, str, str | None, str | None, str]]:
    with transaction(services.sessions) as session:
        rows = session.scalars(select(Subscription).order_by(Subscription.id)).all()
        return [(row.channel_id, row.filter, row.digest, row.tz, row.format) for row in rows]


def posted_titles(slack: FakeSlack, channel: str) -> list[str]:
    return [message["blocks"][0]["text"]["text"] for message in slack.messages(channel)]
