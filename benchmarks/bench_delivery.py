"""Delivery benchmark against the loopback fake Slack (tests/fake_slack.py, in its own process).

The bot runs only with settings a user can set: the shipped defaults, or values of
SIGNAL_BOT_POSTS_PER_MINUTE / SIGNAL_BOT_SEND_CONCURRENCY, and each figure says which.

1. One signal to 1,000 channels at 100 ms API latency: a serial chat_postMessage loop, then the
   bot with the shipped defaults (1,200 posts/min, 16 in flight: the cap is what limits), then
   with user-set SIGNAL_BOT_POSTS_PER_MINUTE=100000 SIGNAL_BOT_SEND_CONCURRENCY=64 (a Slack
   Enterprise Grid with a raised limit, say): time and ratio to the serial loop (target >= 20x).
2. A fake Slack with a hidden workspace budget of 300 posts/min (plus 1/s per channel), the bot
   on the shipped defaults, which knows nothing of the budget: posts/min achieved (target >= 90%
   of the budget) and 429s received (target < 5% of posts).
3. Ten signals to 20 channels under 1/s per channel (burst 3): the per-channel share, and
   whether each channel got its briefs in published order.
4. Two workspaces of 500 channels each, installed through OAuth (multi-workspace mode), one of
   them with a hidden budget of 120 posts/min: the other's posts/min beside its rate alone.
Every scenario checks that each channel holds each brief exactly once (zero lost, zero
duplicated). Peak memory is the bot process's peak RSS during its delivery runs.

Run: `python benchmarks/bench_delivery.py` (`--channels 200 --budget-channels 200` for a quick
look; `--database-url postgresql+psycopg://...` to run the bot on PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import Services, build_services  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.deliver.slack_poster import signal_metadata  # noqa: E402
from bot.ingest import ingest  # noqa: E402
from bot.signal import Section, Signal  # noqa: E402
from bot.store import outbox  # noqa: E402
from bot.store.db import transaction  # noqa: E402
from bot.store.models import Delivery  # noqa: E402
from bot.store.subscriptions import ChannelRef, add_subscription  # noqa: E402

TOKEN = "xoxb-benchmark"
LATENCY = 0.100
SHIPPED_DEFAULTS: dict[str, Any] = {}
USER_SET = {"signal_bot_posts_per_minute": 100_000, "signal_bot_send_concurrency": 64}
HIDDEN_BUDGET = 300  # posts per minute, workspace-wide, unknown to the bot
FAST_TEAM, SLOW_TEAM, SLOW_BUDGET = "TFAST", "TSLOW", 120
MULTI_WORKSPACE = {  # installed through OAuth: no SLACK_BOT_TOKEN, a token per workspace
    "slack_bot_token": None,
    "slack_client_id": "1.2",
    "slack_client_secret": "bench",
    "slack_state_secret": "bench",
}


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
    "add_team": lambda slack, team, token: slack.add_team(team, token),
    "rate_limited_by_team": lambda slack: dict(slack.rate_limited_by_team),
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
    scenarios = {
        1: fan_out_vs_serial,
        2: under_hidden_budget,
        3: per_channel_pacing,
        4: two_workspaces,
    }
    ok = True
    with FakeSlackProcess(REPO / "tests") as slack:
        for number in args.only or sorted(scenarios):
            ok &= scenarios[number](slack, args)
    print("\ntargets met" if ok else "\nTARGETS MISSED")
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000, help="scenario 1")
    parser.add_argument("--budget-channels", type=int, default=1000, help="scenario 2")
    parser.add_argument("--workspace-channels", type=int, default=500, help="scenario 4")
    parser.add_argument("--only", type=int, action="append", help="run only scenario N")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per scenario")
    return parser.parse_args()


def fan_out_vs_serial(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    print(f"1. one signal to {args.channels} channels, {LATENCY * 1000:.0f} ms latency")
    slack.call("set_latency", LATENCY)
    slack.call("limit_rate", per_channel_per_second=1e6, burst=10, global_per_minute=None)
    serial_channels = slack.new_channels("S", args.channels)
    signal = a_signal("serial")
    with bot_services(slack, args, SHIPPED_DEFAULTS) as services:
        message = services.renderer.render_signal(signal)
    client = WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])
    started = time.perf_counter()
    for channel in serial_channels:
        client.chat_postMessage(
            channel=channel, metadata=signal_metadata(signal.key), **message.as_kwargs()
        )
    serial = time.perf_counter() - started
    print(f"   serial chat_postMessage loop: {serial:7.2f} s")
    ok = True
    for label, settings in (
        ("shipped defaults (1200/min, 16 in flight)", SHIPPED_DEFAULTS),
        ("user-set SIGNAL_BOT_POSTS_PER_MINUTE=100000 SIGNAL_BOT_SEND_CONCURRENCY=64", USER_SET),
    ):
        channels = slack.new_channels("B" if settings else "D", args.channels)
        bot = deliver(slack, args, settings, channels, signals=1)
        print(f"   bot, {label}:")
        report("     ", bot, args.channels)
        ratio = serial / bot.seconds
        target = " (target >= 20x)" if settings else " (bounded by the 1200/min cap)"
        print(f"      ratio {ratio:.1f}x the serial loop{target}")
        ok &= bot.lost == bot.duplicated == 0 and (ratio >= 20 or not settings)
    return ok


def under_hidden_budget(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    count, budget = args.budget_channels, HIDDEN_BUDGET
    print(
        f"\n2. one signal to {count} channels; Slack's hidden workspace budget {budget}/min "
        "(+ 1/s per channel, burst 3); the bot on the shipped defaults"
    )
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=budget)
    bot = deliver(slack, args, SHIPPED_DEFAULTS, slack.new_channels("L", count), signals=1)
    report("   bot", bot, count)
    per_minute = count / bot.seconds * 60
    share, refused = per_minute / budget, bot.rate_limited / count
    print(
        f"   {per_minute:.0f} posts/min = {share:.1%} of the budget (target >= 90%); "
        f"429s: {bot.rate_limited} = {refused:.1%} of posts (target < 5%)"
    )
    slack.call("limit_rate", per_channel_per_second=1e6, burst=10, global_per_minute=None)
    return share >= 0.9 and refused < 0.05 and bot.lost == bot.duplicated == 0


def two_workspaces(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    count = args.workspace_channels
    print(
        f"\n4. two installed workspaces, {count} channels each, one signal, 100 ms latency, "
        f"1/s per channel; {SLOW_TEAM} has a hidden budget of {SLOW_BUDGET}/min; shipped defaults"
    )
    slack.call("set_latency", LATENCY)
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=None)
    slack.call(
        "limit_rate",
        per_channel_per_second=1.0,
        burst=3,
        global_per_minute=SLOW_BUDGET,
        team=SLOW_TEAM,
    )
    alone = deliver_to_workspaces(slack, args, {FAST_TEAM: slack.new_channels("FA", count)})
    together = deliver_to_workspaces(
        slack,
        args,
        {FAST_TEAM: slack.new_channels("FB", count), SLOW_TEAM: slack.new_channels("SB", count)},
    )
    fast_alone, fast_together = alone[FAST_TEAM], together[FAST_TEAM]
    slow = together[SLOW_TEAM]
    share = fast_together.per_minute / fast_alone.per_minute
    print(f"   {FAST_TEAM} alone:        {fast_alone}")
    print(f"   {FAST_TEAM} beside {SLOW_TEAM}: {fast_together}")
    print(f"   {SLOW_TEAM} meanwhile:    {slow}")
    print(
        f"   {FAST_TEAM}'s rate beside the limited workspace: {share:.1%} of alone (target >= 90%)"
    )
    ok = share >= 0.9 and fast_together.rate_limited == 0
    complete = fast_together.posted == fast_alone.posted == count
    return ok and complete and fast_together.duplicated == slow.duplicated == 0


@dataclass(frozen=True)
class WorkspaceRun:
    sent: int
    seconds: float
    rate_limited: int
    posted: int  # channels holding the brief
    duplicated: int

    @property
    def per_minute(self) -> float:
        return self.sent / self.seconds * 60

    def __str__(self) -> str:
        return (
            f"{self.sent} posts in {self.seconds:.1f} s = {self.per_minute:.0f}/min; "
            f"429s {self.rate_limited}; duplicated {self.duplicated}"
        )


def deliver_to_workspaces(
    slack: FakeSlackProcess, args: argparse.Namespace, channels: dict[str, list[str]]
) -> dict[str, WorkspaceRun]:
    """Install the app in each workspace, subscribe its channels, ingest one signal, and
    deliver until the fast workspace is done; what each workspace got by then."""
    brief = a_signal(f"ws-{next(iter(channels.values()))[0]}")
    with bot_services(slack, args, MULTI_WORKSPACE) as services:
        assert services.installations is not None
        for team in channels:
            token = f"xoxb-{team.lower()}"
            slack.call("add_team", team, token)
            services.installations.save(
                Installation(app_id="A0BENCH", team_id=team, bot_token=token, user_id="U0")
            )
        with transaction(services.sessions) as session:
            for team, ids in channels.items():
                for channel in ids:
                    add_subscription(session, ChannelRef(channel_id=channel, team_id=team), "all")
            ingest(session, [brief], announce=True)
        slack.call("clear")
        started = time.perf_counter()
        done_at: dict[str, float] = {}
        runner = threading.Thread(target=deliver_everything, args=[services], daemon=True)
        runner.start()
        while FAST_TEAM not in done_at:
            time.sleep(0.05)
            for team, sent in sent_by_team(services).items():
                if sent == len(channels[team]) and team not in done_at:
                    done_at[team] = time.perf_counter() - started
        stopped_at = time.perf_counter() - started
        services.deliverer.close()
        runner.join(timeout=30)
        sent = sent_by_team(services)
    refused = slack.call("rate_limited_by_team")
    held = slack.call("signal_keys", [c for ids in channels.values() for c in ids])
    return {
        team: WorkspaceRun(
            sent=sent.get(team, 0),
            seconds=done_at.get(team, stopped_at),
            rate_limited=refused.get(team, 0),
            posted=sum(1 for c in ids if held[c]),
            duplicated=sum(1 for c in ids if len(held[c]) > 1),
        )
        for team, ids in channels.items()
    }


def sent_by_team(services: Services) -> dict[str, int]:
    with transaction(services.sessions) as session:
        rows = session.execute(
            select(Delivery.team_id, func.count())
            .where(Delivery.state == "sent")
            .group_by(Delivery.team_id)
        )
        return {team: count for team, count in rows}


def per_channel_pacing(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    channels, signals = 20, 10
    print(
        f"\n3. {signals} signals to each of {channels} channels under 1/s per channel (burst 3); "
        "user-set SIGNAL_BOT_POSTS_PER_MINUTE=100000 SIGNAL_BOT_SEND_CONCURRENCY=64"
    )
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=None)
    bot = deliver(slack, args, USER_SET, slack.new_channels("P", channels), signals=signals)
    report("   bot", bot, channels * signals)
    share = signals / (3 + 1.0 * bot.seconds)
    print(f"   per-channel share of the allowed rate: {share:.1%}; 429s: {bot.rate_limited}")
    print(f"   channels with briefs out of published order: {bot.out_of_order}")
    return bot.lost == bot.duplicated == bot.out_of_order == 0


def deliver(
    slack: FakeSlackProcess,
    args: argparse.Namespace,
    settings: dict[str, Any],
    channels: list[str],
    *,
    signals: int,
) -> Delivered:
    """Subscribe `channels`, ingest `signals` briefs at once, and time the bot delivering them."""
    briefs = [a_signal(f"brief-{channels[0]}-{n}", minutes=signals - n) for n in range(signals)]
    with bot_services(slack, args, settings) as services:
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
    """Delivery runs until no row waits (or the deliverer is closed): what the worker's
    scheduler does, minus its ticks."""
    while not services.deliverer.stopped():
        if not services.deliverer.deliver_pending().counts:
            time.sleep(0.05)  # rows wait beyond a run's linger (none should, here)
        with transaction(services.sessions) as session:
            counts = outbox.count_by_state(session)
        if not any(counts.get(state) for state in (*outbox.WAITING, *outbox.IN_FLIGHT)):
            return


def report(label: str, bot: Delivered, messages: int) -> None:
    print(
        f"{label} {bot.seconds:7.2f} s for {messages} messages ({messages / bot.seconds:.1f}/s);"
        f" lost {bot.lost}, duplicated {bot.duplicated}; peak RSS {bot.peak_rss_mb:.0f} MB"
    )


@contextmanager
def bot_services(
    slack: FakeSlackProcess, args: argparse.Namespace, settings: dict[str, Any]
) -> Iterator[Services]:
    """The real services on a fresh database, pointed at the fake Slack, built from Settings
    exactly as `signal-bot worker` builds them (`settings`: what a user set)."""
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as folder:
        environment = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{
                "slack_bot_token": TOKEN,
                "slack_signing_secret": "benchmark",
                "slack_api_url": slack.base_url,
                "database_url": args.database_url or f"sqlite:///{folder}/bench.db",
                "signal_bot_config": Path(folder) / "none.toml",
                **settings,
            },
        )
        services = build_services(environment)
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
                "TRUNCATE deliveries, subscriptions, signals, channel_pace, leases, digests, "
                "mutes, workspace_status, slack_bots, slack_installations CASCADE"
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
