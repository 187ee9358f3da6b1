"""Search at scale: `python benchmarks/bench_search.py [--briefs N]` prints every figure.

1. Builds (or reuses, from /tmp) N deterministic Zipf-like briefs stored as the app stores them;
   reports the load time, the full-text index build time and the index and database sizes.
2. Runs a fixed query mix (words rare to ubiquitous, phrases, prefixes, FILTER fields, dates,
   no hit) through `bot.search.store.search`, several rounds: p50 / p95 / p99, and each query's.
3. Runs the mix's free text as a plain `LIKE '%term%'` scan, and as FTS5 `ORDER BY bm25` (the
   trap the design avoids), once each: p50 / p95, and the LIKE / search ratio.
4. Starts `signal-bot web` on the corpus and sends signed `/brief` requests from 20 concurrent
   clients: p50 / p99 of the whole HTTP round trip.
Targets (2-core machine, 1M briefs, SQLite): search p95 < 50 ms; `/brief` p99 < 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from search_corpus import Corpus, corpus, index_bytes
from slash_load import LoadResult, slash_load
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from bot.search.grammar import fts5_match, parse_query, text_terms
from bot.store.db import make_engine, make_session_factory, transaction
from bot.store.models import StoredSignal
from bot.search.store import search

SEED = 20260423
ROUNDS = 5
QUERY_MIX = (
    "the",  # in nearly every brief
    "model",
    "security",
    "ransomware",
    "lota",  # rank 100 of 40,000 words
    "kalota",  # rank 500
    "tekvota",  # rank 5,000
    "mizufinta",  # rank 30,000
    "model security",
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
    "quantum until:2016-06-30",
    "security keyword:ransomware",
    "entity:openai",
    "since:2025-06-01 until:2025-06-07",
    "xyzzyq",  # no hit
    "kalota -rumour",
)  # fmt: skip
# The free text of the mix, for the LIKE comparison: every word must occur.
LIKE_MIX = [query for query in QUERY_MIX if ":" not in query and "-" not in query]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=1_000_000, help="corpus size")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of the query mix")
    parser.add_argument("--requests", type=int, default=600, help="signed /brief requests")
    parser.add_argument("--skip-like", action="store_true", help="skip the LIKE comparison")
    args = parser.parse_args(argv)

    built = corpus(args.briefs, SEED)
    report_build(built)
    searched = measure_search(built, args.rounds)
    if not args.skip_like:
        measure_like(built, searched)
    report_load(slash_load(built.path, list(QUERY_MIX), requests=args.requests, concurrency=20))
    return 0


def report_build(built: Corpus) -> None:
    fts, whole = index_bytes(built.path)
    print(f"\n== corpus: {built.briefs:,} briefs at {built.path}")
    if built.load_seconds is not None and built.index_seconds is not None:
        print(f"   generate + store: {built.load_seconds:,.1f} s")
        print(
            f"   full-text index build (FTS5 'rebuild' + 'optimize'): {built.index_seconds:,.1f} s"
        )
    else:
        print("   (cached: delete the file to measure the build again)")
    print(f"   full-text index: {fts / 1e6:,.0f} MB; database file: {whole / 1e6:,.0f} MB")


def measure_search(built: Corpus, rounds: int) -> dict[str, list[float]]:
    """Each query's latencies in ms over `rounds` rounds, after one warm-up round."""
    sessions = make_session_factory(make_engine(f"sqlite:///{built.path}"))
    timings: dict[str, list[float]] = {query: [] for query in QUERY_MIX}
    for round_number in range(rounds + 1):
        for query in QUERY_MIX:
            elapsed = _timed(lambda query=query: _search(sessions, query))
            if round_number:
                timings[query].append(elapsed)
    print(f"\n== search: {len(QUERY_MIX)} queries x {rounds} rounds (after a warm-up round)")
    for query, values in timings.items():
        print(f"   {statistics.median(values):7.1f} ms  {query}")
    _print_percentiles("search", [value for values in timings.values() for value in values])
    return timings


def _search(sessions: Callable[[], Session], query: str) -> None:
    with transaction(sessions) as session:  # type: ignore[arg-type]
        page = search(session, parse_query(query))
        for hit in page.hits:
            assert hit.signal.title


def measure_like(built: Corpus, searched: dict[str, list[float]]) -> None:
    """The mix's free text as a plain `LIKE '%word%'` scan, and as FTS5 ranked by bm25()."""
    engine = make_engine(f"sqlite:///{built.path}")
    like: dict[str, float] = {}
    naive: dict[str, float] = {}
    with engine.connect() as connection:
        for query in LIKE_MIX:
            terms = parse_query(query).terms
            words = " AND ".join(f"keyword_text LIKE '%{t.text.lower()}%'" for t in terms)
            like[query] = _timed(lambda words=words: _like_scan(connection, words))
            match = fts5_match(text_terms(parse_query(query)), ["search_title", "search_body"])
            naive[query] = _timed(lambda match=match: _bm25_top5(connection, match))
    print(f"\n== baselines: {len(LIKE_MIX)} queries of the mix (no FILTER fields), once each")
    print("     LIKE scan   FTS5 bm25 top 5   this search (p50)")
    for query in LIKE_MIX:
        ours = statistics.median(searched[query])
        print(f"   {like[query]:9.1f} ms  {naive[query]:9.1f} ms  {ours:9.1f} ms   {query}")
    ranked = [statistics.median(searched[query]) for query in LIKE_MIX]
    _print_percentiles("LIKE scan", list(like.values()), quantiles=(50, 95))
    _print_percentiles("FTS5 ORDER BY bm25 LIMIT 5", list(naive.values()), quantiles=(50, 95))
    _print_percentiles("this search, same queries", ranked, quantiles=(50, 95))
    ratio = statistics.median(like.values()) / max(statistics.median(ranked), 0.001)
    print(f"   LIKE p50 / search p50 = {ratio:,.0f}x")


def _like_scan(connection: Connection, condition: str) -> None:
    connection.execute(text(f"SELECT count(*) FROM signals WHERE {condition}")).scalar()
    newest = select(StoredSignal.seq).where(text(condition))
    connection.execute(newest.order_by(StoredSignal.published.desc()).limit(5)).all()


def _bm25_top5(connection: Connection, match: str | None) -> None:
    connection.exec_driver_sql(
        "SELECT rowid FROM signals_fts WHERE signals_fts MATCH ? "
        "ORDER BY bm25(signals_fts, 8.0, 1.0, 0.0) LIMIT 5",
        (match,),
    ).all()


def report_load(result: LoadResult) -> None:
    print(f"\n== signed /brief over HTTP: {result.requests} requests, {result.concurrency} clients")
    print(
        f"   answered in the HTTP response: {result.answered}; via response_url: {result.deferred}"
    )
    print(f"   errors: {result.errors}; throughput: {result.per_second:,.0f} requests/s")
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
