"""SQLite and PostgreSQL give the same results for the test corpus: same briefs, same order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_corpus import database_url, stored
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import FilterError
from bot.search.grammar import parse_query
from bot.search.tokens import document, tokens
from bot.store import search_ranked
from bot.store.db import transaction
from bot.search.store import search

pytestmark = pytest.mark.postgres

QUERIES = (
    "muse spark", '"muse spark"', "llam*", "llama", "closed-source", '"closed model"', "cafe",
    "zürich", "東京", "東*", "gpt-4*", "gpt 4o", "4e1c", "security", "model", "ma*", "mo*",
    "security entity:mistral", "model -rumour", "model -keyword:rumour", "model topic:cloud",
    "model since:2026-04-01 until:2026-04-10", "release source:wire", "model entity:meta "
    "-category:opinion", "open source", '"supply chain"', "zero-day", "rumour", "meta’s",
    "tie breaker", "xyzzy", "model keyword:rumour", "benchmark*", "data -entity:google",
    "entity:meta", "since:2026-04-01", "-keyword:model", "category:research until:2026-04-01",
)  # fmt: skip


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[sessionmaker[Session]]]:
    """The corpus stored in a SQLite file and in a PostgreSQL database."""
    folder = tmp_path_factory.mktemp("parity")
    urls = [database_url("sqlite", folder), database_url("postgresql", folder)]
    engines, factories = zip(*(stored(next(url)) for url in urls), strict=True)
    yield list(factories)
    for engine in engines:
        engine.dispose()
    for url in urls:
        next(url, None)


def results(
    sessions: sessionmaker[Session], query_text: str, offset: int = 0
) -> tuple[object, ...]:
    with transaction(sessions) as session:
        page = search(session, parse_query(query_text), limit=5, offset=offset)
    ids = [hit.signal.id for hit in page.hits]
    snippets = [hit.snippet for hit in page.hits]
    return ids, snippets, page.total, page.more_than_total, page.searched_back_to


@pytest.mark.parametrize("query_text", QUERIES)
def test_same_briefs_in_the_same_order(both: list[sessionmaker[Session]], query_text: str) -> None:
    sqlite, postgres = both
    for offset in (0, 5):
        assert results(sqlite, query_text, offset) == results(postgres, query_text, offset)


@pytest.mark.parametrize(
    "query_text", ["model", "security", '"security security"', "ma*", "model -keyword:rumour"]
)
def test_same_results_when_the_bounds_apply(
    both: list[sessionmaker[Session]], query_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("K_ANY", 6),
        ("K_TITLE", 3),
        ("PROBE_LIMIT", 4),
        ("SCAN_BUDGET", 10),
        ("FIRST_LOOK", 12),
    ):
        monkeypatch.setattr(search_ranked, name, value)
    sqlite, postgres = both
    assert results(sqlite, query_text) == results(postgres, query_text)


words = st.sampled_from(
    ["model", "security", "meta", "llam*", "m*", "open", "source", '"open source"', "é", "東京",
     "gpt-4*", "4e1c", "entity:meta", "-rumour", "since:2026-04-10", "topic:cloud", "chain",
     "-entity:google", "keyword:ai", "zero-day", "café", "x", "2026", "tie"]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(words, st.text(max_size=6)), min_size=1, max_size=4).map(" ".join))
def test_any_query_gives_the_same_results(
    both: list[sessionmaker[Session]], query_text: str
) -> None:
    try:
        parse_query(query_text)
    except FilterError:
        return
    sqlite, postgres = both
    assert results(sqlite, query_text) == results(postgres, query_text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_postgres_indexes_exactly_the_tokens(both: list[sessionmaker[Session]], value: str) -> None:
    """to_tsvector('simple') of the index text keeps every token, in order (FTS5 `ascii` does)."""
    indexed = document([value])
    with transaction(both[1]) as session:
        lexemes = session.execute(
            text("SELECT lexeme, positions FROM unnest(to_tsvector('simple', :doc))"),
            {"doc": indexed},
        ).all()
    at = {position: lexeme for lexeme, positions in lexemes for position in positions}
    assert [at[position] for position in sorted(at)] == tokens(value)
