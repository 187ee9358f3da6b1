"""Each database against the exhaustive scorer, on the test corpus: the same briefs in the same
order as scoring every stored brief in Python (tests/search_reference.py), and the same snippets.
Neither database is compared with the other: both are compared with the declared function.
PostgreSQL is checked twice: with its level index as migrated (RUM where the extension is
installed, as it is wherever `.ci/run` ran) and rebuilt as GIN, the fallback without it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_corpus import brief, database_url, stored
from search_reference import reference_seqs
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import FilterError
from bot.search import ranked
from bot.search.backends import Constraints, postgres_plans
from bot.search.backends.level_index import level_index_kind, rebuild_level_index
from bot.search.backends.postgres import PostgresIndex
from bot.search.document import impact_token
from bot.search.grammar import parse_query
from bot.search.store import search
from bot.search.tokens import document, tokens
from bot.store.db import transaction
from bot.store.models import StoredSignal
from bot.store.signals import upsert_signals

pytestmark = pytest.mark.postgres

TODAY = date(2026, 4, 24)
QUERIES = (
    "muse spark", '"muse spark"', "llam*", "llama", "closed-source", '"closed model"', "cafe",
    "zürich", "東京", "東*", "gpt-4*", "gpt 4o", "4e1c", "security", "model", "ma*", "mo*",
    "security entity:mistral", "model -rumour", "model -keyword:rumour", "model topic:cloud",
    "model since:2026-04-01 until:2026-04-10", "release source:wire", "model entity:meta "
    "-category:opinion", "open source", '"supply chain"', "zero-day", "rumour", "meta’s",
    "tie breaker", "xyzzy", "model keyword:rumour", "benchmark*", "data -entity:google",
    '"security security"', "model security release", "the",
)  # fmt: skip


DATABASES = ("sqlite", "postgresql", "postgresql-gin")
POSTGRESQL = 1
EVERY_DATABASE = pytest.mark.parametrize("database", [0, 1, 2], ids=DATABASES)


@pytest.fixture(scope="module")
def both(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[sessionmaker[Session]]]:
    """The corpus stored in a SQLite file, a PostgreSQL database, and one with a GIN index."""
    folder = tmp_path_factory.mktemp("parity")
    urls = [database_url(kind, folder, request) for kind in ("sqlite", *DATABASES[1:])]
    engines, factories = zip(*(stored(next(url)) for url in urls), strict=True)
    with engines[2].begin() as connection:
        assert rebuild_level_index(connection, use_rum=False) == "gin"
    for engine in engines[1:]:
        with engine.begin() as connection:  # token statistics, which choose RUM or not
            connection.execute(text("ANALYZE signals"))
    yield list(factories)
    for engine in engines:
        engine.dispose()
    for url in urls:
        next(url, None)


def found(sessions: sessionmaker[Session], query_text: str, offset: int, limit: int) -> list[int]:
    with transaction(sessions) as session:
        page = search(session, parse_query(query_text), limit=limit, offset=offset, today=TODAY)
        ids = [hit.signal.id for hit in page.hits]
        rows = session.execute(select(StoredSignal.id, StoredSignal.seq))
        seqs = {signal_id: seq for signal_id, seq in rows}
    return [seqs[signal_id] for signal_id in ids]


def expected(
    sessions: sessionmaker[Session], query_text: str, offset: int, limit: int
) -> list[int]:
    with transaction(sessions) as session:
        return reference_seqs(session, parse_query(query_text), TODAY, offset + limit)[offset:]


def assert_exact(sessions: sessionmaker[Session], query_text: str, offset: int = 0) -> None:
    assert found(sessions, query_text, offset, 5) == expected(sessions, query_text, offset, 5)


@pytest.mark.parametrize("query_text", QUERIES)
@EVERY_DATABASE
def test_each_database_ranks_as_the_exhaustive_scorer(
    both: list[sessionmaker[Session]], query_text: str, database: int
) -> None:
    for offset in (0, 5, 20):
        assert_exact(both[database], query_text, offset)


@pytest.mark.parametrize(
    "query_text",
    [
        "model",
        "security",
        '"security security"',
        "ma*",
        "model -keyword:rumour",
        "meta model",
        "model entity:meta -category:opinion",
        "release source:wire",
        "security -entity:google",
        "model since:2026-04-01",
        "muse spark",
        'model "muse spark"',
    ],
)
@pytest.mark.parametrize("plan", ["planner", "rum", "bitmap"])
@EVERY_DATABASE
def test_the_class_walk_is_exact_too(
    both: list[sessionmaker[Session]],
    query_text: str,
    database: int,
    plan: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With FEW at 0 every query is answered class by class from the index; on PostgreSQL
    each class read by RUM's ordered scan (with RUM), a GIN bitmap, or the planner's way."""
    monkeypatch.setattr(ranked, "FEW", 0)
    costs = {  # what each plan's cost model is made to say
        "planner": {"RUM_POSTING_US": 10.0**9, "POSTING_US": 10.0**9},
        "rum": {"RUM_POSTING_US": 0.0},
        "bitmap": {"RUM_POSTING_US": 10.0**9, "ROW_TEST_US": 10.0**9},
    }
    for name, value in costs[plan].items():
        monkeypatch.setattr(postgres_plans, name, value)
    for offset in (0, 5):
        assert_exact(both[database], query_text, offset)


words = st.sampled_from(
    ["model", "security", "meta", "llam*", "m*", "open", "source", '"open source"', "é", "東京",
     "gpt-4*", "4e1c", "entity:meta", "-rumour", "since:2026-04-10", "topic:cloud", "chain",
     "-entity:google", "keyword:ai", "zero-day", "café", "x", "2026", "tie"]
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query_text=st.lists(st.one_of(words, st.text(max_size=6)), min_size=1, max_size=4).map(
        " ".join
    ),
    few=st.sampled_from([0, 200]),
)
def test_any_query_ranks_as_the_exhaustive_scorer(
    both: list[sessionmaker[Session]], query_text: str, few: int
) -> None:
    try:
        parse_query(query_text)
    except FilterError:
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranked, "FEW", few)
        for sessions in both:
            assert_exact(sessions, query_text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_postgres_indexes_exactly_the_tokens(both: list[sessionmaker[Session]], value: str) -> None:
    """to_tsvector('simple') of the index text keeps every token, in order (FTS5 `ascii` does)."""
    indexed = document([value])
    with transaction(both[POSTGRESQL]) as session:
        lexemes = session.execute(
            text("SELECT lexeme, positions FROM unnest(to_tsvector('simple', :doc))"),
            {"doc": indexed},
        ).all()
    at = {position: lexeme for lexeme, positions in lexemes for position in positions}
    assert [at[position] for position in sorted(at)] == tokens(value)


# --- random small corpora: phrases of a few common words, adjacent or not ---------------------

PHRASE_WORDS = ("model", "of", "the", "data", "large", "a")
some_words = st.lists(st.sampled_from(PHRASE_WORDS), min_size=1, max_size=12).map(" ".join)
random_briefs = st.lists(
    st.tuples(some_words, some_words, some_words, st.integers(0, 800)), min_size=1, max_size=14
)
phrase_queries = st.lists(
    st.builds(
        lambda words, prefix: "-".join(words) + "*" if prefix else '"' + " ".join(words) + '"',
        st.lists(st.sampled_from(PHRASE_WORDS), min_size=2, max_size=5),
        st.booleans(),
    ),
    min_size=1,
    max_size=2,
).map(" ".join)


@pytest.fixture(scope="module")
def scratch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[sessionmaker[Session]]]:
    """Both databases, migrated and empty: each example stores its own briefs."""
    folder = tmp_path_factory.mktemp("scratch")
    urls = [database_url(kind, folder, request) for kind in ("sqlite", "postgresql")]
    engines, factories = zip(*(stored(next(url), []) for url in urls), strict=True)
    yield list(factories)
    for engine in engines:
        engine.dispose()
    for url in urls:
        next(url, None)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=random_briefs, query_text=phrase_queries, few=st.sampled_from([0, 200]))
def test_phrases_over_random_briefs_rank_as_the_exhaustive_scorer(
    scratch: list[sessionmaker[Session]],
    texts: list[tuple[str, str, str, int]],
    query_text: str,
    few: int,
) -> None:
    briefs = [
        brief(f"{title} {n}", days_ago, summary=summary, body=body).keyed("optyx")
        for n, (title, summary, body, days_ago) in enumerate(texts)
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranked, "FEW", few)
        for sessions in scratch:
            with transaction(sessions) as session:
                session.execute(delete(StoredSignal))
                upsert_signals(session, briefs)
            for offset in (0, 5, 10):
                assert_exact(sessions, query_text, offset)


def test_postgres_reads_classes_from_rum_where_the_extension_loads(
    both: list[sessionmaker[Session]],
) -> None:
    with transaction(both[POSTGRESQL]) as session:
        loads = rum_loads(session)
        if os.environ.get("CI") == "true":
            assert loads, ".ci/run installs postgresql-N-rum for the server it tests with"
        assert level_index_kind(session.connection()) == ("rum" if loads else "gin")
        index = PostgresIndex(session, Constraints())
        # After ANALYZE (the fixture's), a word of a few briefs is read by RUM's ordered scan.
        assert index.ordered_by_index([[impact_token("model", 8)]], 5) == loads
        assert not index.ordered_by_index([], 5)
    with transaction(both[2]) as session:
        assert level_index_kind(session.connection()) == "gin"
        assert not PostgresIndex(session, Constraints()).ordered_by_index([["i8model"]], 5)


def rum_loads(session: Session) -> bool:
    """Whether this server can create the extension (installed, and built for this server)."""
    savepoint = session.begin_nested()
    try:
        session.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
    except DBAPIError:
        return False
    finally:
        savepoint.rollback()
    return True
