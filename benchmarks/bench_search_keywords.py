"""`keyword:` and `-keyword:` on PostgreSQL, newest first and ranked:
`python benchmarks/bench_search_keywords.py --database-url URL [--rounds N] [--walk]`.

Runs each query as `/brief` does (bot.search.store, the shipped engine settings of
bot.store.db.make_engine) on an existing database (the bench_search corpus, e.g. at 1M briefs),
after a warm-up round, and prints each query's median and the hits it returned. With `--walk`
the same queries run again the way 0.2 did before (the newest-first walk to the end of the
archive, no rest read at once) and the ratio is printed; that run takes minutes at 1M.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from datetime import date
from unittest import mock

from bot.filters import parse_filter
from bot.search import latest_page, search
from bot.search import store as search_store
from bot.search.grammar import parse_query
from bot.store.db import make_engine, make_session_factory, transaction

TODAY = date(2026, 1, 1)
QUERIES = (
    "latest keyword:rumour",  # no brief has it
    "latest keyword:ransomware",  # common
    "latest -keyword:rumour",
    "latest -keyword:the",  # excludes every brief
    "model -keyword:rumour",
    '"large language model" -keyword:rumour',
    "muse spark -keyword:rumour",
    "security keyword:ransomware",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database holding a corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--walk", action="store_true", help="also time the walk to the end")
    args = parser.parse_args(argv)
    sessions = make_session_factory(make_engine(args.database_url))

    def run(query: str) -> list[str]:
        with transaction(sessions) as session:
            if query.startswith("latest"):
                found = parse_filter(query.removeprefix("latest").strip() or "all")
                page = latest_page(session, found, limit=5)
            else:
                page = search(session, parse_query(query), limit=5, today=TODAY)
        return [hit.signal.key for hit in page.hits]

    def timed(query: str) -> tuple[float, list[str]]:
        run(query)  # warm-up
        took = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            keys = run(query)
            took.append((time.perf_counter() - started) * 1000)
        return statistics.median(took), keys

    print(f"== {args.rounds} rounds after a warm-up round, median per query")
    ours = {query: timed(query) for query in QUERIES}
    for query, (median, keys) in ours.items():
        print(f"   {median:9.1f} ms  {query}  {keys}")
    if args.walk:
        print("== the walk to the end of the archive (0.2 before), same rounds")
        with mock.patch.object(search_store, "rest_plan", return_value=None):
            for query in QUERIES:
                if not query.startswith("latest"):
                    continue
                median, keys = timed(query)
                same = "same hits" if keys == ours[query][1] else "DIFFERENT HITS"
                ratio = median / max(ours[query][0], 0.001)
                print(f"   {median:9.1f} ms  {ratio:7.1f}x  {same}  {query}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
