"""Delivery benchmark against the loopback fake Slack (tests/fake_slack.py, in its own process).

1. One signal to 1,000 channels at 100 ms API latency: a serial chat_postMessage loop, then the
   bot, in the same run (time, ratio; target >= 20x).
2. The same under Slack-like limits, 1/s per channel plus a workspace-wide per-minute cap:
   the share of the allowed rate achieved (target >= 90%) and the 429s received.
3. Ten signals to 20 channels under 1/s per channel (burst 3): the per-channel share, and
   whether each channel got its briefs in published order.
Every scenario checks that each channel holds each brief exactly once (zero lost, zero
duplicated). Peak memory is the bot process's peak RSS during its delivery runs.

Run: `python benchmarks/bench_delivery.py` (`--channels 200` for a quick look;
`--database-url postgresql+psycopg://...` to run the bot on PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import Services, build_services  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.deliver.outcome import DeliveryLimits  # noqa: E402
from bot.deliver.pacing import Pace  # noqa: E402
from bot.deliver.slack_poster import signal_metadata  # noqa: E402
from bot.ingest import ingest  # noqa: E402
from bot.signal import Section, Signal  # noqa: E402
from bot.store import outbox  # noqa: E402
from bot.store.db import transaction  # noqa: E402
from bot.store.subscriptions import ChannelRef, add_subscription  # noqa: E402

TOKEN = "xoxb-benchmark"
LATENCY = 0.100
UNLIMITED = DeliveryLimits(concurrency=64, workspace_per_minute=1e9, workspace_burst=64)


@dataclass(frozen=True)
class Delivered:
    seconds: float
    lost: int
    duplicated: int
    out_of_order: int
    rate_limited: int
    peak_rss_mb: float


class FakeSlackProcess:
    """tests/fake_slack.py served from a child process, so it does not share the bot's GIL."""

    def __init__(self, tests_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(target=serve_fake, args=(child_end, str(tests_dir)))
        self._channels = 0

    def __enter__(self) -> FakeSlackProcess:
        self._process.start()
        self.base_url: str = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send(None)
        self._process.join(timeout=10)

    def call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send((command, args, kwargs))
        return self._conn.recv()

    def new_channels(self, prefix: str, count: int) -> list[str]:
        ids = [f"C{prefix}{n:05d}" for n in range(count)]
        self.call("add_channels", ids)
        return ids


def serve_fake(conn: Connection, tests_dir: str) -> None:
    """The child process: a FakeSlack answering commands from the benchmark over a pipe."""
    sys.path.insert(0, tests_dir)
    from fake_slack import FakeSlack

    with FakeSlack() as slack:
        conn.send(slack.base_url)
        while (request := conn.recv()) is not None:
            command, args, kwargs = request
            conn.send(FAKE_COMMANDS[command](slack, *args, **kwargs))


def signal_keys(slack: Any, channels: list[str]) -> dict[str, list[str]]:
    """Per channel, the signal keys of its top-level messages, oldest first."""
    return {
        channel: [
            m["metadata"]["event_payload"]["signal_key"]
            for m in slack.messages(channel)
            if m.get("metadata") and "thread_ts" not in m
        ]
        for channel in channels
    }


FAKE_COMMANDS: dict[str, Callable[..., Any]] = {
    "set_latency": lambda slack, seconds: slack.set_latency(seconds),
    "limit_rate": lambda slack, **limits: slack.limit_rate(**limits),
    "clear": lambda slack: slack.clear(),
    "rate_limited_count": lambda slack: slack.rate_limited_count,
    "add_channels": lambda slack, ids: [slack.add_channel(i, i.lower()) for i in ids] and None,
    "signal_keys": signal_keys,
}


def main() -> int:
    args = parse_args()
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()}")
    print(f"python {platform.python_version()} · {multiprocessing.cpu_count()} CPUs")
    print(f"database: {args.database_url or 'SQLite (a fresh file per scenario)'}\n")
    with FakeSlackProcess(REPO / "tests") as slack:
        ok = fan_out_vs_serial(slack, args)
        ok &= under_workspace_cap(slack, args)
        ok &= per_channel_pacing(slack, args)
    print("\ntargets met" if ok else "\nTARGETS MISSED")
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-minute", type=float, default=1800, help="workspace cap (scenario 2)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per scenario")
    return parser.parse_args()


def fan_out_vs_serial(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    print(f"1. one signal to {args.channels} channels, {LATENCY * 1000:.0f} ms latency, no limiter")
    slack.call("set_latency", LATENCY)
    serial_channels = slack.new_channels("S", args.channels)
    signal = a_signal("serial")
    with bot_services(slack, args, UNLIMITED) as services:
        message = services.renderer.render_signal(signal)
    client = WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])
    started = time.perf_counter()
    for channel in serial_channels:
        client.chat_postMessage(
            channel=channel, metadata=signal_metadata(signal.key), **message.as_kwargs()
        )
    serial = time.perf_counter() - started
    print(f"   serial chat_postMessage loop: {serial:7.2f} s")
    bot = deliver(slack, args, UNLIMITED, slack.new_channels("B", args.channels), signals=1)
    report("   bot", bot, args.channels)
    ratio = serial / bot.seconds
    print(f"   ratio: {ratio:.1f}x the serial loop (target >= 20x)")
    return ratio >= 20 and bot.lost == bot.duplicated == 0


def under_workspace_cap(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    cap = args.per_minute
    print(f"\n2. the same under 1/s per channel (burst 3) + {cap:.0f}/min workspace-wide (burst 3)")
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=cap)
    limits = DeliveryLimits(concurrency=64, workspace_per_minute=cap, workspace_burst=1)
    bot = deliver(slack, args, limits, slack.new_channels("L", args.channels), signals=1)
    report("   bot", bot, args.channels)
    allowed = 3 + cap / 60 * bot.seconds
    share = args.channels / allowed
    print(f"   share of the allowed rate: {share:.1%} (target >= 90%); 429s: {bot.rate_limited}")
    return share >= 0.9 and bot.lost == bot.duplicated == 0


def per_channel_pacing(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    channels, signals = 20, 10
    print(f"\n3. {signals} signals to each of {channels} channels under 1/s per channel (burst 3)")
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=None)
    limits = DeliveryLimits(concurrency=64, workspace_per_minute=1e9, channel_pace=Pace(1.0, 3))
    bot = deliver(slack, args, limits, slack.new_channels("P", channels), signals=signals)
    report("   bot", bot, channels * signals)
    share = signals / (3 + 1.0 * bot.seconds)
    print(f"   per-channel share of the allowed rate: {share:.1%}; 429s: {bot.rate_limited}")
    print(f"   channels with briefs out of published order: {bot.out_of_order}")
    return bot.lost == bot.duplicated == bot.out_of_order == 0


def deliver(
    slack: FakeSlackProcess,
    args: argparse.Namespace,
    limits: DeliveryLimits,
    channels: list[str],
    *,
    signals: int,
) -> Delivered:
    """Subscribe `channels`, ingest `signals` briefs at once, and time the bot delivering them."""
    briefs = [a_signal(f"brief-{channels[0]}-{n}", minutes=signals - n) for n in range(signals)]
    with bot_services(slack, args, limits) as services:
        with transaction(services.sessions) as session:
            for channel in channels:
                add_subscription(session, ChannelRef(channel_id=channel), "all")
            ingest(session, briefs, announce=True)
        slack.call("clear")
        reset_peak_rss()
        started = time.perf_counter()
        deliver_everything(services)
        seconds = time.perf_counter() - started
    expected = [b.key for b in sorted(briefs, key=lambda b: b.published)]
    held = slack.call("signal_keys", channels)
    return Delivered(
        seconds=seconds,
        lost=sum(len(set(expected) - set(keys)) for keys in held.values()),
        duplicated=sum(len(keys) - len(set(keys)) for keys in held.values()),
        out_of_order=sum(1 for keys in held.values() if keys != expected),
        rate_limited=slack.call("rate_limited_count"),
        peak_rss_mb=peak_rss_mb(),
    )


def deliver_everything(services: Services) -> None:
    """Delivery runs until no row waits: what the worker's scheduler does, minus its ticks."""
    while True:
        if not services.deliverer.deliver_pending().counts:
            time.sleep(0.05)  # rows wait beyond a run's linger (none should, here)
        with transaction(services.sessions) as session:
            counts = outbox.count_by_state(session)
        if not any(counts.get(state) for state in (*outbox.WAITING, *outbox.IN_FLIGHT)):
            return


def report(label: str, bot: Delivered, messages: int) -> None:
    print(
        f"{label}: {bot.seconds:7.2f} s for {messages} messages ({messages / bot.seconds:.1f}/s);"
        f" lost {bot.lost}, duplicated {bot.duplicated}; peak RSS {bot.peak_rss_mb:.0f} MB"
    )


@contextmanager
def bot_services(
    slack: FakeSlackProcess, args: argparse.Namespace, limits: DeliveryLimits
) -> Iterator[Services]:
    """The real services on a fresh database, pointed at the fake Slack."""
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as folder:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=TOKEN,
            slack_signing_secret="benchmark",
            slack_api_url=slack.base_url,
            database_url=args.database_url or f"sqlite:///{folder}/bench.db",
            signal_bot_config=Path(folder) / "none.toml",
        )
        services = build_services(settings, delivery_limits=limits)
        if args.database_url:
            clear_postgres(services)
        try:
            yield services
        finally:
            services.engine.dispose()


def clear_postgres(services: Services) -> None:
    from sqlalchemy import text

    with services.engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE deliveries, subscriptions, signals, channel_pace, leases, digests, mutes"
                " CASCADE"
            )
        )


def a_signal(key: str, minutes: int = 0) -> Signal:
    published = datetime(2026, 4, 23, 12, tzinfo=UTC) - timedelta(minutes=minutes)
    return Signal(
        title=f"Benchmark brief {key}",
        published=published,
        key=key,
        source="bench",
        entity="Meta",
        category="PLATFORM RELEASE",
        topic="AI Advances",
        summary="A lede paragraph long enough to look like a brief. " * 4,
        sections=(Section("The News", "It shipped. " * 40), Section("Analysis", "So. " * 60)),
    ).keyed("bench")


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux: writing 5 resets the peak RSS (VmHWM)
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
