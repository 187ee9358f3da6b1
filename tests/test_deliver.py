"""Delivery scenarios: the real Deliverer and slack-sdk client against the fake Slack on
loopback, on SQLite and PostgreSQL, with a manual clock (pacing and retries cost no real time)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack
from slack_sdk import WebClient
from sqlalchemy import select

from bot.app import Services
from bot.cli import main
from bot.deliver import Deliverer
from bot.deliver.clock import ManualClock
from bot.deliver.outcome import DeliveryLimits, Outcome
from bot.deliver.pacing import Pace
from bot.deliver.slack_poster import SlackPoster, signal_metadata
from bot.health import health_report
from bot.ingest import ingest
from bot.render import Message
from bot.signal import Section, Signal
from bot.store import outbox
from bot.store.db import transaction
from bot.store.models import Delivery, Subscription
from bot.store.subscriptions import ChannelRef, add_subscription
from bot.terminal import message_to_text

pytestmark = pytest.mark.manual_clock  # one clock for the services and the Deliverer

PUBLISHED = datetime(2026, 4, 23, 9, tzinfo=UTC)
LIMITS = DeliveryLimits(concurrency=8, pace_margin=1.0, auth_check_every=timedelta(minutes=1))


@pytest.fixture
def deliverer(services: Services, clock: ManualClock) -> Deliverer:
    return make_deliverer(services, clock)


def make_deliverer(
    services: Services, clock: ManualClock, limits: DeliveryLimits = LIMITS, **poster: Any
) -> Deliverer:
    assert services.slack_client is not None
    slack_poster = poster.get("poster") or SlackPoster(services.slack_client)
    return Deliverer(services.sessions, slack_poster, services.renderer, limits, clock=clock)


def subscribe(services: Services, slack: FakeSlack, *channels: str, **flags: bool) -> None:
    with transaction(services.sessions) as session:
        for channel in channels:
            slack.add_channel(channel, channel.lower(), **flags)
            add_subscription(session, ChannelRef(channel_id=channel), "all")


def brief(key: str, *, minutes: int = 0, **changes: Any) -> Signal:
    fields: dict[str, Any] = {
        "title": f"Brief {key}",
        "published": PUBLISHED + timedelta(minutes=minutes),
        "key": key,
        "topic": "AI Advances",
        "summary": "The first version.",
        "sections": (Section("The News", "It shipped."),),
    }
    return Signal(**(fields | changes)).keyed("optyx")


def publish(services: Services, *signals: Signal) -> None:
    with transaction(services.sessions) as session:
        ingest(session, list(signals), announce=True)


def keys_in(slack: FakeSlack, channel: str) -> list[str]:
    """The signal keys of the channel's top-level messages, oldest first."""
    return [
        m["metadata"]["event_payload"]["signal_key"]
        for m in slack.messages(channel)
        if "thread_ts" not in m
    ]


def rows(services: Services) -> dict[str, Delivery]:
    with transaction(services.sessions) as session:
        return {row.channel_id: row for row in session.scalars(select(Delivery))}


def posts_to(slack: FakeSlack, channel: str) -> int:
    return sum(1 for call in slack.calls("chat.postMessage") if call.params["channel"] == channel)


def test_one_brief_fans_out_to_every_channel_once(
    services: Services, slack: FakeSlack, deliverer: Deliverer
) -> None:
    channels = [f"C{n:02d}" for n in range(30)]
    subscribe(services, slack, *channels)
    publish(services, brief("k1"))

    report = deliverer.deliver_pending()

    assert report.counts == {"sent": 30}
    assert all(keys_in(slack, channel) == ["k1"] for channel in channels)
    assert {row.state for row in rows(services).values()} == {"sent"}
    assert all(row.message_ts for row in rows(services).values())
    assert slack.calls("chat.postMessage")[0].params["metadata"] == signal_metadata("k1")


def test_channels_get_briefs_in_published_order_paced_per_channel(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    subscribe(services, slack, "C1", "C2")
    publish(services, brief("late", minutes=30), brief("early", minutes=0))
    publish(services, *(brief(f"m{n}", minutes=n + 1) for n in range(4)))
    limits = replace(LIMITS, channel_pace=Pace(per_second=1.0, burst=3))

    make_deliverer(services, clock, limits).deliver_pending()

    expected = ["early", "m0", "m1", "m2", "m3", "late"]
    assert keys_in(slack, "C1") == keys_in(slack, "C2") == expected
    # Three at once, then one a second: the clock moved (by sleeping) for the other three.
    assert clock.monotonic() == pytest.approx(3, abs=0.2)


def test_a_429_holds_only_its_channel_until_retry_after(
    services: Services, slack: FakeSlack, deliverer: Deliverer, clock: ManualClock
) -> None:
    channels = [f"C{n}" for n in range(6)]
    subscribe(services, slack, *channels)
    publish(services, brief("k1"))
    slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)

    deliverer.deliver_pending()

    (held,) = [row for row in rows(services).values() if row.state != "sent"]
    assert (held.state, held.rate_limited, held.attempts) == ("pending", 1, 0)
    assert all(keys_in(slack, c) == ["k1"] for c in channels if c != held.channel_id)
    assert posts_to(slack, held.channel_id) == 1, "nothing more before Retry-After"

    clock.advance(20)  # the run lingers (and sleeps on the clock) only for posts due within 3 s
    deliverer.deliver_pending()
    assert posts_to(slack, held.channel_id) == 1
    clock.advance(8)
    deliverer.deliver_pending()
    assert keys_in(slack, held.channel_id) == ["k1"]


def test_server_errors_back_off_fail_and_are_retried_by_command(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    subscribe(services, slack, "C1")
    publish(services, brief("k1"))
    slack.fail_next("chat.postMessage", "internal_error", status=500, retry_after=None, times=3)
    limits = replace(LIMITS, max_attempts=3)
    deliverer = make_deliverer(services, clock, limits)

    for _attempt in range(3):
        deliverer.deliver_pending()
        clock.advance(limits.max_backoff.total_seconds())

    failed = rows(services)["C1"]
    assert (failed.state, failed.attempts) == ("failed", 3)
    assert (failed.last_error or "").startswith(outbox.UNCONFIRMED + "internal_error")
    with transaction(services.sessions) as session:
        assert outbox.retry_failed(session, now=clock.now()) == 1
    deliverer.deliver_pending()

    assert keys_in(slack, "C1") == ["k1"]
    assert slack.calls("conversations.history"), "a 500 may have posted: history checked first"


def test_an_archived_channel_pauses_after_one_post_and_the_rest_keep_receiving(
    services: Services, slack: FakeSlack, deliverer: Deliverer
) -> None:
    subscribe(services, slack, "C1", "C2", "C3")
    subscribe(services, slack, "CARCHIVED", archived=True)
    publish(services, brief("k1"))
    deliverer.deliver_pending()

    assert rows(services)["CARCHIVED"].state == "paused"
    assert posts_to(slack, "CARCHIVED") == 1
    with transaction(services.sessions) as session:
        paused = session.scalars(select(Subscription.paused_reason)).all()
    assert sorted(map(str, paused)) == ["None", "None", "None", "the channel is archived"]
    listing = services.commands.signals("list", ChannelRef(channel_id="CARCHIVED"))
    assert "the channel is archived" in message_to_text(listing.message)

    publish(services, brief("k2", minutes=1))
    deliverer.deliver_pending()
    assert all(keys_in(slack, c) == ["k1", "k2"] for c in ("C1", "C2", "C3"))
    assert posts_to(slack, "CARCHIVED") == 1


def test_not_in_channel_joins_a_public_channel_and_pauses_a_private_one(
    services: Services, slack: FakeSlack, deliverer: Deliverer
) -> None:
    subscribe(services, slack, "CPUBLIC", member=False)
    subscribe(services, slack, "GPRIVATE", member=False, private=True)
    publish(services, brief("k1"))

    deliverer.deliver_pending()

    assert keys_in(slack, "CPUBLIC") == ["k1"]
    private = rows(services)["GPRIVATE"]
    assert (private.state, private.last_error) == ("paused", "not_in_channel")
    listing = services.commands.signals("list", ChannelRef(channel_id="GPRIVATE"))
    assert "invite" in message_to_text(listing.message).lower()


def test_a_refused_token_stops_sending_says_so_and_resumes_when_fixed(
    services: Services, slack: FakeSlack, deliverer: Deliverer, clock: ManualClock
) -> None:
    subscribe(services, slack, *(f"C{n}" for n in range(20)))
    publish(services, brief("k1"))
    slack.set_auth_error("token_revoked")

    deliverer.deliver_pending()
    tried = len(slack.calls("chat.postMessage"))
    deliverer.deliver_pending()

    assert tried <= LIMITS.concurrency, "no new claims once Slack refused the token"
    assert len(slack.calls("chat.postMessage")) == tried
    assert {(r.state, r.attempts) for r in rows(services).values()} == {("pending", 0)}
    health = health_report(services)
    assert health["status"] == "degraded"
    assert health["slack"]["sending"] is False
    assert "token_revoked" in health["slack"]["stopped_reason"]

    slack.set_auth_error(None)
    deliverer.deliver_pending()
    assert len(slack.calls("chat.postMessage")) == tried, "the token is checked once a minute"
    clock.advance(61)
    deliverer.deliver_pending()
    assert {row.state for row in rows(services).values()} == {"sent"}
    assert health_report(services)["slack"]["sending"] is True


def test_a_revised_brief_is_edited_in_place_with_a_threaded_note(
    services: Services, slack: FakeSlack, deliverer: Deliverer
) -> None:
    subscribe(services, slack, "C1", "C2")
    publish(services, brief("k1"))
    deliverer.deliver_pending()
    first_ts = {c: slack.messages(c)[0]["ts"] for c in ("C1", "C2")}

    publish(services, brief("k1", summary="The corrected version."))
    deliverer.deliver_pending()

    for channel in ("C1", "C2"):
        top, note = slack.messages(channel)
        assert top["ts"] == first_ts[channel]
        assert "The corrected version." in top["text"] + str(top["blocks"])
        assert "edited" in top
        assert note["thread_ts"] == top["ts"]
        assert "Revised: the summary changed (revision 2)" in note["text"]
    assert len(slack.calls("chat.update")) == 2
    assert {(r.state, r.posted_revision) for r in rows(services).values()} == {("sent", 2)}


def test_a_revision_that_lands_while_posting_is_edited_right_after(
    services: Services, slack: FakeSlack, clock: ManualClock
) -> None:
    assert services.slack_client is not None
    subscribe(services, slack, "C1")
    publish(services, brief("k1"))

    class RevisedMidPost(SlackPoster):
        def post(self, channel_id: str, message: Message, metadata: dict[str, object]) -> Outcome:
            publish(services, brief("k1", title="Brief k1, corrected"))
            return super().post(channel_id, message, metadata)

    poster = RevisedMidPost(services.slack_client)
    make_deliverer(services, clock, poster=poster).deliver_pending()

    (top, note) = slack.messages("C1")
    assert "corrected" in top["text"]
    assert "the title" in note["text"]


def test_a_post_a_dead_worker_made_is_found_in_history_not_sent_again(
    services: Services, slack: FakeSlack, deliverer: Deliverer
) -> None:
    subscribe(services, slack, "C1", "C2", "C3")
    publish(services, brief("k1"))
    with transaction(services.sessions) as session:
        outbox.claim_due(session, limit=10, worker="dead-worker", now=deliverer.clock.now())
    # The dead worker got its post to C1 out before it died; C2 and C3 never left.
    WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(
        channel="C1", text="brief", metadata=signal_metadata("k1")
    )

    assert deliverer.reconcile_stale_claims() == 3
    deliverer.deliver_pending()

    assert [keys_in(slack, c) for c in ("C1", "C2", "C3")] == [["k1"]] * 3
    history = slack.calls("conversations.history")
    assert sorted(call.params["channel"] for call in history) == ["C1", "C2", "C3"]
    assert all(call.params["include_all_metadata"] in (True, "1", "true") for call in history)
    assert {row.state for row in rows(services).values()} == {"sent"}


def test_failed_deliveries_are_listed_and_retried_from_the_command_line(
    services: Services,
    slack: FakeSlack,
    deliverer: Deliverer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subscribe(services, slack, "C1", "C2")
    publish(services, brief("k1"))
    slack.fail_next("chat.postMessage", "invalid_arguments", status=200, retry_after=None)
    deliverer.deliver_pending()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url.get_secret_value())

    assert main(["deliveries"]) == 0
    listed = capsys.readouterr().out
    assert "deliveries: 1 failed, 1 sent" in listed
    assert "failed: `signal-bot deliveries retry` sends them again" in listed
    assert "invalid_arguments" in listed

    assert main(["deliveries", "retry"]) == 0
    assert "re-queued 1 failed deliveries" in capsys.readouterr().out
    deliverer.deliver_pending()
    assert keys_in(slack, "C1") == keys_in(slack, "C2") == ["k1"]
