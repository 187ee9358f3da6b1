"""The whole path with real parts: signed slash commands into the real Bolt app over HTTP, a brief
dropped into the folder, and the real slack-sdk client posting to a fake Slack on loopback."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from conftest import SEED, SIGNING_SECRET, wait_until
from fake_slack import FakeSlack
from slack_sdk.models.blocks import Block
from slack_signing import sign, slash_command_body
from sqlalchemy import select

from bot.app import Services
from bot.jobs import build_scheduler, poll_and_deliver
from bot.search.store import count_signals
from bot.store.db import transaction
from bot.store.models import StoredSignal

AI_CHANNEL = "C0AI"


def slash(
    web_url: str,
    slack: FakeSlack,
    command: str,
    text: str,
    *,
    channel: str = AI_CHANNEL,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    body = slash_command_body(
        command,
        text,
        channel_id=channel,
        channel_name="ai-news",
        response_url=slack.response_url("cmd"),
    )
    headers = {**sign(body, secret, timestamp), "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)


def reply_text(response: httpx.Response) -> str:
    """Everything a person would read in an ephemeral reply."""
    assert response.status_code == 200, response.text
    return json.dumps(response.json(), ensure_ascii=False)


def poll_once(services: Services) -> None:
    for source in services.settings.sources:
        poll_and_deliver(services, source)


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_subscribe_then_drop_seed_posts_exactly_one_valid_message(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news", member=False)
    poll_once(services)  # the first poll primes the empty folder

    answer = reply_text(slash(web_url, slack, "/signals", "subscribe ai-advances"))
    assert "AI Advances" in answer or "ai-advances" in answer
    assert slack.calls("conversations.join"), "subscribing a public channel joins it"

    drop(signals_dir, "brief.txt", SEED.read_text(encoding="utf-8"))
    poll_once(services)
    poll_once(services)  # a second poll of the same file changes nothing

    posts = slack.calls("chat.postMessage")
    assert len(posts) == 1
    params = posts[0].params
    assert params["channel"] == AI_CHANNEL
    assert params["metadata"] == {
        "event_type": "signal_posted",
        "event_payload": {"signal_key": "Meta Pivots To Closed-Source AI With 'Muse Spark'"},
    }
    assert params["text"]
    assert params["blocks"][0]["type"] == "header"
    for block in params["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert "Muse Spark" in params["blocks"][0]["text"]["text"]


def test_brief_finds_the_stored_brief(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    drop(signals_dir, "brief.txt", SEED.read_text(encoding="utf-8"))
    poll_once(services)

    answer = reply_text(slash(web_url, slack, "/brief", "muse"))
    assert "Meta Pivots To Closed-Source AI" in answer
    assert json.loads(answer)["response_type"] == "ephemeral"


def test_garbage_file_is_reported_and_blocks_nothing(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    poll_once(services)
    reply_text(slash(web_url, slack, "/signals", "subscribe all"))

    garbage = drop(signals_dir, "0-garbage.txt", os.urandom(2000))
    drop(signals_dir, "1-notes.txt", "just some notes\nnothing like a brief\n")
    drop(signals_dir, "2-brief.txt", SEED.read_text(encoding="utf-8"))
    poll_once(services)

    assert len(slack.calls("chat.postMessage")) == 1
    health = httpx.get(f"{web_url}/healthz").json()
    assert health["status"] == "degraded"
    (source,) = health["sources"]
    assert source["files_with_errors"] == 2
    assert any(f"{garbage}:" in error for error in source["file_errors"])
    assert all(":" in error.split("txt", 1)[1] for error in source["file_errors"]), "line numbers"


def test_mentions_in_a_brief_are_rendered_harmless(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    poll_once(services)
    reply_text(slash(web_url, slack, "/signals", "subscribe all"))

    hostile = SEED.read_text(encoding="utf-8").replace(
        "Meta Pivots To Closed-Source AI With 'Muse Spark'",
        "<!channel> Meta <@U0BOSS> <https://evil.example|Muse Spark>",
    )
    drop(signals_dir, "hostile.txt", hostile)
    poll_once(services)

    (post,) = slack.calls("chat.postMessage")
    payload = json.dumps([post.params["text"], post.params["blocks"]])
    assert "<!channel>" not in payload
    assert "<@U0BOSS>" not in payload
    assert "<https://evil.example" not in payload
    assert "&lt;!channel&gt;" in payload


def test_forged_and_stale_signatures_get_401(slack: FakeSlack, web_url: str) -> None:
    forged = slash(web_url, slack, "/signals", "help", secret="not-the-secret")
    stale = slash(web_url, slack, "/signals", "help", timestamp=int(time.time()) - 600)
    unsigned = httpx.post(f"{web_url}/slack/events", content=b"command=%2Fsignals&text=help")

    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "subscribe [FILTER]"),
        ("frobnicate", "frobnicate"),
        ('subscribe "unbalanced', "quote"),
        ("subscribe colour:red", "colour"),
        ("search", "look for"),
        ("search since:yesterday", "YYYY-MM-DD"),
        ("show", "show ID"),
        ("show nosuchid", "No brief"),
        ("unsubscribe 999", "no subscription"),
    ],
)
def test_malformed_commands_get_friendly_help(
    slack: FakeSlack, web_url: str, text: str, expected: str
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    answer = reply_text(slash(web_url, slack, "/signals", text))
    assert expected.lower() in answer.lower()


def test_private_channel_without_the_bot_says_invite_me_first(
    services: Services, slack: FakeSlack, web_url: str
) -> None:
    slack.add_channel("G0SECRET", "secret", private=True, member=False)

    answer = reply_text(slash(web_url, slack, "/signals", "subscribe all", channel="G0SECRET"))

    assert "invite me" in answer.lower()
    assert not slack.calls("conversations.join")
    listed = reply_text(slash(web_url, slack, "/signals", "list", channel="G0SECRET"))
    assert "subscribe" in listed.lower()  # the empty state: nothing was subscribed


def test_list_and_unsubscribe_by_filter_or_id(
    services: Services, slack: FakeSlack, web_url: str
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    reply_text(slash(web_url, slack, "/signals", "subscribe AI Advances"))
    reply_text(slash(web_url, slack, "/signals", "subscribe entity:Meta"))

    listed = reply_text(slash(web_url, slack, "/signals", "list"))
    assert "#1" in listed
    assert "#2" in listed

    gone = reply_text(slash(web_url, slack, "/signals", "unsubscribe ai-advances"))
    assert "Unsubscribed" in gone
    gone = reply_text(slash(web_url, slack, "/signals", "unsubscribe 2"))
    assert "Unsubscribed" in gone
    assert "#1" not in reply_text(slash(web_url, slack, "/signals", "list"))


def test_show_latest_and_help_answer(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    drop(signals_dir, "brief.txt", SEED.read_text(encoding="utf-8"))
    poll_once(services)
    with transaction(services.sessions) as session:
        assert count_signals(session) == 1

    latest = reply_text(slash(web_url, slack, "/signals", "latest topic:ai-advances"))
    assert "Muse Spark" in latest
    signal_id = only_stored_id(services)
    shown = reply_text(slash(web_url, slack, "/signals", f"show {signal_id}"))
    assert "AI Governance Impact" in shown
    helped = reply_text(slash(web_url, slack, "/signals", "help"))
    for usage in ("subscribe [FILTER]", "unsubscribe", "list", "search QUERY", "latest", "show ID"):
        assert usage in helped


def only_stored_id(services: Services) -> str:
    with transaction(services.sessions) as session:
        return session.scalars(select(StoredSignal.id)).one()


def test_healthz_reports_database_sources_and_slack(services: Services, web_url: str) -> None:
    poll_once(services)
    health = httpx.get(f"{web_url}/healthz").json()
    assert health["status"] == "ok"
    assert health["database"] is True
    assert health["slack"]["mode"] == "http"
    assert health["sources"][0]["name"] == "optyx"
    assert health["sources"][0]["last_poll_at"]


@pytest.mark.slow
def test_scheduler_polls_and_posts_without_being_asked(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    scheduler = build_scheduler(services)
    scheduler.start()
    try:
        wait_until(lambda: _primed(web_url), 30, "the first poll to prime the folder")
        reply_text(slash(web_url, slack, "/signals", "subscribe ai-advances"))
        drop(signals_dir, "brief.txt", SEED.read_text(encoding="utf-8"))
        slack.wait_for_calls("chat.postMessage", 1, timeout=10)
    finally:
        scheduler.shutdown(wait=True)
    assert len(slack.calls("chat.postMessage")) == 1


def _primed(web_url: str) -> bool:
    return bool(httpx.get(f"{web_url}/healthz").json()["sources"][0]["primed"])


@pytest.mark.parametrize("event_type", ["tokens_revoked", "app_uninstalled"])
def test_slack_removing_the_app_stops_sending_and_says_so(
    services: Services, web_url: str, event_type: str
) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event_id": "Ev0001",
            "event_time": int(time.time()),
            "event": {"type": event_type, "tokens": {"bot": ["UBOT"]}},
        }
    ).encode()
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/json"}

    response = httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)
    health = httpx.get(f"{web_url}/healthz").json()

    assert response.status_code == 200
    assert health["status"] == "degraded"
    assert health["slack"]["sending"] is False
    assert (
        "uninstalled" in health["slack"]["stopped_reason"]
        or "revoked" in (health["slack"]["stopped_reason"])
    )
