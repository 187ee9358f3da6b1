"""Digests end to end: signed commands into the real Bolt app, the real slack-sdk client, the
fake Slack on loopback, and an injected clock for the digest times (nothing waits for 08:00)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alerts_helpers import CHANNEL, USER, arrive, brief, deliver, slash, states
from conftest import START, run_cli
from fake_slack import FakeSlack
from sqlalchemy import select

from bot.app import Services
from bot.deliver import Deliverer
from bot.deliver.clock import ManualClock
from bot.deliver.digests import gather_due_digests, render_digest
from bot.deliver.slack_poster import SlackPoster, digest_metadata
from bot.store import digests
from bot.store.alert_models import Digest
from bot.store.db import transaction
from bot.store.models import Subscription

pytestmark = pytest.mark.manual_clock

NEW_YORK_8AM = START.replace(hour=13)  # 08:00 EST on Monday 7 January 2030


@pytest.fixture
def subscribed(services: Services, slack: FakeSlack, web_url: str) -> str:
    """#alerts takes every brief in a daily 08:00 digest, in the subscriber's zone."""
    slack.add_channel(CHANNEL, "alerts")
    slack.add_user(USER, tz="America/New_York")
    return slash(web_url, slack, "subscribe all digest=daily@08:00")


def at(clock: ManualClock, moment: object) -> None:
    clock.advance((moment - clock.now()).total_seconds())  # type: ignore[operator]


def digest_posts(slack: FakeSlack) -> list[dict[str, object]]:
    return [
        m for m in slack.messages(CHANNEL) if m["metadata"]["event_type"] == "signal_digest_posted"
    ]  # type: ignore[index]


def test_one_digest_per_period_lists_every_brief_grouped_by_topic(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    assert "daily digest at 08:00 (America/New_York)" in subscribed
    arrive(services, clock, brief("Muse Spark"), brief("Llama 5", minute=1))
    arrive(services, clock, brief("Patch Tuesday", entity="Microsoft", topic="Security"))
    deliver(services)
    assert slack.messages(CHANNEL) == []  # a digest subscription posts nothing as briefs arrive

    at(clock, NEW_YORK_8AM - timedelta(seconds=1))
    assert gather_due_digests(services.sessions, clock.now()) == 0
    at(clock, NEW_YORK_8AM + timedelta(seconds=5))
    assert gather_due_digests(services.sessions, clock.now()) == 1
    deliver(services)
    assert gather_due_digests(services.sessions, clock.now()) == 0
    deliver(services)

    (post,) = digest_posts(slack)
    blocks = post["blocks"]
    assert blocks[0]["text"]["text"] == "Digest · Mon 07 Jan, 08:00 America/New_York"  # type: ignore[index]
    texts = [block["text"]["text"] for block in blocks if block["type"] == "section"]  # type: ignore[index, union-attr, attr-defined]
    assert texts[0] == "*AI Advances*"
    assert texts[3] == "*Security*"
    assert texts[1].startswith("• Muse Spark")
    assert "Meta · PLATFORM RELEASE" in texts[1]
    assert texts[2].startswith("• Llama 5")
    assert texts[4].startswith("• Patch Tuesday")
    shows = [block["accessory"] for block in blocks if "accessory" in block]  # type: ignore[operator, index]
    assert [button["text"]["text"] for button in shows] == ["Show"] * 3
    assert len({button["action_id"] for button in shows}) == 3
    assert set(states(services).values()) == {"digested"}


def test_an_empty_period_posts_nothing_and_the_next_one_still_comes(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    at(clock, NEW_YORK_8AM + timedelta(minutes=1))
    assert gather_due_digests(services.sessions, clock.now()) == 0
    arrive(services, clock, brief("Muse Spark"))

    at(clock, NEW_YORK_8AM + timedelta(days=1, minutes=1))
    assert gather_due_digests(services.sessions, clock.now()) == 1
    deliver(services)

    (post,) = digest_posts(slack)
    assert post["blocks"][0]["text"]["text"] == "Digest · Tue 08 Jan, 08:00 America/New_York"  # type: ignore[index]


def test_a_worker_down_at_digest_time_sends_it_once_when_back(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    arrive(services, clock, brief("Muse Spark"))

    at(clock, NEW_YORK_8AM + timedelta(hours=2, minutes=30))  # back at 10:30
    queued = [gather_due_digests(services.sessions, clock.now()) for _ in range(3)]
    deliver(services)

    assert queued == [1, 0, 0]
    assert len(digest_posts(slack)) == 1
    with transaction(services.sessions) as session:
        subscription = session.scalars(select(Subscription)).one()
        assert subscription.next_digest_at == NEW_YORK_8AM + timedelta(days=1)


def test_several_workers_gather_and_send_each_digest_once(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    slack.add_channel("C0OTHER", "other")
    with transaction(services.sessions) as session:
        other = session.scalars(select(Subscription)).one()
        session.add(
            Subscription(
                channel_id="C0OTHER",
                filter="all",
                digest=other.digest,
                tz=other.tz,
                next_digest_at=other.next_digest_at,
            )
        )
    arrive(services, clock, brief("Muse Spark"), brief("Patch Tuesday", topic="Security"))
    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    poster = SlackPoster(services.slack_client)  # type: ignore[arg-type]
    workers = [services.deliverer] + [
        Deliverer(services.sessions, poster, services.renderer, clock=clock, worker=f"w{n}")
        for n in range(2)
    ]

    def work(deliverer: Deliverer) -> None:
        gather_due_digests(services.sessions, clock.now())
        deliverer.deliver_pending()

    threads = [threading.Thread(target=work, args=[deliverer]) for deliverer in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for deliverer in workers:
        deliverer.deliver_pending()

    assert len(digest_posts(slack)) == 1
    assert len(slack.messages("C0OTHER")) == 1
    with transaction(services.sessions) as session:
        assert digests.count_by_state(session) == {"sent": 2}


def test_a_digest_whose_worker_was_killed_after_posting_is_not_posted_again(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    arrive(services, clock, brief("Muse Spark"))
    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    gather_due_digests(services.sessions, clock.now())
    with transaction(services.sessions) as session:  # a worker claims it, posts, and is killed
        (claimed,) = digests.claim_due(session, limit=10, worker="killed", now=clock.now())
    SlackPoster(services.slack_client).post(  # type: ignore[arg-type]
        CHANNEL, render_digest(services.renderer, claimed), digest_metadata(claimed.key)
    )

    services.deliverer.reconcile_stale_claims()
    deliver(services)

    assert len(digest_posts(slack)) == 1
    with transaction(services.sessions) as session:
        row = session.scalars(select(Digest)).one()
        assert (row.state, row.message_ts) == ("sent", slack.messages(CHANNEL)[0]["ts"])


def test_a_brief_muted_before_its_digest_is_left_out(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, subscribed: str
) -> None:
    arrive(services, clock, brief("Muse Spark"), brief("Patch Tuesday", entity="Microsoft"))
    slash(web_url, slack, "mute entity:Meta for 1w")

    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    gather_due_digests(services.sessions, clock.now())
    deliver(services)

    (post,) = digest_posts(slack)
    assert "Patch Tuesday" in str(post["blocks"])
    assert "Muse Spark" not in str(post["blocks"])
    assert states(services)[f"Muse Spark@{CHANNEL}"] == "muted"


def test_digest_and_post_of_one_channel_overlap_once_the_post_wins(
    services: Services, slack: FakeSlack, web_url: str, clock: ManualClock, subscribed: str
) -> None:
    slash(web_url, slack, "subscribe ai-advances")
    arrive(services, clock, brief("Muse Spark"), brief("Patch Tuesday", topic="Security"))
    deliver(services)
    assert [m["blocks"][0]["text"]["text"] for m in slack.messages(CHANNEL)] == ["Muse Spark"]

    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    gather_due_digests(services.sessions, clock.now())
    deliver(services)

    (post,) = digest_posts(slack)
    assert "Patch Tuesday" in str(post["blocks"])
    assert "Muse Spark" not in str(post["blocks"])
    assert len(slack.messages(CHANNEL)) == 2


def test_a_period_too_long_for_one_message_continues_in_a_second_one(
    services: Services, slack: FakeSlack, clock: ManualClock, subscribed: str
) -> None:
    titles = [f"Brief number {n:02d}" for n in range(60)]
    arrive(services, clock, *[brief(title, minute=n) for n, title in enumerate(titles)])

    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    assert gather_due_digests(services.sessions, clock.now()) == 2
    deliver(services)

    posts = digest_posts(slack)
    assert [post["blocks"][0]["text"]["text"] for post in posts] == [  # type: ignore[index]
        "Digest · Mon 07 Jan, 08:00 America/New_York · part 1 of 2",
        "Digest · Mon 07 Jan, 08:00 America/New_York · part 2 of 2",
    ]
    listed = " ".join(str(post["blocks"]) for post in posts)
    assert all(listed.count(f"• {title}") == 1 for title in titles)
    assert all(len(post["blocks"]) <= 50 for post in posts)  # type: ignore[arg-type]


def test_a_failed_digest_is_sent_again_by_deliveries_retry(
    services: Services,
    slack: FakeSlack,
    clock: ManualClock,
    subscribed: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arrive(services, clock, brief("Muse Spark"))
    at(clock, NEW_YORK_8AM + timedelta(seconds=1))
    gather_due_digests(services.sessions, clock.now())
    slack.fail_next("chat.postMessage", error="channel_is_weird", status=200, retry_after=None)
    deliver(services)
    assert digest_posts(slack) == []
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url.get_secret_value())

    assert "digests: 1 failed" in run_cli(capsys, "deliveries")[1]
    assert "re-queued 1 failed digests" in run_cli(capsys, "deliveries", "retry")[1]
    deliver(services)

    assert len(digest_posts(slack)) == 1
