"""`format=compact` as a subscription option, end to end: the post holds title, provenance,
lede and the controls; the analysis goes in exactly one threaded reply; a revision edits both
in place and notes itself once. (The rendering in parts is bot.render / bot.deliver.parts.)"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from alerts_helpers import CHANNEL, USER, arrive, brief, deliver, slash
from fake_slack import FakeSlack

from bot.app import Services
from bot.deliver.clock import ManualClock
from bot.signal import Section

pytestmark = pytest.mark.manual_clock

SECTIONS = (
    Section("The News", "Meta shipped Muse Spark, its first closed-weight model."),
    Section("The OPTYX Analysis", "The open-weights era at Meta is over."),
    Section("AI Governance Impact", "Closed weights change who can audit the model."),
)


@pytest.fixture
def channel(slack: FakeSlack) -> str:
    slack.add_channel(CHANNEL, "alerts")
    slack.add_user(USER, tz="UTC")
    return CHANNEL


def analysed(title: str, **changes: object) -> object:
    return replace(brief(title), **{"sections": SECTIONS, **changes})


def top_and_replies(slack: FakeSlack, channel: str) -> list[tuple[dict, list[dict]]]:  # type: ignore[type-arg]
    messages = slack.messages(channel)
    tops = [m for m in messages if "thread_ts" not in m]
    return [(top, [m for m in messages if m.get("thread_ts") == top["ts"]]) for top in tops]


def test_compact_posts_the_lede_and_puts_the_analysis_in_one_threaded_reply(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    assert "compact (analysis in a thread)" in slash(web_url, slack, "subscribe all format=compact")

    arrive(services, clock, analysed("Muse Spark"))
    deliver(services)

    ((top, replies),) = top_and_replies(slack, channel)
    post = json.dumps(top["blocks"])
    assert "What happened: Muse Spark." in post
    assert not any(f"*{section.heading}*" in post for section in SECTIONS)
    assert top["blocks"][-1]["elements"][0]["action_id"].startswith("mute")
    (reply,) = replies
    assert all(f"*{section.heading}*" in json.dumps(reply["blocks"]) for section in SECTIONS)


def test_a_revised_compact_brief_is_edited_in_place_and_noted_once(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    slash(web_url, slack, "subscribe all format=compact")
    arrive(services, clock, analysed("Muse Spark"))
    deliver(services)

    revised = (Section(SECTIONS[0].heading, "Meta shipped Muse Spark, and a paper."), *SECTIONS[1:])
    arrive(services, clock, analysed("Muse Spark", sections=revised))
    deliver(services)
    deliver(services)

    ((top, replies),) = top_and_replies(slack, channel)
    analysis, *notes = replies
    assert "and a paper" in json.dumps(analysis["blocks"])
    assert "edited" in analysis
    assert "edited" in top
    assert len(notes) == 1
    assert len(slack.calls("chat.update")) == 2


def test_full_beats_compact_for_a_brief_matching_both(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, channel: str
) -> None:
    slash(web_url, slack, "subscribe all format=compact")
    slash(web_url, slack, "subscribe ai-advances")

    arrive(services, clock, analysed("Muse Spark"), analysed("Patch Tuesday", topic="Security"))
    deliver(services)

    posts = {
        top["blocks"][0]["text"]["text"]: replies
        for top, replies in top_and_replies(slack, channel)
    }
    assert set(posts) == {"Muse Spark", "Patch Tuesday"}
    assert posts["Muse Spark"] == []  # full: the analysis is in the post
    assert len(posts["Patch Tuesday"]) == 1  # compact: one threaded reply
