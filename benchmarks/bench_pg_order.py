"""The newest k of a class on PostgreSQL, three ways: `python benchmarks/bench_pg_order.py URL`.

URL names an empty PostgreSQL database whose server has the `rum` extension. A table of
`--rows` rows (1,000,000) gets a token vector with tokens in 0.2 %, 1 %, 5 %, 20 % and 100 % of
the rows, days spread at random, and the three indexes search can use. For each token (and two
ANDs) the newest 5 rows are read `--rounds` times after a warm-up round, by:
- `rum`: RUM's ordered scan, `ORDER BY order_key <=| NEWEST` (reads every posting of the tokens);
- `gin`: a GIN bitmap of every match, fetched and sorted;
- `walk`: the (day, seq) index walked newest first, each row tested until 5 match.
The medians give the per-posting, per-row and per-match costs of bot.search.backends.postgres.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import psycopg

TOKENS = {"c02": 0.002, "c1": 0.01, "c5": 0.05, "c20": 0.2}
QUERIES = ("c02", "c1", "c5", "c20", "all", "c1 & c5", "c5 & c20")
NEWEST = 2**53
WAYS = {
    "rum": (
        "",
        "SELECT seq FROM order_bench WHERE v @@ %(q)s::tsquery "
        f"ORDER BY order_key <=| {NEWEST}::bigint LIMIT 5",
    ),
    "gin": (
        "SET LOCAL enable_indexscan = off",
        "SELECT seq FROM order_bench WHERE v @@ %(q)s::tsquery ORDER BY day DESC, seq DESC LIMIT 5",
    ),
    "walk": (
        "SET LOCAL enable_bitmapscan = off",
        "SELECT seq FROM order_bench WHERE v @@ %(q)s::tsquery ORDER BY day DESC, seq DESC LIMIT 5",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="an empty PostgreSQL database (postgresql://…)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    url = args.url.replace("postgresql+psycopg://", "postgresql://")
    # Planned for each token, without JIT: as the app's connections are (bot.store.db).
    # Autocommit: each round is its own transaction, so SET LOCAL ends with it.
    with psycopg.connect(url, prepare_threshold=None, autocommit=True) as db:
        db.execute("SET plan_cache_mode = force_custom_plan")
        db.execute("SET jit = off")
        build(db, args.rows)
        print(f"== newest 5 of a class among {args.rows:,} rows: median ms of {args.rounds}")
        print(f"   {'query':10} {'matches':>9} " + " ".join(f"{way:>8}" for way in WAYS))
        for query in QUERIES:
            matches = db.execute(
                "SELECT count(*) FROM order_bench WHERE v @@ %s::tsquery", (query,)
            ).fetchone()
            times = [median_ms(db, WAYS[way], query, args.rounds) for way in WAYS]
            print(
                f"   {query:10} {matches[0] if matches else 0:>9,} "
                + " ".join(f"{t:8.1f}" for t in times)
            )
    return 0


def build(db: psycopg.Connection, rows: int) -> None:
    db.execute("CREATE EXTENSION IF NOT EXISTS rum")
    db.execute("DROP TABLE IF EXISTS order_bench")
    tokens = ", ".join(
        f"CASE WHEN random() < {share} THEN '{t}' END" for t, share in TOKENS.items()
    )
    db.execute(
        "CREATE TABLE order_bench (seq bigint PRIMARY KEY, day int NOT NULL, v tsvector NOT NULL,"
        " pad text, order_key bigint GENERATED ALWAYS AS (day::bigint * 4294967296 + seq) STORED)"
    )
    db.execute(
        "INSERT INTO order_bench (seq, day, v, pad) SELECT g, 10000 + (random() * 5000)::int, "
        f"array_to_tsvector(array_remove(ARRAY[{tokens}, 'all'], NULL)), repeat('x', 600) "
        "FROM generate_series(1, %s) g",
        (rows,),
    )
    db.execute(
        "CREATE INDEX ON order_bench USING rum (v rum_tsvector_addon_ops, order_key) "
        "WITH (attach = 'order_key', to = 'v', order_by_attach = 't')"
    )
    db.execute("CREATE INDEX ON order_bench USING gin (v)")
    db.execute("CREATE INDEX ON order_bench (day, seq)")
    db.execute("VACUUM ANALYZE order_bench")


def median_ms(db: psycopg.Connection, way: tuple[str, str], query: str, rounds: int) -> float:
    setting, statement = way
    taken = []
    for round_number in range(rounds + 1):
        with db.transaction():
            if setting:
                db.execute(setting)
            started = time.perf_counter()
            db.execute(statement, {"q": query}).fetchall()
            if round_number:
                taken.append((time.perf_counter() - started) * 1000)
    return statistics.median(taken)


if __name__ == "__main__":
    raise SystemExit(main())
