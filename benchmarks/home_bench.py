"""App Home publish time for a workspace with N channel subscriptions (used by bench_manage.py).

The real HomePublisher and slack-sdk client publish to the loopback fake Slack of the tests,
which validates every view as Slack would; the database is a fresh SQLite file with N
subscriptions, their history and 5,000 briefs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fake_slack import FakeSlack

from bot.app import build_services
from bot.config import Settings
from bot.signal import Signal
from bot.slack.home import HomePublisher
from bot.slack.views import ViewError
from bot.slack.views.home import HomeData, ShownSubscription, home_view
from bot.store.db import transaction
from bot.store.history import record_change
from bot.store.signals import upsert_signals
from bot.store.subscriptions import ChannelRef, add_subscription

USER = "U0BENCH"


def measure_home(subscriptions: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as slack:
        slack.add_user(USER, admin=True)
        settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-bench",
            slack_signing_secret="bench",
            slack_api_url=slack.base_url,
            database_url=f"sqlite:///{Path(folder) / 'home.db'}",
            signal_bot_config=Path(folder) / "none.toml",
        )
        services = build_services(settings)
        _fill(services.sessions, subscriptions)
        assert services.slack_client is not None
        publisher = HomePublisher(services.slack_client, services.commands.context)
        timings = []
        for round_number in range(rounds + 1):
            started = time.perf_counter()
            publisher.publish(USER, page=round_number % 25)
            if round_number:
                timings.append((time.perf_counter() - started) * 1000)
        published = slack.calls("views.publish")
        assert len(published) == rounds + 1, "a publish failed"
        blocks = len(published[-1].params["view"]["blocks"])
        data = publisher.data(USER, 0)
        services.engine.dispose()
    print(f"\n== App Home publish, {subscriptions} channel subscriptions, {rounds} publishes")
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    figures = f"p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms"
    print(f"   gather + render + views.publish (loopback): {figures}")
    print(f"   one page: {blocks} blocks (Slack's limit: 100)")
    _naive(data, subscriptions)


def _naive(data: HomeData, subscriptions: int) -> None:
    every = [
        ShownSubscription(
            n, f"C{n:08d}", f"entity:vendor-{n}", f"briefs from entity vendor-{n}", None
        )
        for n in range(subscriptions)
    ]
    naive = HomeData(**{**data.__dict__, "channel_subscriptions": every})
    started = time.perf_counter()
    try:
        home_view(naive)
        outcome = "accepted"
    except ViewError as error:
        outcome = f"refused: {error}"
    elapsed = (time.perf_counter() - started) * 1000
    print(f"   naive, all {subscriptions} in one view: {elapsed:.1f} ms to build, {outcome}")


def _fill(sessions: object, subscriptions: int) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    briefs = [
        Signal(
            title=f"Brief {n}",
            published=start + timedelta(minutes=n),
            key=f"bench:{n}",
            source="bench",
            topic="AI Advances",
            entity=f"Vendor {n % 700}",
        )
        for n in range(5_000)
    ]
    with transaction(sessions) as session:  # type: ignore[arg-type]
        upsert_signals(session, briefs)
        for n in range(subscriptions):
            where = ChannelRef(f"C{n:08d}", f"team-{n:05d}", user_id=USER)
            sub = add_subscription(session, where, f"entity:vendor-{n}")
            record_change(
                session,
                channel_id=where.channel_id,
                actor=USER,
                action="subscribed",
                before=None,
                after=sub.filter,
                subject_id=sub.id,
            )
