"""Long briefs through the real Bolt app, waitress and slack-sdk: a 35,000-character brief
reaches a subscribed channel as a post plus threaded continuations, exactly once, and a
shortening revision removes the extra replies; `show ID` and Share of a long brief.
Slack is the strict fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_slack import FakeSlack
from long_briefs import (
    HEADINGS,
    assert_holds_every_word,
    assert_parts_within_slack_limits,
    brief_text,
    long_signal,
    part_number,
    part_sizes,
    section_bodies,
    stored_row,
    thread_of,
)
from test_end_to_end import AI_CHANNEL, drop, poll_once, reply_text, slash
from test_search_slack import click

from bot.app import Services
from bot.deliver.clock import ManualClock
from bot.ingest import ingest
from bot.store.db import transaction

# Delivery paces on the manual clock: the edit waits for the channel's next token without
# waiting in real time.
pytestmark = pytest.mark.manual_clock


def test_a_35000_character_brief_arrives_as_a_post_and_threaded_replies_then_shrinks(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path, clock: ManualClock
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    poll_once(services)  # primes the empty folder
    assert "subscribed" in reply_text(slash(web_url, slack, "/signals", "subscribe all"))
    bodies = section_bodies(35_000)
    drop(signals_dir, "long.txt", brief_text("long-1", bodies))
    assert len(brief_text("long-1", bodies)) >= 35_000

    poll_once(services)
    poll_once(services)  # nothing new: nothing posted again

    top, replies = thread_of(slack.messages(AI_CHANNEL))
    parts = [top, *replies]
    assert len(parts) == len(slack.calls("chat.postMessage")) >= 4
    assert [part_number(part) for part in parts] == list(range(len(parts)))
    assert_parts_within_slack_limits(parts)
    assert_holds_every_word(parts, bodies)
    texts = json.dumps([part["blocks"] for part in parts])
    assert all(f"*{heading}*" in texts for heading in HEADINGS)
    assert top["blocks"][0]["type"] == "header"
    assert stored_row(services).part_ts == [part["ts"] for part in parts]

    shorter = section_bodies(12_000, seed=1)
    drop(signals_dir, "long.txt", brief_text("long-1", shorter, lede="Meta revised it."))
    revised_at = clock.monotonic()
    poll_once(services)
    services.deliverer.deliver_pending()
    assert stored_row(services).state == "sent"
    assert clock.monotonic() > revised_at, "the posts spent the channel's pace: the edit waited"

    new_top, new_replies = thread_of(slack.messages(AI_CHANNEL))
    kept, note = new_replies[:-1], new_replies[-1]
    assert new_top["ts"] == top["ts"]
    assert [reply["ts"] for reply in kept] == [reply["ts"] for reply in replies[: len(kept)]]
    assert 1 <= len(kept) < len(replies)
    assert len(slack.calls("chat.delete")) == len(replies) - len(kept)
    assert len(slack.calls("chat.update")) == 1 + len(kept)
    assert "Revised:" in note["text"]
    assert "revision 2" in note["text"]
    assert_parts_within_slack_limits([new_top, *kept])
    assert_holds_every_word([new_top, *kept], shorter)
    assert stored_row(services).part_ts == [new_top["ts"], *(r["ts"] for r in kept)]
    print("35,000-character brief, parts (blocks, block text):", part_sizes(parts))


def test_show_of_a_long_brief_answers_in_several_messages_slack_accepts(
    services: Services, slack: FakeSlack, web_url: str
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    signal = long_signal("k1", 30_000)
    with transaction(services.sessions) as session:
        ingest(session, [signal], announce=False)
    expected = len(services.renderer.render_brief(signal))

    answer = slash(web_url, slack, "/signals", f"show {signal.id}")

    assert answer.status_code == 200
    shown = slack.wait_for_responses(expected, tag="cmd")
    assert len(shown) == expected >= 3
    assert_holds_every_word(shown, [section.body for section in signal.sections])
    assert_parts_within_slack_limits(shown)


def test_sharing_a_long_brief_posts_it_with_its_thread(
    services: Services, slack: FakeSlack, web_url: str
) -> None:
    slack.add_channel(AI_CHANNEL, "ai-news")
    signal = long_signal("k1", 30_000)
    with transaction(services.sessions) as session:
        ingest(session, [signal], announce=False)
    share = {"action_id": "share_brief_1", "type": "button", "value": signal.id}

    answer = click(web_url, slack, share)

    top, replies = thread_of(slack.messages(AI_CHANNEL))
    assert "Shared" in answer["text"]
    assert len(replies) == len(services.renderer.render_brief(signal)) - 1 >= 2
    assert_parts_within_slack_limits([top, *replies])
    assert_holds_every_word([top, *replies], [section.body for section in signal.sections])
