"""Shaped-alerts benchmark against the loopback fake Slack (tests/fake_slack.py, in its own
process), with Slack-like limits: 1 message/s per channel (burst 3) and a workspace-wide cap.

1. 1,000 channels with a daily digest due the same minute, 20 briefs each: every digest posted
   exactly once, and the share of the workspace cap achieved (target >= 90%), against one post
   per brief (the same briefs to a sample of the channels, timed, and projected to all of them
   at the same cap): messages and seconds, both.
2. The cost of mute and option checks on a 1,000-channel fan-out: ingesting briefs into the
   outbox with every channel carrying options and a mute, against none (target < 5% slower).

Run: `python benchmarks/bench_alerts.py` (`--channels 200` for a quick look;
`--per-minute N` is SIGNAL_BOT_POSTS_PER_MINUTE; `--database-url postgresql+psycopg://...`).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_delivery import (  # noqa: E402
    FAKE_COMMANDS,
    FakeSlackProcess,
    a_signal,
    bot_services,
    deliver_everything,
)
from sqlalchemy import update  # noqa: E402

from bot.alerts.options import AlertOptions  # noqa: E402
from bot.alerts.schedule import parse_schedule  # noqa: E402
from bot.alerts.targets import route_signal  # noqa: E402
from bot.deliver.digests import gather_due_digests  # noqa: E402
from bot.ingest import _compiled as compiled_filter  # noqa: E402
from bot.ingest import _muted_filters as muted_filters  # noqa: E402
from bot.ingest import ingest  # noqa: E402
from bot.store import digests  # noqa: E402
from bot.store.db import transaction  # noqa: E402
from bot.store.models import Subscription  # noqa: E402
from bot.store.mutes import add_mute  # noqa: E402
from bot.store.subscriptions import (  # noqa: E402
    ChannelRef,
    active_subscriptions,
    save_subscription,
)

BRIEFS = 20
DUE = datetime.now(UTC).replace(second=0, microsecond=0)  # the digests' minute: this one


def digest_keys(slack: Any, channels: list[str]) -> dict[str, int]:
    """Per channel, how many digest messages it holds."""
    return {
        channel: sum(
            1
            for m in slack.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == "signal_digest_posted"
        )
        for channel in channels
    }


FAKE_COMMANDS["digest_counts"] = digest_keys


def main() -> int:
    args = parse_args()
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()}")
    print(f"database: {args.database_url or 'SQLite (a fresh file per scenario)'}\n")
    ok = True
    if args.scenario in ("all", "digests"):
        with FakeSlackProcess(REPO / "tests") as slack:
            ok &= digests_vs_posts(slack, args)
    if args.scenario in ("all", "checks"):
        ok &= cost_of_checks(args)
    print("\ntargets met" if ok else "\nTARGETS MISSED")
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-minute", type=float, default=3000, help="the workspace cap")
    parser.add_argument("--sample", type=int, default=100, help="channels for one-post-per-brief")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per scenario")
    parser.add_argument("--scenario", choices=["all", "digests", "checks"], default="all")
    return parser.parse_args()


def limits(args: argparse.Namespace) -> dict[str, Any]:
    """What a user sets: SIGNAL_BOT_SEND_CONCURRENCY=64 and the workspace cap."""
    return {"signal_bot_send_concurrency": 64, "signal_bot_posts_per_minute": args.per_minute}


def digests_vs_posts(slack: FakeSlackProcess, args: argparse.Namespace) -> bool:
    cap, channels = args.per_minute, args.channels
    print(f"1. {channels} channels, a daily digest due at the same minute, {BRIEFS} briefs each;")
    print(f"   Slack allows 1/s per channel (burst 3) and {cap:.0f}/min workspace-wide")
    slack.call("set_latency", 0.05)
    slack.call("limit_rate", per_channel_per_second=1.0, burst=3, global_per_minute=cap)
    digest_channels = slack.new_channels("D", channels)
    with bot_services(slack, args, limits(args)) as services:
        subscribe(services, digest_channels, "daily@08:00")
        with transaction(services.sessions) as session:
            ingest(session, briefs("digest"), announce=True, now=DUE - timedelta(hours=1))
        slack.call("clear")
        started = time.perf_counter()
        # As in a worker: the lease holder's digests job gathers while the deliver job sends.
        with ThreadPoolExecutor(1) as scheduler:
            gathering = scheduler.submit(timed, gather_due_digests, services.sessions)
            deliver_digests(services, until=gathering)
        queued, gathered = gathering.result()
        seconds = time.perf_counter() - started
        with transaction(services.sessions) as session:
            states = digests.count_by_state(session)
    held = slack.call("digest_counts", digest_channels)
    once = sum(1 for count in held.values() if count == 1)
    share = queued / (3 + cap / 60 * seconds)
    rate_limited = slack.call("rate_limited_count")
    print(
        f"   digests: {queued} gathered in {gathered:.2f} s; {channels} messages in {seconds:.2f} s"
    )
    print(f"   channels holding exactly one digest: {once}/{channels}; digest rows: {states}")
    print(f"   share of the workspace cap from the due minute: {share:.1%} (target >= 90%)")
    print(f"   429s received: {rate_limited}")

    sample = slack.new_channels("P", args.sample)
    with bot_services(slack, args, limits(args)) as services:
        subscribe(services, sample, None)
        with transaction(services.sessions) as session:
            ingest(session, briefs("posts"), announce=True)
        slack.call("clear")
        started = time.perf_counter()
        deliver_everything(services)
        naive = time.perf_counter() - started
    posts = args.sample * BRIEFS
    projected = max(channels * BRIEFS / (cap / 60), BRIEFS - 3)
    print(f"   one post per brief, measured on {args.sample} channels:", end=" ")
    print(f"{posts} messages in {naive:.2f} s")
    print(
        f"   one post per brief, all {channels} channels at this cap: {channels * BRIEFS} messages,"
        f" >= {projected:.0f} s (projected)"
    )
    print(f"   digests send {BRIEFS}x fewer messages and finish {projected / seconds:.1f}x sooner")
    return once == channels and share >= 0.9


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


def deliver_digests(services: Any, until: Future[Any]) -> None:
    """Delivery runs until gathering is done and no digest waits, as the deliver job would."""
    while True:
        services.deliverer.deliver_pending()
        with transaction(services.sessions) as session:
            states = digests.count_by_state(session)
        if until.done() and not states.get("pending") and not states.get("sending"):
            return
        time.sleep(0.05)


def cost_of_checks(args: argparse.Namespace) -> bool:
    channels, rounds, per_round = args.channels, 7, 20
    print(f"\n2. fan-out of {per_round} briefs to {channels} channels:", end=" ")
    print(f"every channel with options and a mute, vs none (best of {rounds}, interleaved)")
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(fan_out_database(args, shaped=False))
        shaped = stack.enter_context(fan_out_database(args, shaped=True))
        times: dict[bool, list[float]] = {False: [], True: []}
        routing: dict[bool, list[float]] = {False: [], True: []}
        for number in range(rounds):
            for with_checks, services in ((False, plain), (True, shaped)):
                signals = briefs(f"fan-{with_checks}-{number}", per_round)
                routing[with_checks].append(routing_seconds(services, signals))
                started = time.perf_counter()
                with transaction(services.sessions) as session:
                    ingest(session, signals, announce=True)
                times[with_checks].append(time.perf_counter() - started)
    for label, measured in (("fan-out into the outbox", times), ("routing alone", routing)):
        without, with_checks = min(measured[False]), min(measured[True])
        print(
            f"   {label}: {without * 1000:.0f} ms without, {with_checks * 1000:.0f} ms with", end=""
        )
        print(f" ({with_checks / without - 1:+.1%})")
    slower = min(times[True]) / min(times[False]) - 1
    print(f"   cost of the checks on the fan-out: {slower:+.1%} (target < 5%)")
    return slower < 0.05


@contextlib.contextmanager
def fan_out_database(args: argparse.Namespace, *, shaped: bool) -> Iterator[Any]:
    """Services on a fresh database whose channels all subscribe `all`; `shaped`: each with
    options (compact, half of them also a daily digest) and a mute that matches nothing."""

    class NoSlack:
        base_url = "http://127.0.0.1:9/api/"

    with bot_services(NoSlack(), args, limits(args)) as services:  # type: ignore[arg-type]
        channels = [f"CF{n:05d}" for n in range(args.channels)]
        subscribe(services, channels[::2], "daily@08:00" if shaped else None, compact=shaped)
        subscribe(services, channels[1::2], None, compact=shaped)
        if shaped:
            with transaction(services.sessions) as session:
                for channel in channels:
                    add_mute(
                        session,
                        channel_id=channel,
                        canonical_filter="entity:nobody-in-particular",
                        until=datetime.now(UTC) + timedelta(days=1),
                        who="U0",
                    )
        yield services


def routing_seconds(services: Any, signals: list[Any]) -> float:
    """Just the routing of `signals` to the channels (matching, overlap, mutes), no writes."""
    with transaction(services.sessions) as session:
        subscriptions = active_subscriptions(session)
        started = time.perf_counter()
        mutes = muted_filters(session, datetime.now(UTC))
        for signal in signals:
            route_signal(signal, subscriptions, mutes, compiled_filter)
        return time.perf_counter() - started


def subscribe(
    services: Any, channels: list[str], digest: str | None, *, compact: bool = False
) -> None:
    schedule = parse_schedule(digest) if digest else None
    options = AlertOptions(digest=schedule, tz="UTC", format="compact" if compact else "full")
    with transaction(services.sessions) as session:
        for channel in channels:
            save_subscription(
                session, ChannelRef(channel_id=channel), "all", options, DUE - timedelta(hours=2)
            )
        session.execute(update(Subscription).values(next_digest_at=DUE if digest else None))


def briefs(prefix: str, count: int = BRIEFS) -> list[Any]:
    return [a_signal(f"{prefix}-{n}", minutes=count - n) for n in range(count)]


if __name__ == "__main__":
    sys.exit(main())
