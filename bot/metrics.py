"""Prometheus metrics (`GET /metrics`): every name starts with `signal_bot_`.

Counters and histograms are kept where the work happens. With several processes (gunicorn
workers, `signal-bot worker` beside `signal-bot web`) set PROMETHEUS_MULTIPROC_DIR to one empty
folder for all of them: prometheus-client then keeps each process's values in files there and
any process's /metrics adds them up. Outbox gauges are read from the database at scrape time,
so they are right whichever process answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from bot.store import outbox
from bot.store.db import transaction

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
SLACK_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
# Ours alone: prometheus-client's default registry adds python_* and process_* metrics.
REGISTRY = CollectorRegistry()

signals_ingested = Counter(
    "signal_bot_signals_ingested",
    "Signals stored, by source and whether new or revised",
    ["source", "change"],
    registry=REGISTRY,
)
source_poll_errors = Counter(
    "signal_bot_source_poll_errors",
    "Source polls that failed, by source",
    ["source"],
    registry=REGISTRY,
)
deliveries = Counter(
    "signal_bot_deliveries",
    "Delivery attempts, by outcome (sent, retry, pause, fail, stop)",
    ["outcome"],
    registry=REGISTRY,
)
slack_rate_limited = Counter(
    "signal_bot_slack_rate_limited",
    "Slack 429 answers to posts, by what they were put down to (channel or workspace)",
    ["scope"],
    registry=REGISTRY,
)
delivery_seconds = Histogram(
    "signal_bot_delivery_seconds",
    "One delivery attempt: render, then Slack's answer to the post or edit",
    buckets=SLACK_CALL_BUCKETS,
    registry=REGISTRY,
)
delivery_lag_seconds = Histogram(
    "signal_bot_delivery_lag_seconds",
    "From a brief's outbox row being written to its post being confirmed",
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
search_seconds = Histogram(
    "signal_bot_search_seconds",
    "A search of the archive (/brief, /signals search)",
    registry=REGISTRY,
)
workspace_posts_per_minute = Gauge(
    "signal_bot_workspace_posts_per_minute",
    "The rate each workspace is sent at (in this process), as learnt from Slack's 429s",
    ["team"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)


class OutboxCollector(Collector):
    """Outbox rows by state, read from the database when scraped."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with transaction(self.sessions) as session:
            counts = outbox.count_by_state(session)
        waiting = GaugeMetricFamily(
            "signal_bot_outbox_waiting", "Outbox rows waiting to be sent or edited"
        )
        waiting.add_metric([], sum(counts.get(state, 0) for state in outbox.WAITING))
        yield waiting
        by_state = GaugeMetricFamily(
            "signal_bot_outbox_rows", "Outbox rows by state", labels=["state"]
        )
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        yield by_state


def exposition(sessions: sessionmaker[Session]) -> bytes:
    """The Prometheus text for /metrics: this process's metrics (or every process's, in
    multi-process mode) and the outbox gauges."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        own = generate_latest(processes)
    else:
        own = generate_latest(REGISTRY)
    database = CollectorRegistry(auto_describe=False)
    database.register(OutboxCollector(sessions))
    return own + generate_latest(database)


def process_exited() -> None:
    """Drop this process's live gauges from the multi-process files (a clean exit)."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
