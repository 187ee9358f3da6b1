"""Search through Slack, end to end: signed `/brief` requests and signed `block_actions` clicks
into the real Bolt app over HTTP, answers through the fake Slack's response_url."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from conftest import SIGNING_SECRET
from fake_slack import FakeSlack
from search_corpus import CORPUS, brief
from slack_signing import block_actions_body, sign, slash_command_body

from bot import slack_app
from bot.app import Services
from bot.commands import Reply
from bot.search import count_signals
from bot.store.db import transaction
from bot.store.signals import upsert_signals

CHANNEL = "C0AI"
MODEL_BRIEFS = [brief(f"Model update number {n}", n, entity="Meta") for n in range(12)]


@pytest.fixture
def stored(services: Services) -> None:
    with transaction(services.sessions) as session:
        upsert_signals(session, [s.keyed("optyx") for s in [*CORPUS[:16], *MODEL_BRIEFS]])


def post(web_url: str, body: bytes) -> httpx.Response:
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)


def brief_command(web_url: str, slack: FakeSlack, text: str) -> dict[str, Any]:
    body = slash_command_body(
        "/brief",
        text,
        channel_id=CHANNEL,
        channel_name="ai-news",
        response_url=slack.response_url("cmd"),
    )
    response = post(web_url, body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def click(
    web_url: str,
    slack: FakeSlack,
    button: dict[str, Any],
    *,
    user: str = "U123",
    tag: str = "click",
) -> dict[str, Any]:
    """Click a button of an ephemeral message; return what the app sent to response_url."""
    answered = len(slack.responses(tag))
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake-team"},
        "user": {"id": user, "username": f"user-{user.lower()}", "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
        "channel": {"id": CHANNEL, "name": "ai-news"},
        "response_url": slack.response_url(tag),
        "actions": [{**button, "block_id": "b", "action_ts": "1.2"}],
    }
    response = post(web_url, block_actions_body(payload))
    assert response.status_code == 200, response.text
    return slack.wait_for_responses(answered + 1, tag=tag)[-1]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every button of a message by action_id (in actions blocks and section accessories)."""
    found = {}
    for block in message["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        for element in [*elements, block.get("accessory") or {}]:
            if element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def as_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


# --- malformed input ----------------------------------------------------------------------------


MALFORMED = [
    ("", "Say what to look for"),
    ('"muse spark', "closing quote"),
    ("muse - spark", "no space"),
    ("*", "secur*"),
    ("-", "no space"),
    ("since:yesterday", "YYYY-MM-DD"),
    ("colour:red", "`colour:`"),
    ("title:x OR 1=1", "`title:`"),
    ("!!! &&", "nothing to search for"),
    ("x" * 10_240, "limit is 500"),
    (" ".join(["w"] * 41), "more than 40 terms"),
]
MUSE = "Meta Pivots To Closed-Source AI With 'Muse Spark'"
TOKYO = "東京 data centre expansion"
# Other languages' operators are plain words (which every result must hold) or punctuation.
FOREIGN_SYNTAX = {
    "NEAR(muse spark)": None,  # no brief holds the word "near"
    "muse AND OR NOT": None,
    "'; DROP TABLE signals; --": None,
    "muse^ (spark": MUSE,
    '" OR ""="': None,
    "\x00 %_ muse \\ _%": MUSE,
    "東京*": TOKYO,
    "{title}: muse": None,  # "title" is just a word here, and no brief holds it
}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The Slack layer is the same over either database (see test_search_parity): SQLite here."""
    return sqlite_url


def test_malformed_queries_get_a_friendly_ephemeral_answer(slack: FakeSlack, web_url: str) -> None:
    for text, explained in MALFORMED:
        answer = brief_command(web_url, slack, text)
        assert answer["response_type"] == "ephemeral", text
        assert explained in as_text(answer), text
        assert slack_app.SOMETHING_WENT_WRONG not in as_text(answer), text


@pytest.mark.usefixtures("stored")
def test_syntax_of_other_languages_is_just_text(
    services: Services, slack: FakeSlack, web_url: str
) -> None:
    answers = {text: brief_command(web_url, slack, text) for text in FOREIGN_SYNTAX}

    for text, title in FOREIGN_SYNTAX.items():
        answer = answers[text]
        assert answer["response_type"] == "ephemeral", text
        if title is None:
            assert answer["text"].startswith("No briefs match"), text
        else:
            assert answer["text"].startswith("1 brief matches"), text
            assert title in as_text(answer), text
    with transaction(services.sessions) as session:
        assert count_signals(session) == 16 + len(MODEL_BRIEFS), "nothing was dropped"


# --- results, paging, show, share ---------------------------------------------------------------


@pytest.mark.usefixtures("stored")
def test_results_page_forward_and_back_in_the_same_message(slack: FakeSlack, web_url: str) -> None:
    first = brief_command(web_url, slack, "model update")
    assert first["text"].startswith("12 briefs match")
    assert "showing 1–5" in first["text"]

    second = click(web_url, slack, buttons(first)["search_next"])
    assert second["replace_original"] is True
    assert "showing 6–10" in second["text"]
    assert {"search_next", "search_previous", "show_brief_6", "share_brief_10"} <= set(
        buttons(second)
    )

    third = click(web_url, slack, buttons(second)["search_next"])
    assert "showing 11–12" in third["text"]
    assert "search_next" not in buttons(third)

    back = click(web_url, slack, buttons(third)["search_previous"])
    assert back["replace_original"] is True
    assert "showing 6–10" in back["text"]
    assert as_text(back) == as_text(second)


@pytest.mark.usefixtures("stored")
def test_latest_pages_as_latest(slack: FakeSlack, web_url: str) -> None:
    body = slash_command_body(
        "/signals", "latest entity:meta", channel_id=CHANNEL, response_url=slack.response_url("cmd")
    )
    first = post(web_url, body).json()
    assert first["text"].startswith("Latest briefs for “entity:meta”")
    second = click(web_url, slack, buttons(first)["search_next"])
    assert "showing 6–10" in second["text"]


@pytest.mark.usefixtures("stored")
def test_show_answers_with_the_whole_brief(slack: FakeSlack, web_url: str) -> None:
    results = brief_command(web_url, slack, "muse spark")
    shown = click(web_url, slack, buttons(results)["show_brief_1"])
    assert shown["replace_original"] is False
    assert shown.get("response_type", "ephemeral") == "ephemeral"
    assert shown["blocks"][0]["type"] == "header"
    assert "Muse Spark" in shown["blocks"][0]["text"]["text"]


@pytest.mark.usefixtures("stored")
def test_share_posts_in_the_channel_once(slack: FakeSlack, web_url: str) -> None:
    slack.add_channel(CHANNEL, "ai-news")
    results = brief_command(web_url, slack, "muse spark")
    share = buttons(results)["share_brief_1"]

    first = click(web_url, slack, share)
    again = click(web_url, slack, share)
    someone_else = click(web_url, slack, share, user="U999")

    (posted,) = slack.calls("chat.postMessage")
    assert posted.params["channel"] == CHANNEL
    assert "Muse Spark" in posted.params["blocks"][0]["text"]["text"]
    assert posted.params["metadata"]["event_type"] == "signal_shared"
    assert "Shared" in first["text"]
    assert first["replace_original"] is False
    assert "already shared" in again["text"]
    assert "already shared" in someone_else["text"]


@pytest.mark.usefixtures("stored")
def test_share_that_slack_refuses_can_be_tried_again(slack: FakeSlack, web_url: str) -> None:
    slack.add_channel(CHANNEL, "ai-news")
    share = buttons(brief_command(web_url, slack, "muse spark"))["share_brief_1"]
    slack.fail_next("chat.postMessage", error="msg_too_long", status=200, retry_after=None)

    refused = click(web_url, slack, share)
    retried = click(web_url, slack, share)

    assert "couldn't share" in refused["text"]
    assert "msg_too_long" in refused["text"]
    assert "Shared" in retried["text"]
    assert len(slack.messages(CHANNEL)) == 1


def test_forged_button_values_get_an_answer_not_an_error(slack: FakeSlack, web_url: str) -> None:
    for value in ("not json", '{"offset": "x"}', '{"query_text": "\\"", "offset": 5}', ""):
        answer = click(
            web_url, slack, {"action_id": "search_next", "type": "button", "value": value}
        )
        assert slack_app.SOMETHING_WENT_WRONG not in as_text(answer)
    missing = click(
        web_url, slack, {"action_id": "share_brief_1", "type": "button", "value": "nope"}
    )
    assert "no longer stored" in missing["text"]


# --- inside Slack's three seconds ---------------------------------------------------------------


@pytest.mark.usefixtures("stored")
def test_a_slow_search_acks_then_answers_through_response_url(
    services: Services, slack: FakeSlack, web_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked = threading.Event()
    real_brief = services.commands.brief

    def slow_brief(text: str, where: Any) -> Reply:
        # The answer is ready only after Slack got its ack (a deadline, not a margin).
        assert acked.wait(timeout=60), "the ack never came"
        return real_brief(text, where)

    monkeypatch.setattr(slack_app, "ANSWER_BUDGET_SECONDS", 0.05)
    monkeypatch.setattr(services.commands, "brief", slow_brief)

    ack = brief_command(web_url, slack, "muse spark")
    acked.set()

    assert "Working on it" in ack["text"]
    (answer,) = slack.wait_for_responses(1, tag="cmd")
    assert "Muse Spark" in as_text(answer)


@pytest.mark.usefixtures("stored")
def test_a_stuck_search_does_not_hold_up_the_next_command(
    services: Services, slack: FakeSlack, web_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck, release, stuck_finished = threading.Event(), threading.Event(), threading.Event()
    real_brief = services.commands.brief

    def brief(text: str, where: Any) -> Reply:
        if text == "stuck":
            stuck.set()
            release.wait(timeout=30)
            stuck_finished.set()
        return real_brief(text, where)

    monkeypatch.setattr(services.commands, "brief", brief)
    first = threading.Thread(target=brief_command, args=(web_url, slack, "stuck"), daemon=True)
    first.start()
    try:
        assert stuck.wait(timeout=10)
        answer = brief_command(web_url, slack, "muse spark")
        assert "Muse Spark" in as_text(answer)
        assert not stuck_finished.is_set()  # answered while the other command still ran
    finally:
        release.set()
        first.join(timeout=10)
