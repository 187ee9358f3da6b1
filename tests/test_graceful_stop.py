"""SIGTERM to a real `signal-bot worker` mid fan-out: it stops claiming, lets the posts in
flight finish, releases its leases and exits 0; the next worker sends the rest, each once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BOT_TOKEN, SIGNING_SECRET
from fake_slack import FakeSlack
from sqlalchemy import select
from test_deliver import brief, keys_in, publish, subscribe
from test_workers import all_sent, states, wait_until

from bot.app import Services
from bot.process import STOP_BUDGET
from bot.store.db import transaction
from bot.store.leases import Lease

STOPPED_CLAIMING = "stopped claiming: finishing the posts in flight"


def start_worker(
    services: Services, slack: FakeSlack, folder: Path, name: str
) -> subprocess.Popen[bytes]:
    """`signal-bot worker` as an operator runs it (shipped defaults, its own log file)."""
    environment = {
        **os.environ,
        "DATABASE_URL": services.settings.database_url.get_secret_value(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_BOT_CONFIG": str(services.settings.signal_bot_config),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        cwd=folder,
        env=environment,
        stdout=(folder / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def lease_names(services: Services) -> list[str]:
    with transaction(services.sessions) as session:
        return list(session.scalars(select(Lease.name)))


@pytest.mark.slow
def test_sigterm_mid_fan_out_finishes_what_is_in_flight_and_exits_0(
    services: Services, slack: FakeSlack, tmp_path: Path
) -> None:
    channels = [f"C{n:02d}" for n in range(60)]
    subscribe(services, slack, *channels)
    publish(services, brief("k1"))
    # Each post is stored at once, but answered only once the worker has stopped claiming:
    # however slowly the worker takes the signal, it cannot have sent them all.
    slack.hold_answers("chat.postMessage")

    first = start_worker(services, slack, tmp_path, "first")
    try:
        slack.wait_for_calls("chat.postMessage", 10, timeout=30)
        first.send_signal(signal.SIGTERM)
        log = tmp_path / "first.log"
        wait_until(lambda: STOPPED_CLAIMING in log.read_text(), 30, "the worker to stop claiming")
        slack.release_answers("chat.postMessage")
        assert first.wait(timeout=20) == 0
    finally:
        if first.poll() is None:
            first.kill()
        print((tmp_path / "first.log").read_text(errors="replace")[-4000:])

    left = states(services)
    assert not left.get("sending"), "every post in flight was settled, none left claimed"
    posted = len(slack.calls("chat.postMessage"))
    assert left.get("sent") == posted, "each post Slack took is recorded as sent"
    assert left.get("pending") == len(channels) - posted, "the rest wait, none lost"
    assert 0 < posted < len(channels)
    assert lease_names(services) == [], "the polling and presence leases were given up"

    second = start_worker(services, slack, tmp_path, "second")
    try:
        wait_until(all_sent(services, len(channels)), 30, "the second worker sends the rest")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
    assert [keys_in(slack, channel) for channel in channels] == [["k1"]] * len(channels)
    assert slack.calls("conversations.history") == [], "a clean stop leaves nothing unconfirmed"


@pytest.mark.slow
def test_posts_slower_than_the_budget_are_left_for_reconciliation_not_doubled(
    services: Services, slack: FakeSlack, tmp_path: Path
) -> None:
    channels = [f"C{n:02d}" for n in range(20)]
    subscribe(services, slack, *channels)
    publish(services, brief("k1"))
    slack.hold_answers("chat.postMessage")  # Slack stores each post, but answers only later

    first = start_worker(services, slack, tmp_path, "first")
    try:
        slack.wait_for_calls("chat.postMessage", 5, timeout=30)
        first.send_signal(signal.SIGTERM)
        # It ends when the budget runs out, not when Slack answers (after it has exited).
        assert first.wait(timeout=STOP_BUDGET + 60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    slack.release_answers("chat.postMessage")
    assert states(services).get("sending"), "the unanswered posts were left claimed"
    assert lease_names(services) == []

    second = start_worker(services, slack, tmp_path, "second")
    try:
        wait_until(all_sent(services, len(channels)), 60, "the rest sent, the left ones found")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
    assert [keys_in(slack, channel) for channel in channels] == [["k1"]] * len(channels)
    assert slack.calls("conversations.history"), "the left posts were looked up, not resent"
