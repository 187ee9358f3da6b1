"""Search at scale: `python benchmarks/bench_search.py [--briefs N] [--database-url URL]`.

1. Builds (or reuses, from /tmp) N deterministic Zipf-like briefs stored as the app stores them,
   in an order shuffled against their dates; reports load and index build times and sizes.
2. The exhaustive scorer: for each query of the mix with free text, every matching brief is
   read and scored by the declared function (bot.search.rank), once: the exact top 20.
3. On SQLite, then on PostgreSQL when `--database-url` names an empty database (the corpus is
   copied there): the query mix through `bot.search.search` for `--rounds` rounds after a warm-up
   round: p50 / p95 / p99, each query's median, and recall@5 and @20 against the exhaustive
   scorer. The naive ways, timed exactly the same (warm-up, then the same rounds): the database
   ranking every match itself (FTS5 `ORDER BY bm25()`, PostgreSQL `ORDER BY ts_rank()`), and
   the exhaustive scorer of the same function.
4. Starts `signal-bot web` on the SQLite corpus, with the shipped defaults (one process) and
   then with `SIGNAL_BOT_WEB_WORKERS` set as a user sets it (`--web-workers`, default 2, one
   per core here), and sends signed `/brief` requests from 20 concurrent clients (asyncio, raw
   HTTP/1.1, in this process): p50 / p95 / p99 of the whole HTTP round trip, requests/s, the
   server's CPU per request, and the machine's load at the time.
Targets (2-core machine, 1M briefs): SQLite p95 < 20 ms, p99 < 50 ms; PostgreSQL p95 < 50 ms;
`/brief` p99 < 150 ms; recall 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date

from search_corpus import Corpus, corpus, index_bytes, postgres_copy
from slash_load import LoadResult, slash_load
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.search import parse_query, search
from bot.search.backends import Constraints, TermAt
from bot.search.backends.postgres import tsquery_text
from bot.search.backends.sqlite import term_expression
from bot.search.grammar import text_terms
from bot.search.rank import day_number
from bot.search.ranked import score_all
from bot.search.store import full_text_index
from bot.store.db import make_engine, make_session_factory, transaction
from bot.store.models import StoredSignal

SEED = 20260423
ROUNDS = 5
TODAY = date(2026, 1, 1)  # the day after the corpus's last: recency is measured from here
QUERY_MIX = (
    "the",  # in nearly every brief
    "model",
    "security",
    "ransomware",
    "lota",  # rank 100 of 40,000 words
    "kalota",  # rank 500
    "tekvota",  # rank 5,000
    "mizufinta",  # rank 30,000
    "model security",  # two common words
    "the data model",  # three
    '"large language model"',
    '"supply chain"',
    '"the model"',  # a phrase of two very common words
    '"model of the data"',  # common words, rarely in this order
    "mo*",
    "sec*",
    "ransom*",
    "muse spark",
    "model entity:meta",
    "the entity:\"tarune dynamics\"",  # a common word and a rare entity
    "security category:funding -source:wire",
    'model topic:"cyber security" source:optyx',
    "model since:2024-01-01 until:2024-01-31",
    "security since:2025-06-01",
    "quantum until:2016-06-30",
    "security keyword:ransomware",
    "entity:openai",
    "since:2025-06-01 until:2025-06-07",
    "xyzzyq",  # no hit
    "kalota -rumour",
)  # fmt: skip
RANKED_MIX = [query for query in QUERY_MIX if text_terms(parse_query(query))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=1_000_000, help="corpus size")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of the query mix")
    parser.add_argument("--requests", type=int, default=600, help="signed /brief requests")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNAL_BOT_BENCH_POSTGRES_URL"),
        help="an empty PostgreSQL database to run the same measurements on",
    )
    parser.add_argument(
        "--baseline-rounds", type=int, help="rounds of the naive ranking (default: --rounds)"
    )
    parser.add_argument("--skip-http", action="store_true", help="skip the /brief load")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=2,
        help="SIGNAL_BOT_WEB_WORKERS for the second /brief run (default 2, one per core)",
    )
    parser.add_argument(
        "--skip-sqlite", action="store_true", help="measure PostgreSQL only (needs --database-url)"
    )
    args = parser.parse_args(argv)

    built = corpus(args.briefs, SEED)
    report_build(built)
    sqlite = make_session_factory(make_engine(f"sqlite:///{built.path}"))
    rounds = (args.rounds, args.baseline_rounds or args.rounds)
    if not args.skip_sqlite or args.database_url:
        exact, exhaustive_ms = cached_exhaustive_top(built, sqlite)
    if not args.skip_sqlite:
        measure("SQLite", sqlite, exact, exhaustive_ms, rounds, _bm25_top5)
    if args.database_url:
        copied = postgres_copy(built, args.database_url)
        print(f"\n== copying the corpus into PostgreSQL: {copied:,.0f} s")
        postgres = make_session_factory(make_engine(args.database_url))
        measure("PostgreSQL", postgres, exact, exhaustive_ms, rounds, _ts_rank_top5)
    if not args.skip_http:
        measure_http(built, args.requests, args.web_workers)
    return 0


def measure_http(built: Corpus, requests: int, web_workers: int) -> None:
    """Signed /brief at 20 concurrent: the shipped defaults, then the workers a user sets."""
    queries = list(QUERY_MIX)
    shipped = slash_load(built.path, queries, requests=requests, concurrency=20)
    report_load(shipped)
    setting = f"SIGNAL_BOT_WEB_WORKERS={web_workers}"
    user_set = slash_load(
        built.path,
        queries,
        requests=requests,
        concurrency=20,
        environment={"SIGNAL_BOT_WEB_WORKERS": str(web_workers)},
        label=f"user-set {setting}",
    )
    report_load(user_set)
    p99_ratio = _p99(user_set) / max(_p99(shipped), 0.001)
    speedup = user_set.per_second / shipped.per_second
    print(
        f"   {setting} against the shipped defaults: p99 {p99_ratio:.2f}x "
        f"(below 1 is faster), throughput {speedup:.2f}x"
    )


def _p99(result: LoadResult) -> float:
    return statistics.quantiles(result.latencies_ms, n=100, method="inclusive")[98]


def report_build(built: Corpus) -> None:
    fts, whole = index_bytes(built.path)
    print(f"\n== corpus: {built.briefs:,} briefs at {built.path} (storage order shuffled)")
    if built.load_seconds is not None and built.index_seconds is not None:
        print(f"   generate + store: {built.load_seconds:,.1f} s")
        print(f"   full-text index build (FTS5 insert + 'optimize'): {built.index_seconds:,.1f} s")
    else:
        print("   (cached: delete the file to measure the build again)")
    print(f"   full-text index: {fts / 1e6:,.0f} MB; database file: {whole / 1e6:,.0f} MB")
    print(f"   machine load (1, 5, 15 min): {os.getloadavg()}")


def exhaustive(session: Session, query: str) -> list[int]:
    """Every match of the query scored by the declared function: the seqs, best first."""
    parsed = parse_query(query)
    terms = text_terms(parsed)
    index = full_text_index(session, Constraints.of(parsed))
    matches = index.some([TermAt(term) for term in terms], 10**9)
    ranked = score_all(session, terms, [seq for _, seq in matches], day_number(TODAY))
    return [scored.seq for scored in ranked]


def cached_exhaustive_top(
    built: Corpus, sessions: sessionmaker[Session]
) -> tuple[dict[str, list[int]], list[float]]:
    """exhaustive_top, kept beside the corpus: at 1M briefs it takes minutes."""
    cache = built.path.with_suffix(f".exact-{TODAY.isoformat()}.json")
    if cache.exists():
        saved = json.loads(cache.read_text())
        if set(saved["exact"]) == set(RANKED_MIX):
            print(f"\n== exhaustive scorer: cached at {cache}")
            return saved["exact"], saved["took_ms"]
    exact, took = exhaustive_top(sessions)
    cache.write_text(json.dumps({"exact": exact, "took_ms": took}))
    return exact, took


def exhaustive_top(sessions: sessionmaker[Session]) -> tuple[dict[str, list[int]], list[float]]:
    """The exact top 20 of each ranked query, and how long each exhaustive run took (ms)."""
    print(f"\n== exhaustive scorer: {len(RANKED_MIX)} queries, every match scored")
    exact: dict[str, list[int]] = {}
    took: list[float] = []
    for query in RANKED_MIX:
        with transaction(sessions) as session:
            started = time.perf_counter()
            exact[query] = exhaustive(session, query)[:20]
            took.append((time.perf_counter() - started) * 1000)
        print(f"   {took[-1]:9.1f} ms  {query}")
    return exact, took


def measure(
    label: str,
    sessions: sessionmaker[Session],
    exact: dict[str, list[int]],
    exhaustive_ms: list[float],
    rounds: tuple[int, int],
    naive: Callable[[Session, str], object],
) -> None:
    """The mix through search, and the naive ranking, each after a warm-up round."""
    timings = _rounds(sessions, QUERY_MIX, rounds[0], _search)
    print(f"\n== {label}: {len(QUERY_MIX)} queries x {rounds[0]} rounds (after a warm-up round)")
    recalls = _recalls(sessions, exact)
    for query, values in timings.items():
        recall = recalls.get(query)
        shown = f"recall@5 {recall[0]:.2f} @20 {recall[1]:.2f}" if recall else "newest first"
        print(f"   {statistics.median(values):7.1f} ms  {shown:26}  {query}")
    _print_percentiles(
        f"{label} search", [value for values in timings.values() for value in values]
    )
    worst = min(min(pair) for pair in recalls.values())
    print(f"   lowest recall over the mix: {worst:.3f}")
    baseline = _rounds(sessions, RANKED_MIX, rounds[1], naive)
    print(f"   the naive ranking: {rounds[1]} rounds after a warm-up round")
    ours = [value for query in RANKED_MIX for value in timings[query]]
    theirs = [value for values in baseline.values() for value in values]
    _print_percentiles(f"{label} ranked queries, this search", ours, quantiles=(50, 95))
    _print_percentiles(f"{label} the database ranking every match", theirs, quantiles=(50, 95))
    _print_percentiles("the exhaustive scorer (same function)", exhaustive_ms, quantiles=(50, 95))
    ratio = statistics.median(theirs) / max(statistics.median(ours), 0.001)
    print(f"   naive p50 / search p50 = {ratio:,.1f}x")


def _rounds(
    sessions: sessionmaker[Session],
    queries: Sequence[str],
    rounds: int,
    action: Callable[[Session, str], object],
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {query: [] for query in queries}
    for round_number in range(rounds + 1):
        for query in queries:
            with transaction(sessions) as session:
                elapsed = _timed(lambda session=session, query=query: action(session, query))
            if round_number:
                timings[query].append(elapsed)
    return timings


def _search(session: Session, query: str) -> None:
    page = search(session, parse_query(query), today=TODAY)
    for hit in page.hits:
        assert hit.signal.title


def _recalls(
    sessions: sessionmaker[Session], exact: dict[str, list[int]]
) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for query, expected in exact.items():
        with transaction(sessions) as session:
            page = search(session, parse_query(query), limit=20, today=TODAY)
            seqs = _seqs_of(session, [hit.signal.id for hit in page.hits])
        found[query] = (_recall(seqs[:5], expected[:5]), _recall(seqs, expected))
    return found


def _seqs_of(session: Session, ids: list[str]) -> list[int]:
    rows = session.execute(
        select(StoredSignal.id, StoredSignal.seq).where(StoredSignal.id.in_(ids))
    )
    by_id: dict[str, int] = {signal_id: seq for signal_id, seq in rows}
    return [by_id[signal_id] for signal_id in ids]


def _recall(got: list[int], expected: list[int]) -> float:
    return len(set(got) & set(expected)) / len(expected) if expected else 1.0


def _bm25_top5(session: Session, query: str) -> None:
    """FTS5 ranking every match itself: the same MATCH as search, ordered by `bm25()` (title 8,
    facets 0, word levels 1, pairs 1)."""
    terms = text_terms(parse_query(query))
    match = " AND ".join(f"({term_expression(TermAt(term))})" for term in terms)
    session.execute(
        text(
            "SELECT rowid FROM signals_fts WHERE signals_fts MATCH :match "
            "ORDER BY bm25(signals_fts, 8.0, 0.0, 1.0, 1.0) LIMIT 5"
        ),
        {"match": match},
    ).all()


def _ts_rank_top5(session: Session, query: str) -> None:
    terms = text_terms(parse_query(query))
    tsquery = " & ".join(tsquery_text(term) for term in terms)
    session.execute(
        text(
            "SELECT seq FROM signals WHERE search_vector @@ CAST(:q AS tsquery) "
            "ORDER BY ts_rank(search_vector, CAST(:q AS tsquery)) DESC LIMIT 5"
        ),
        {"q": tsquery},
    ).all()


def report_load(result: LoadResult) -> None:
    print(
        f"\n== signed /brief over HTTP ({result.label}): {result.requests} requests, "
        f"{result.concurrency} clients"
    )
    print(
        f"   answered in the HTTP response: {result.answered}; via response_url: {result.deferred}"
    )
    print(f"   errors: {result.errors}; throughput: {result.per_second:,.0f} requests/s")
    print(
        f"   CPU per request: server {result.server_cpu_ms_per_request:.1f} ms, "
        f"load generator {result.client_cpu_ms_per_request:.1f} ms; "
        f"machine load (1, 5, 15 min) {result.load_average}"
    )
    _print_percentiles("/brief", result.latencies_ms, quantiles=(50, 95, 99))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _print_percentiles(
    label: str, values: list[float], quantiles: Sequence[int] = (50, 95, 99)
) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    figures = ", ".join(f"p{q} {cuts[q - 1]:.1f} ms" for q in quantiles)
    print(f"   {label}: {figures} (n={len(values)}, max {max(values):.1f} ms)")


if __name__ == "__main__":
    raise SystemExit(main())
