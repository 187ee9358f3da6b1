"""Long briefs reach Slack: a post plus threaded continuations, each within Slack's real limits,
each part posted exactly once (also across crashes), revised in place, with a fallback when
Slack refuses a rendering. Real Bolt, waitress, slack-sdk and database; Slack is the strict fake."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_slack import FakeSlack
from fake_slack_blocks import check_message, text_length
from long_briefs import (
    HEADINGS,
    assert_holds_every_word,
    brief_text,
    long_signal,
    part_number,
    part_sizes,
    section_bodies,
    thread_of,
)
from slack_sdk import WebClient
from sqlalchemy import update
from test_end_to_end import AI_CHANNEL, drop, poll_once, reply_text, slash
from test_search_slack import click

from bot.app import Services
from bot.cli import main
from bot.deliver import Deliverer
from bot.deliver.clock import ManualClock
from bot.deliver.outcome import DeliveryLimits, Outcome, Verdict
from bot.deliver.slack_poster import SlackPoster, signal_metadata
from bot.health import health_report
from bot.ingest import ingest
from bot.render import MESSAGE, Message
from bot.signal import Signal
from bot.store import outbox
from bot.store.db import transaction
from bot.store.models import Delivery
from bot.store.subscriptions import ChannelRef, add_subscription

BUDGET = MESSAGE.text_budget
LIMITS = DeliveryLimits(concurrency=4, pace_margin=1.0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC) + timedelta(seconds=1))


def deliverer_for(
    services: Services, clock: ManualClock, poster: SlackPoster | None = None
) -> Deliverer:
    assert services.slack_client is not None
    poster = poster or SlackPoster(services.slack_client)
    return Deliverer(services.sessions, poster, services.renderer, LIMITS, clock=clock)


def subscribe(services: Services, slack: FakeSlack, channel: str = "C1") -> None:
    slack.add_channel(channel, channel.lower())
    with transaction(services.sessions) as session:
        add_subscription(session, ChannelRef(channel_id=channel), "all")


def publish(services: Services, signal: Signal) -> None:
    with transaction(services.sessions) as session:
        ingest(session, [signal], announce=True)


def stored_row(services: Services) -> Delivery:
    with transaction(services.sessions) as session:
        (row,) = outbox.deliveries(session)
        session.expunge(row)
        return row


def deliver_until(services: Services, done: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "delivery did not finish in time"
        services.deliverer.deliver_pending()
        time.sleep(0.05)


def assert_parts_within_slack_limits(parts: list[dict[str, object]]) -> None:
    for part in parts:
        check_message(part, required=True)  # what the fake (and Slack) would refuse
        assert text_length(part["blocks"]) <= BUDGET  # type: ignore[operator]
        assert len(part["blocks"]) <= MESSAGE.blocks  # type: ignore[arg-type]


@pytest.mark.slow  # waits (by polling) for the channel pace before the revision
def test_a_35000_character_brief_arrives_as_a_post_and_threaded_replies_then_shrinks(
    services: Services, slack: FakeSlack, web_url: str, signals_dir: Path
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
    poll_once(services)
    # The four posts spent the channel's pace: the edit goes out once a token is back.
    deliver_until(services, lambda: stored_row(services).state == "sent")

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


def test_parts_a_dead_worker_posted_are_found_and_not_posted_again(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    subscribe(services, slack)
    signal = long_signal("k1", 40_000)
    publish(services, signal)
    deliverer = deliverer_for(services, clock)
    with transaction(services.sessions) as session:
        outbox.claim_due(session, limit=10, worker="dead-worker", now=clock.now())
    # The dead worker posted the post and its first reply, then died before recording them.
    rendered = services.renderer.render_brief(signal)
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    parent = client.chat_postMessage(
        channel="C1", metadata=signal_metadata("k1"), **rendered[0].as_kwargs()
    )["ts"]
    client.chat_postMessage(
        channel="C1", thread_ts=parent, metadata=signal_metadata("k1", 1), **rendered[1].as_kwargs()
    )

    assert deliverer.reconcile_stale_claims() == 1
    deliverer.deliver_pending()

    top, replies = thread_of(slack.messages("C1"))
    assert [part_number(m) for m in [top, *replies]] == list(range(len(rendered)))
    assert slack.calls("conversations.replies"), "the thread was read before posting into it"
    row = stored_row(services)
    assert (row.state, row.part_ts) == ("sent", [top["ts"], *(r["ts"] for r in replies)])


def test_a_rate_limit_midway_resumes_with_the_missing_parts_only(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    assert services.slack_client is not None
    subscribe(services, slack)
    signal = long_signal("k1", 40_000)
    publish(services, signal)
    posts: list[str] = []

    class LimitedAfterTwo(SlackPoster):
        def post(
            self,
            channel_id: str,
            message: Message,
            metadata: dict[str, object],
            thread_ts: str | None = None,
        ) -> Outcome:
            posts.append(channel_id)
            if len(posts) == 3:
                return Outcome(Verdict.RETRY, error="ratelimited", retry_after=5)
            return super().post(channel_id, message, metadata, thread_ts)

    deliverer = deliverer_for(services, clock, LimitedAfterTwo(services.slack_client))
    deliverer.deliver_pending()
    row = stored_row(services)
    assert (row.state, len(row.part_ts or [])) == ("pending", 2)

    clock.advance(10)
    deliverer.deliver_pending()

    top, replies = thread_of(slack.messages("C1"))
    expected = len(services.renderer.render_brief(signal))
    assert [part_number(m) for m in [top, *replies]] == list(range(expected))
    assert len(slack.calls("chat.postMessage")) == expected
    assert stored_row(services).state == "sent"


def test_compact_format_posts_the_lede_and_puts_every_section_in_the_thread(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    subscribe(services, slack)
    signal = long_signal("k1", 9_000)
    publish(services, signal)
    with transaction(services.sessions) as session:
        session.execute(update(Delivery).values(format="compact"))

    deliverer_for(services, clock).deliver_pending()

    top, replies = thread_of(slack.messages("C1"))
    assert "A long brief." in json.dumps(top["blocks"])
    assert not any(f"*{heading}*" in json.dumps(top["blocks"]) for heading in HEADINGS)
    assert top["blocks"][-1]["type"] == "actions", "the controls stay on the post"
    assert replies
    assert all(f"*{h}*" in json.dumps([r["blocks"] for r in replies]) for h in HEADINGS)
    assert_parts_within_slack_limits([top, *replies])
    assert_holds_every_word([top, *replies], [s.body for s in signal.sections])


def test_a_refused_rendering_sends_a_fallback_logs_and_counts_it(
    services: Services,
    slack: FakeSlack,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subscribe(services, slack)
    signal = long_signal("k1", 2_000)
    publish(services, signal)
    slack.fail_next("chat.postMessage", "msg_blocks_too_long", status=200, retry_after=None)

    deliverer_for(services, clock).deliver_pending()

    (fallback,) = slack.messages("C1")
    shown = json.dumps(fallback["blocks"])
    assert signal.title in shown
    assert "A long brief." in shown
    assert f"/signals show {stored_row(services).signal_id}" in shown
    assert fallback["metadata"] == signal_metadata("k1")
    row = stored_row(services)
    assert row.state == "sent"
    assert "msg_blocks_too_long" in (row.fallback_reason or "")
    assert any(
        row.signal_id in record.message and "characters of block text" in record.message
        for record in caplog.records
    )
    health = health_report(services)
    assert health["fallbacks"] == 1
    assert any("fallback" in reason for reason in health["reasons"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    assert main(["deliveries"]) == 0
    assert "fallbacks: 1" in capsys.readouterr().out

    assert main(["deliveries", "retry"]) == 0  # once the bug is fixed: rendered again, in place
    assert "rendering 1 deliveries sent as a fallback again" in capsys.readouterr().out
    deliverer_for(services, clock).deliver_pending()
    (fixed,) = slack.messages("C1")
    assert fixed["ts"] == fallback["ts"]
    assert "*The News*" in json.dumps(fixed["blocks"])
    assert stored_row(services).fallback_reason is None
    assert health_report(services)["fallbacks"] == 0


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


def test_a_refused_reply_is_replaced_by_the_fallback_and_the_thread_goes_on(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    assert services.slack_client is not None
    subscribe(services, slack)
    publish(services, long_signal("k1", 40_000))
    refused: list[int] = []

    class RefusesFirstReply(SlackPoster):
        def post(
            self,
            channel_id: str,
            message: Message,
            metadata: dict[str, object],
            thread_ts: str | None = None,
        ) -> Outcome:
            if thread_ts and not refused:
                refused.append(1)
                return Outcome(Verdict.FAIL, error="invalid_blocks")
            return super().post(channel_id, message, metadata, thread_ts)

    deliverer_for(services, clock, RefusesFirstReply(services.slack_client)).deliver_pending()

    top, replies = thread_of(slack.messages("C1"))
    assert "could not show this brief in full" in json.dumps(replies[0]["blocks"])
    assert [part_number(m) for m in [top, *replies]] == list(range(1 + len(replies)))
    assert len(replies) >= 3
    row = stored_row(services)
    assert row.state == "sent"
    assert (row.fallback_reason or "").startswith("invalid_blocks: part 2 of")


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


def test_a_revision_cut_short_by_a_rate_limit_finishes_with_one_note(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    assert services.slack_client is not None
    subscribe(services, slack)
    publish(services, long_signal("k1", 40_000))
    deliverer_for(services, clock).deliver_pending()
    revised = long_signal("k1", 40_000, seed=1)
    publish(services, revised)
    edits: list[str] = []

    class LimitedOnSecondEdit(SlackPoster):
        def edit(self, channel_id: str, ts: str, message: Message) -> Outcome:
            edits.append(ts)
            if len(edits) == 2:
                return Outcome(Verdict.RETRY, error="ratelimited", retry_after=5)
            return super().edit(channel_id, ts, message)

    deliverer = deliverer_for(services, clock, LimitedOnSecondEdit(services.slack_client))
    clock.advance(10)
    deliverer.deliver_pending()
    assert stored_row(services).state == "edit"
    clock.advance(10)
    deliverer.deliver_pending()

    top, replies = thread_of(slack.messages("C1"))
    parts = [reply for reply in replies if part_number(reply)]
    notes = [reply for reply in replies if "Revised" in reply["text"]]
    assert len(notes) == 1
    assert_holds_every_word([top, *parts], [section.body for section in revised.sections])
    assert stored_row(services).state == "sent"


def test_the_parts_of_a_long_brief_keep_to_the_channel_pace(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    assert services.slack_client is not None
    subscribe(services, slack)
    signal = long_signal("k1", 65_000)
    publish(services, signal)
    posted_at: list[float] = []

    class Timed(SlackPoster):
        def post(
            self,
            channel_id: str,
            message: Message,
            metadata: dict[str, object],
            thread_ts: str | None = None,
        ) -> Outcome:
            posted_at.append(clock.monotonic())
            return super().post(channel_id, message, metadata, thread_ts)

    report = deliverer_for(services, clock, Timed(services.slack_client)).deliver_pending()

    parts = len(services.renderer.render_brief(signal))
    assert parts >= 7
    assert len(posted_at) == parts
    # Three at a time (the burst), then each three once the channel's tokens are back at
    # 1/s: the first burst leaves 0 tokens (1 s to the next), each later one -2 (3 s).
    starts = [0.0, 1.0, *(1.0 + 3 * n for n in range(1, parts))]
    expected = [starts[number // 3] for number in range(parts)]
    assert [moment - posted_at[0] for moment in posted_at] == pytest.approx(expected, abs=0.05)
    assert report.counts["sent"] == 1
    assert report.counts["more"] >= 2
