"""Real worker processes against one real database and the fake Slack on loopback: a worker
killed with SIGKILL mid fan-out, and three workers sharing 1,000 deliveries on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import BOT_TOKEN, SIGNING_SECRET, http_mode_settings, wait_until
from fake_slack import FakeSlack
from sqlalchemy import func, select
from test_deliver import brief, keys_in, publish, subscribe

from bot.app import Services, build_services
from bot.store import outbox
from bot.store.db import transaction
from bot.store.leases import PRESENCE_PREFIX, Lease
from bot.store.models import Delivery

# `signal-bot worker`, with the test's timings: leases of 2 s instead of 30 s.
WORKER = """
import os, signal, threading
from datetime import timedelta
from bot.app import build_services
from bot.config import Settings
from bot.deliver.outcome import DeliveryLimits
from bot.deliver.pacing import Pace
from bot.jobs import WorkerTiming, build_scheduler

limits = DeliveryLimits(
    concurrency=8, channel_pace=Pace(100, 10),
    workspace_per_minute=float(os.environ.get("TEST_POSTS_PER_MINUTE", "1e6")),
    worker_timeout=timedelta(seconds=2),
)
timing = WorkerTiming(
    lease_ttl=timedelta(seconds=2), deliver_every=timedelta(seconds=0.2),
    reconcile_every=timedelta(seconds=0.5),
)
services = build_services(Settings(), delivery_limits=limits)
scheduler = build_scheduler(services, timing)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
scheduler.start()
while not stop.wait(0.25):  # a signal landing on another thread needs the main one awake
    pass
scheduler.shutdown()
"""


@contextmanager
def workers(
    services: Services,
    slack: FakeSlack,
    folder: Path,
    count: int,
    *,
    posts_per_minute: float = 1e6,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes; stopped (SIGTERM) afterwards, their logs shown on failure."""
    settings = services.settings
    environment = {
        **os.environ,
        "TEST_POSTS_PER_MINUTE": str(posts_per_minute),
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_BOT_CONFIG": str(settings.signal_bot_config),
    }
    started = []
    for n in range(count):
        log = (folder / f"worker-{n}.log").open("wb")
        started.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                cwd=folder,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(timeout=20)
        for log_file in sorted(folder.glob("worker-*.log")):
            print(f"--- {log_file.name}\n{log_file.read_text(errors='replace')[-4000:]}")


def states(services: Services) -> dict[str, int]:
    with transaction(services.sessions) as session:
        return outbox.count_by_state(session)


def all_sent(services: Services, total: int) -> Callable[[], bool]:
    return lambda: states(services).get("sent", 0) == total


@pytest.mark.slow
def test_a_worker_killed_mid_fan_out_leaves_every_channel_with_the_brief_once(
    services: Services, slack: FakeSlack, tmp_path: Path
) -> None:
    channels = [f"C{n:02d}" for n in range(60)]
    subscribe(services, slack, *channels)
    publish(services, brief("k1"))
    # Posts are stored at once but answered only after the kill: it lands mid fan-out, however
    # late it comes.
    slack.hold_answers("chat.postMessage")

    with workers(services, slack, tmp_path, 1) as (first,):
        slack.wait_for_calls("chat.postMessage", 10, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    slack.release_answers("chat.postMessage")
    posted_but_unsettled = [
        row.channel_id
        for row in rows_in(services, "sending")
        if keys_in(slack, row.channel_id) == ["k1"]
    ]
    assert posted_but_unsettled, "the kill landed while posts were in flight"

    with workers(services, slack, tmp_path, 1):
        wait_until(all_sent(services, len(channels)), 30, "every delivery settled as sent")

    assert [keys_in(slack, channel) for channel in channels] == [["k1"]] * len(channels)
    looked_up = {call.params["channel"] for call in slack.calls("conversations.history")}
    assert set(posted_but_unsettled) <= looked_up


def rows_in(services: Services, state: str) -> list[Delivery]:
    with transaction(services.sessions) as session:
        return list(session.scalars(select(Delivery).where(Delivery.state == state)))


@pytest.fixture
def postgres_services(
    postgres_url: str, slack: FakeSlack, sources_file: Path
) -> Iterator[Services]:
    built = build_services(http_mode_settings(postgres_url, slack, sources_file))
    yield built
    built.engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_share_1000_deliveries_each_made_exactly_once_in_order(
    postgres_services: Services, slack: FakeSlack, tmp_path: Path
) -> None:
    services = postgres_services
    channels = [f"C{n:03d}" for n in range(250)]
    subscribe(services, slack, *channels)
    slack.set_latency(0.01)

    with workers(services, slack, tmp_path, 3):
        wait_until(lambda: live_workers(services) == 3, 30, "three live workers")
        publish(services, *(brief(f"k{n}", minutes=-n) for n in range(4)))
        wait_until(all_sent(services, 1000), 60, "1,000 deliveries settled as sent")
        poll_holders = lease_holders(services, "poll")

    in_published_order = ["k3", "k2", "k1", "k0"]
    assert all(keys_in(slack, channel) == in_published_order for channel in channels)
    assert len(slack.calls("chat.postMessage")) == 1000
    with transaction(services.sessions) as session:
        senders = session.scalars(select(Delivery.claimed_by).distinct()).all()
    assert len(senders) >= 2, "the work was shared"
    assert len(poll_holders) == 1, "one worker polls"


def live_workers(services: Services) -> int:
    return len(lease_holders(services, PRESENCE_PREFIX))


def lease_holders(services: Services, name_prefix: str) -> list[str]:
    with transaction(services.sessions) as session:
        query = select(Lease.holder).where(
            Lease.name.startswith(name_prefix), Lease.expires_at > func.now()
        )
        return list(session.scalars(query))


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_stay_under_the_workspace_cap_together(
    postgres_services: Services, slack: FakeSlack, tmp_path: Path
) -> None:
    services = postgres_services
    channels = [f"C{n:02d}" for n in range(60)]
    subscribe(services, slack, *channels)
    # Slack's workspace-wide limit as the fake plays it: 1,200 a minute, short bursts of 20.
    slack.limit_rate(per_channel_per_second=100, burst=20, global_per_minute=1200)

    with workers(services, slack, tmp_path, 3, posts_per_minute=1200):
        wait_until(lambda: live_workers(services) == 3, 30, "three live workers")
        wait_until(every_worker_renewed_since(services), 30, "each worker to count the others")
        publish(services, brief("k1"))
        wait_until(all_sent(services, len(channels)), 60, "every delivery settled as sent")

    assert slack.rate_limited_count == 0, "together they stayed under the workspace cap"
    assert [keys_in(slack, channel) for channel in channels] == [["k1"]] * len(channels)
    with transaction(services.sessions) as session:
        senders = session.scalars(select(Delivery.claimed_by).distinct()).all()
    assert len(senders) >= 2, "the work was shared"


def every_worker_renewed_since(services: Services) -> Callable[[], bool]:
    """True once each worker renewed its presence after all three were live: each renewal
    recounts the live workers, so each now sends at a third of the cap."""
    first_seen = presence_expiries(services)

    def renewed() -> bool:
        now = presence_expiries(services)
        return len(now) == 3 and all(now[name] > first_seen.get(name, now[name]) for name in now)

    return renewed


def presence_expiries(services: Services) -> dict[str, object]:
    with transaction(services.sessions) as session:
        query = select(Lease.name, Lease.expires_at).where(Lease.name.startswith(PRESENCE_PREFIX))
        return {name: expires_at for name, expires_at in session.execute(query)}
