"""Managing subscriptions at scale: picker suggestions and the modal's preview count at a million
briefs, and App Home publish time for a workspace with 500 subscriptions.

    python benchmarks/bench_manage.py [--briefs 1000000] [--rounds 20]

The corpus is the search benchmark's (benchmarks/search_corpus.py, cached under /tmp), opened
read-only; its newest brief stands for "now", so the 30-day window holds what it would in use.
Each figure is compared, in the same run, with the naive way:
- suggestions: one GROUP BY over the whole archive, filtered in Python, vs. the 30-day window
  plus a loose index scan (bot.store.facets.facet_options);
- preview count: the same COUNT with the indexes ignored (`NOT INDEXED`), vs. as the app runs it;
- App Home: one page of 20 (bot.slack.views.home) vs. all 500 in one view, which Slack refuses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from search_corpus import corpus
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.filters import parse_filter
from bot.slack.modal_data import pickers
from bot.store.facets import facet_options, filter_conditions, matching_count
from bot.store.models import StoredSignal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SEED = 20260423
# What people type into the entity picker: nothing, one letter, a syllable, a prefix, a miss.
TYPED = ("", "m", "ka", "me", "lo", "shi", "tsm", "open", "ra", "zzz", "vo", "cor")
PREVIEWS = (
    "topic:ai-advances",
    "entity:meta",
    "topic:cyber-security entity:microsoft",
    "category:research -entity:google",
    "keyword:muse",
    "topic:ai-advances keyword:supply chain",
    "entity:kalota entity:meta category:funding",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=1_000_000, help="corpus size")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of each mix")
    parser.add_argument("--subscriptions", type=int, default=500, help="for the App Home")
    args = parser.parse_args(argv)

    built = corpus(args.briefs, SEED)
    engine = create_engine(f"sqlite:///file:{built.path}?mode=ro&uri=true")
    sessions = sessionmaker(engine)
    with sessions() as session:
        newest = session.scalar(select(func.max(StoredSignal.published)))
        assert newest is not None, "an empty corpus"
        since = newest - timedelta(days=30)
        in_window = session.scalar(select(func.count()).where(StoredSignal.published >= since))
    print(
        f"\n== {args.briefs:,} briefs; {in_window:,} in the last 30 days before {newest:%Y-%m-%d}"
    )
    measure_form(sessions, since, args.rounds)
    measure_suggestions(sessions, since, args.rounds)
    measure_previews(sessions, since, args.rounds)
    engine.dispose()
    from home_bench import measure_home  # beside this file: the App Home against a fake Slack

    measure_home(args.subscriptions, args.rounds)
    return 0


def measure_form(sessions: sessionmaker[Session], since: object, rounds: int) -> None:
    """Everything the form needs from the database when it opens (within Slack's 3 s)."""
    timings = _rounds(rounds, [None], lambda _: _pickers(sessions, since))
    with sessions() as session:
        shown = pickers(session, since)  # type: ignore[arg-type]
    kinds = ", ".join(
        f"{p.field}: {'type-ahead' if p.external else f'{len(p.options)} listed'}" for p in shown
    )
    print(f"\n== opening the form: the pickers ({kinds})")
    print_percentiles("this app", timings)


def _pickers(sessions: sessionmaker[Session], since: object) -> None:
    with sessions() as session:
        pickers(session, since)  # type: ignore[arg-type]


def measure_suggestions(sessions: sessionmaker[Session], since: object, rounds: int) -> None:
    ours = _rounds(rounds, TYPED, lambda typed: _suggest(sessions, typed, since))
    naive = _rounds(max(rounds // 5, 1), TYPED, lambda typed: _naive_suggest(sessions, typed))
    print(f"\n== block_suggestion (entity picker): {len(TYPED)} typed texts x {rounds} rounds")
    _compare(ours, naive, "GROUP BY the whole archive, filtered in Python")


def _suggest(sessions: sessionmaker[Session], typed: str, since: object) -> None:
    with sessions() as session:
        facet_options(session, "entity", typed, since, limit=100)  # type: ignore[arg-type]


def _naive_suggest(sessions: sessionmaker[Session], typed: str) -> None:
    query = select(StoredSignal.entity_slug, func.count()).group_by(StoredSignal.entity_slug)
    with sessions() as session:
        rows = [row for row in session.execute(query) if typed in row[0]]
    sorted(rows, key=lambda row: -row[1])[:100]


def measure_previews(sessions: sessionmaker[Session], since: object, rounds: int) -> None:
    filters = [parse_filter(text) for text in PREVIEWS]
    ours = _rounds(rounds, filters, lambda f: _count(sessions, f, since))
    naive = _rounds(max(rounds // 5, 1), filters, lambda f: _count_unindexed(sessions, f, since))
    print(f'\n== preview count ("N briefs of the last 30 days"): {len(PREVIEWS)} filters')
    with sessions() as session:
        for text_filter, parsed in zip(PREVIEWS, filters, strict=True):
            count = matching_count(session, parsed, since)  # type: ignore[arg-type]
            print(f"   {count:7,} briefs  {text_filter}")
    _compare(ours, naive, "the same COUNT, NOT INDEXED")


def _count(sessions: sessionmaker[Session], parsed: object, since: object) -> None:
    with sessions() as session:
        matching_count(session, parsed, since)  # type: ignore[arg-type]


def _count_unindexed(sessions: sessionmaker[Session], parsed: object, since: object) -> None:
    query = select(func.count()).select_from(StoredSignal).where(*filter_conditions(parsed))  # type: ignore[arg-type]
    with sessions() as session:
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        # SQLite stores UTC datetimes as text in this form, so the text comparison is exact.
        sql += f" AND signals.published >= '{since:%Y-%m-%d %H:%M:%S.%f}'"
        session.execute(text(sql.replace("FROM signals", "FROM signals NOT INDEXED", 1)))


def _rounds(rounds: int, inputs: Sequence[object], action: Callable[[object], None]) -> list[float]:
    """Latencies in ms of `action` on every input, `rounds` times, after one warm-up round."""
    timings = []
    for round_number in range(rounds + 1):
        for value in inputs:
            started = time.perf_counter()
            action(value)
            if round_number:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


def _compare(ours: list[float], naive: list[float], naive_label: str) -> None:
    print_percentiles("this app", ours)
    print_percentiles(naive_label, naive)
    ratio = statistics.median(naive) / statistics.median(ours)
    print(f"   the naive way is {ratio:,.0f}x slower at the median")


def print_percentiles(label: str, values: list[float]) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    print(
        f"   {label}: p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms "
        f"(n={len(values)}, max {max(values):.1f} ms)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
