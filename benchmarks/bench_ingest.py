"""Ingestion at scale: `python benchmarks/bench_ingest.py [--archive-briefs N]` prints

0. an archive of N generated briefs (NDJSON, default 100,000) through `signal-bot ingest` as
   shipped (worker processes reading, this one storing), the same with `--workers 0` (all in
   one process), against two naive ways: the same archive as one JSON array, `json.load`-ed
   and stored in one go (at most NAIVE_ARCHIVE_BRIEFS), and the normal store path one brief at
   a time, a transaction each (at most ONE_BY_ONE_BRIEFS): briefs/s, CPU time per brief of the
   storing process and of the workers, the rate the storing process's CPU time allows, peak
   RSS of each, the machine's load meanwhile, and the ratios of as shipped to each naive way;
   then where the time of 10,000 briefs goes: reading them (JSON, validation, search columns),
   and storing them into SQLite with the full-text index, with it but without the word pairs
   (`search_pairs` empty), and without it (the trigger dropped);
1. a folder of 10,000 briefs ingested cold (signals/s, peak memory);
2. a feed of 5,000 entries ingested cold, batched, against a naive one-transaction-per-entry
   baseline (signals/s, peak memory);
3. a poll cycle of 200 feeds of which 190 answer 304, against a naive poller that fetches,
   parses and upserts every feed every time (requests, bytes, CPU time, wall time).

Each scenario runs in its own process on a fresh SQLite database (or `--database-url`, which
must be an empty database), so peak RSS is that scenario's. Feeds come from a loopback
publisher in another process, so the CPU time is the poller's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loopback_publisher import start_publisher

from bot.config import SourceConfig
from bot.ingest import ingest
from bot.sources import poll_source
from bot.sources.feed import parse_feed
from bot.sources.http import Fetcher
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.models import utcnow

SEED = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "briefs"
    / "seed_meta_muse_spark.txt"
)
BRIEFS = 10_000
FEEDS = 200
CHANGED_FEEDS = 10
POLL_THREADS = 10  # APScheduler's default thread pool
ARCHIVE_VARIABLE = "SIGNAL_BOT_BENCH_ARCHIVE_BRIEFS"
NAIVE_ARCHIVE_BRIEFS = 50_000
ONE_BY_ONE_BRIEFS = 5_000
SPLIT_BRIEFS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--publisher", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--archive-briefs", type=int, default=100_000, help="archive size")
    parser.add_argument("--only", default="", help="run the scenarios whose name holds this")
    args = parser.parse_args()
    if args.scenario:
        print(
            json.dumps(
                SCENARIOS[args.scenario](args.database_url or _fresh_sqlite(), args.publisher)
            )
        )
        return
    os.environ[ARCHIVE_VARIABLE] = str(args.archive_briefs)  # read by the scenario processes
    publisher, base_url = start_publisher()
    try:
        results = {
            name: _run_child(name, base_url, args.database_url)
            for name in SCENARIOS
            if args.only in name
        }
    finally:
        publisher.terminate()
    _print(results)


def _run_child(name: str, base_url: str, database_url: str | None) -> dict[str, Any]:
    """The scenario in a process of its own, whose files (database, archive, folder) go to a
    temporary folder removed when it is done: at 1M briefs they are gigabytes."""
    command = [sys.executable, __file__, "--scenario", name, "--publisher", base_url]
    if database_url:
        command += ["--database-url", database_url]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        environment = {**os.environ, "TMPDIR": folder}  # where the child's mkdtemp writes
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fresh_sqlite() -> str:
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench-')}/bench.db"


def _sessions(database_url: str) -> Any:
    engine = make_engine(database_url)
    upgrade(engine)
    return make_session_factory(engine)


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Callable[[], int]) -> dict[str, float]:
    rss_before = _peak_rss_mb()
    children_before = _children_cpu_s()
    wall, cpu = time.perf_counter(), time.process_time()
    stored = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures = {
        "signals": stored,
        "seconds": round(wall, 2),
        "signals_per_s": round(stored / wall),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_signal": round(cpu / max(stored, 1) * 1e6),
        # What this process alone could sustain: steadier than wall time on a shared machine.
        "signals_per_cpu_s": round(stored / cpu) if cpu else 0,
        "peak_rss_mb": round(_peak_rss_mb()),
        "rss_growth_mb": round(_peak_rss_mb() - rss_before),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    if workers_cpu := _children_cpu_s() - children_before:
        figures["workers_cpu_s"] = round(workers_cpu, 2)
        figures["workers_cpu_us_per_signal"] = round(workers_cpu / max(stored, 1) * 1e6)
        figures["workers_peak_rss_mb"] = round(_peak_rss_mb(resource.RUSAGE_CHILDREN))
    return figures


def _archive_objects(count: int) -> Any:
    from brief_generator import BriefGenerator

    for signal in BriefGenerator(7, count).briefs(0, count):
        yield {
            "title": signal.title,
            "published": signal.published.isoformat(),
            "key": signal.key,
            "entity": signal.entity,
            "category": signal.category,
            "topic": signal.topic,
            "summary": signal.summary,
            "url": signal.url,
            "sections": [{"heading": s.heading, "body": s.body} for s in signal.sections],
        }


def archive_streamed(database_url: str, _: str, *options: str) -> dict[str, Any]:
    """`signal-bot ingest archive.ndjson`: the command a user runs, streamed, as shipped."""
    from bot.cli import main as signal_bot

    count = int(os.environ[ARCHIVE_VARIABLE])
    archive = Path(tempfile.mkdtemp(prefix="archive-")) / "archive.ndjson"
    with archive.open("w", encoding="utf-8") as out:
        for item in _archive_objects(count):
            out.write(json.dumps(item) + "\n")
    os.environ["DATABASE_URL"] = database_url
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        os.environ.pop(name, None)
    command = ["ingest", str(archive), *options]
    with open(os.devnull, "w") as quiet:
        sys.stdout = quiet
        try:
            figures = _timed(lambda: count if signal_bot(command) == 0 else 0)
        finally:
            sys.stdout = sys.__stdout__
    size = archive.stat().st_size
    archive.unlink()
    return {
        "command": "signal-bot " + " ".join(command).replace(str(archive), "archive.ndjson"),
        **figures,
        "archive_mb": round(size / 1e6),
    }


def archive_one_process(database_url: str, publisher: str) -> dict[str, Any]:
    """The same, all in one process (`--workers 0`)."""
    return archive_streamed(database_url, publisher, "--workers", "0")


def where_time_goes(database_url: str, _: str) -> dict[str, Any]:
    """Seconds per 10,000 briefs (CPU): reading them, and storing them with and without the
    full-text index's trigger (SQLite; the difference is the FTS5 insert)."""
    from sqlalchemy import text

    from bot.bulk_ingest import prepare
    from bot.sources.stream import Unread
    from bot.store.bulk_writes import bulk_writes
    from bot.store.signals import insert_new_signals, row_values

    if not database_url.startswith("sqlite"):
        return {"skipped": "SQLite only"}
    lines = [json.dumps(item) for item in _archive_objects(SPLIT_BRIEFS)]
    started = time.process_time()
    unread = [Unread(f"archive:{n}", 0, text=line) for n, line in enumerate(lines)]
    prepared = prepare(unread, source="cli")
    figures = {"read_parse_validate_search_columns_s": round(time.process_time() - started, 2)}
    variants = (
        ("store_with_fts5_s", False, False),
        ("store_with_fts5_but_no_pairs_s", False, True),
        ("store_without_fts5_s", True, False),
    )
    for label, drop_trigger, without_pairs in variants:
        sessions = _sessions(_fresh_sqlite())
        if drop_trigger:
            with transaction(sessions) as session:
                session.execute(text("DROP TRIGGER signals_fts_insert"))
        rows = [row_values(item.row) for item in prepared]  # type: ignore[union-attr]
        if without_pairs:
            for row in rows:
                row["search_pairs"] = ""
        started = time.process_time()
        with bulk_writes(sessions):
            for start in range(0, len(rows), 2000):
                with transaction(sessions) as session:
                    insert_new_signals(session, rows[start : start + 2000], utcnow())
        figures[label] = round(time.process_time() - started, 2)
    figures["fts5_insert_s"] = round(
        figures["store_with_fts5_s"] - figures["store_without_fts5_s"], 2
    )
    figures["fts5_pairs_s"] = round(
        figures["store_with_fts5_s"] - figures["store_with_fts5_but_no_pairs_s"], 2
    )
    return figures


def archive_naive(database_url: str, _: str) -> dict[str, Any]:
    """Baseline: the archive as one JSON array, `json.load`-ed whole, stored in one go."""
    from bot.sources.json_signals import parse_json_signals

    count = min(int(os.environ[ARCHIVE_VARIABLE]), NAIVE_ARCHIVE_BRIEFS)
    archive = Path(tempfile.mkdtemp(prefix="archive-")) / "archive.json"
    archive.write_text(json.dumps(list(_archive_objects(count))), encoding="utf-8")
    sessions = _sessions(database_url)

    def work() -> int:
        signals = parse_json_signals(archive.read_text(encoding="utf-8"))
        with transaction(sessions) as session:
            return len(ingest(session, [s.keyed("cli") for s in signals], announce=True).new)

    return _timed(work)


def archive_one_by_one(database_url: str, _: str) -> dict[str, Any]:
    """Baseline: the normal store path one brief at a time, as a loop over `signal-bot ingest
    brief.json` would store it (without the process start-up): a transaction per brief."""
    from bot.sources.json_signals import parse_json_signals

    count = min(int(os.environ[ARCHIVE_VARIABLE]), ONE_BY_ONE_BRIEFS)
    texts = [json.dumps(item) for item in _archive_objects(count)]
    sessions = _sessions(database_url)

    def work() -> int:
        new = 0
        for body in texts:
            signals = [signal.keyed("cli") for signal in parse_json_signals(body)]
            with transaction(sessions) as session:
                new += len(ingest(session, signals, announce=True).new)
        return new

    return _timed(work)


def folder_cold(database_url: str, _: str) -> dict[str, Any]:
    """10,000 brief files, one poll."""
    folder = Path(tempfile.mkdtemp(prefix="briefs-"))
    seed = SEED.read_text(encoding="utf-8")
    for n in range(BRIEFS):
        brief = seed.replace("Muse Spark", f"Muse Spark {n}")
        (folder / f"brief-{n:05}.txt").write_text(brief, encoding="utf-8")
    sessions = _sessions(database_url)
    source = SourceConfig(name="folder", kind="folder", path=folder)
    return _timed(lambda: len(poll_source(sessions, source).ingest.new))


def feed_cold(database_url: str, publisher: str) -> dict[str, Any]:
    """5,000 entries, one poll: parsed once, stored in batches."""
    sessions = _sessions(database_url)
    source = SourceConfig(name="big", kind="feed", url=f"{publisher}/big")
    return _timed(lambda: len(poll_source(sessions, source, fetcher=Fetcher()).ingest.new))


def feed_cold_naive(database_url: str, publisher: str) -> dict[str, Any]:
    """Baseline: the same feed with one transaction per entry."""
    sessions = _sessions(database_url)

    def work() -> int:
        body = httpx.get(f"{publisher}/big").content
        new = 0
        for item in parse_feed(body, first_seen=utcnow()).items:
            with transaction(sessions) as session:
                new += len(ingest(session, [item.signal.keyed("big")], announce=False).new)
        return new

    return _timed(work)


def _feeds(publisher: str) -> list[SourceConfig]:
    return [
        SourceConfig(name=f"feed-{n}", kind="feed", url=f"{publisher}/feed/{n}")
        for n in range(FEEDS)
    ]


def _cycle(publisher: str, poll: Callable[[SourceConfig], object]) -> dict[str, Any]:
    """Prime every feed, publish to 10 of them, then measure one cycle over all 200."""
    sources = _feeds(publisher)
    with ThreadPoolExecutor(POLL_THREADS) as pool:
        list(pool.map(poll, sources))
        for n in range(CHANGED_FEEDS):
            httpx.post(f"{publisher}/publish/{n * (FEEDS // CHANGED_FEEDS)}")
        httpx.post(f"{publisher}/stats/reset")
        wall, cpu = time.perf_counter(), time.process_time()
        list(pool.map(poll, sources))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = httpx.get(f"{publisher}/stats").json()
    return {
        "requests": stats["requests"],
        "kilobytes": round(stats["bytes"] / 1024),
        "cpu_ms": round(cpu * 1000),
        "cpu_ms_per_feed": round(cpu * 1000 / FEEDS, 2),
        "wall_ms": round(wall * 1000),
    }


def poll_cycle(database_url: str, publisher: str) -> dict[str, Any]:
    """200 feeds through poll_source: conditional GET, 304s cost no parse and no writes."""
    sessions, fetcher = _sessions(database_url), Fetcher()
    return _cycle(publisher, lambda source: poll_source(sessions, source, fetcher=fetcher))


def poll_cycle_naive(database_url: str, publisher: str) -> dict[str, Any]:
    """Baseline: fetch every feed in full, parse it, upsert every entry, every cycle."""
    sessions, client = _sessions(database_url), httpx.Client()

    def poll(source: SourceConfig) -> None:
        assert source.url is not None
        body = client.get(source.url).content
        signals = [i.signal.keyed(source.name) for i in parse_feed(body, first_seen=utcnow()).items]
        with transaction(sessions) as session:
            ingest(session, signals, announce=True)

    return _cycle(publisher, poll)


SCENARIOS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "archive (NDJSON) through `signal-bot ingest`, as shipped": archive_streamed,
    "archive (NDJSON) through `signal-bot ingest --workers 0`": archive_one_process,
    f"archive as one JSON array, json.load + one transaction (<= {NAIVE_ARCHIVE_BRIEFS:,})": (
        archive_naive
    ),
    f"archive one brief at a time, a transaction each (<= {ONE_BY_ONE_BRIEFS:,})": (
        archive_one_by_one
    ),
    "where the time of 10,000 briefs goes (CPU s)": where_time_goes,
    "folder of 10,000 briefs, cold": folder_cold,
    "feed of 5,000 entries, cold, batched": feed_cold,
    "feed of 5,000 entries, cold, naive (1 transaction per entry)": feed_cold_naive,
    "200 feeds, 190 answer 304": poll_cycle,
    "200 feeds, naive poller (no conditional GET)": poll_cycle_naive,
}


def _print(results: dict[str, dict[str, Any]]) -> None:
    print(f"signal-bot ingest benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, figures in results.items():
        print(f"\n{name}")
        for key, value in figures.items():
            print(f"  {key:16} {value}")
    _print_ratios(results)


def _print_ratios(results: dict[str, dict[str, Any]]) -> None:
    """`signal-bot ingest` as shipped against each naive way: wall rate, and the rate the
    storing process's CPU time allows (the steadier figure when the machine is shared)."""
    shipped = next((f for name, f in results.items() if "as shipped" in name), None)
    if not shipped:
        return
    for name, figures in results.items():
        if "one JSON array" not in name and "one brief at a time" not in name:
            continue
        wall = shipped["signals_per_s"] / max(figures["signals_per_s"], 1)
        cpu = shipped["signals_per_cpu_s"] / max(figures["signals_per_cpu_s"], 1)
        print(f"\nas shipped vs {name}: {wall:.1f}x briefs/s (wall), {cpu:.1f}x by CPU")


if __name__ == "__main__":
    main()
