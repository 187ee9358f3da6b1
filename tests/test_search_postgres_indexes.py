"""Migration 0014's indexes give exactly the briefs the row tests gave: `keyword:` through the
trigram index (substrings across words, case, punctuation, `%` and `_`, keywords too short for
a trigram), and phrases of three words or more through the index of word triples (in the title,
in the body, across the body's lines, with their pairs apart). Planted briefs, compared with
SignalFilter and the exhaustive scorer on both databases; on PostgreSQL the index is also forced
(no sequential scan) and shown to be the plan, so the index itself is what gets compared."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from search_corpus import DATABASES, brief, filler, stored_sessions
from search_reference import reference_ranking
from sqlalchemy import ColumnElement, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.filters import parse_filter
from bot.search.backends.keyword_index import KEYWORD_INDEX_NAME
from bot.search.backends.phrase_index import TRIPLES_INDEX_NAME, rare_triples
from bot.search.backends.postgres import _vector_statistics
from bot.search.backends.postgres_tsquery import text_conditions
from bot.search.backends.token_statistics import TokenStatistics
from bot.search.conditions import mentions_any
from bot.search.grammar import parse_query, text_terms
from bot.search.store import search
from bot.signal import Signal
from bot.store.db import transaction
from bot.store.models import StoredSignal

TODAY = date(2026, 4, 24)

PLANTED = [
    brief("Ransom ware gangs regroup", 1, summary="A ransom note, not ransomware."),
    brief("RANSOMWARE hits a port", 2, entity="Port Authority"),
    brief("Anti-ransomware tools compared", 3, body="Vendors call it antiransomware."),
    brief("Co-Pilot's new plan", 4, summary="Microsoft’s Co-Pilot gets a plan."),
    brief("A 100% rise in phishing", 5, summary="Up 100 percent, 100%% in places."),
    brief("A 100 percent rise in spam", 6, summary="No percent sign here: 1000 cases."),
    brief("snake_case names in the API", 7, body="Renamed snake_case fields."),
    brief("snakeXcase is not it", 8, body="Nor is snake case."),
    brief("Back\\slash paths on Windows", 9, summary="C:\\temp and back\\slash."),
    brief("AI said to help", 10, summary="Mostly plain text."),
    brief(
        "Model of the data wins",
        11,
        summary="The model of the data team.",
        body="A new model\nof the data\nstack: model of the data again.",
    ),
    brief("Data model of the year", 12, summary="A model of the year.", body="The data model."),
    brief(
        "Pairs apart",
        13,
        summary="The model of choice; of the two, the data matters.",
        body="Of the model, the data of the day.",
    ),
    brief("Large language model", 14, summary="Large language models and a large language model."),
    brief("Language large model", 15, summary="Large model language, model large language."),
    brief("Empty lines", 16, category="", topic="", summary="model of", body="the data"),
]
KEYWORDS = (
    "ransomware", "m war", "ransom", "RansomWare", "co-pilot's", "microsoft's", "100%", "100%%",
    "snake_case", "back\\slash", "ai", "a", "ai said", "rise in", "port authority",
    "ransomware hits", "nothing here",
)  # fmt: skip
PHRASES = (
    '"model of the data"', '"model of the"', '"of the data"', '"large language model"',
    '"language large model"', '"model of the data team"', '"the data model"', '"data of the day"',
)  # fmt: skip


def _corpus() -> list[Signal]:
    return [*PLANTED, *filler(40)]


@pytest.fixture(scope="module", params=DATABASES)
def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """The planted briefs in each database; on PostgreSQL analyzed first (before any search
    reads the statistics), so rare triples are read from their index."""
    stored = stored_sessions(request, tmp_path_factory, _corpus())
    factory = next(stored)
    with transaction(factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE signals"))
    yield factory
    next(stored, None)


def _seqs_of_signals(session: Session, wanted: set[str]) -> set[int]:
    rows = session.execute(select(StoredSignal.id, StoredSignal.seq))
    return {seq for signal_id, seq in rows if signal_id in wanted}


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_keyword_finds_exactly_the_briefs_signal_filter_matches(
    sessions: sessionmaker[Session], keyword: str
) -> None:
    signal_filter = parse_filter(f'keyword:"{keyword}"')
    expected = {signal.id for signal in _corpus() if signal_filter.matches(signal)}
    with transaction(sessions) as session:
        condition = mentions_any(signal_filter.include["keyword"])
        found = _seqs_where(session, condition, KEYWORD_INDEX_NAME, keyword)
        assert found == _seqs_of_signals(session, expected)
        page = search(session, parse_query(f'keyword:"{keyword}"'), limit=100, today=TODAY)
    assert {hit.signal.id for hit in page.hits} == expected


def test_the_planted_keywords_tell_substrings_from_wildcards(
    sessions: sessionmaker[Session],
) -> None:
    """The cases above can fail: `_` and `%` are literal, case is folded, words are crossed."""
    titles = {
        keyword: {
            signal.title
            for signal in PLANTED
            if parse_filter(f'keyword:"{keyword}"').matches(signal)
        }
        for keyword in ("snake_case", "100%%", "m war", "RansomWare")
    }
    assert titles["snake_case"] == {"snake_case names in the API"}
    assert titles["100%%"] == {"A 100% rise in phishing"}
    assert titles["m war"] == {"Ransom ware gangs regroup"}
    assert titles["RansomWare"] == {
        "Ransom ware gangs regroup",
        "RANSOMWARE hits a port",
        "Anti-ransomware tools compared",
    }


@pytest.mark.parametrize("query_text", [*PHRASES, "model keyword:ransomware", "data keyword:ai"])
def test_phrases_and_keywords_rank_as_the_exhaustive_scorer(
    sessions: sessionmaker[Session], query_text: str
) -> None:
    query = parse_query(query_text)
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql" and query_text.count(" ") >= 2:
            triples = _vector_statistics(session.connection())
            assert triples is not None
            assert rare_triples(text_terms(query)[0].tokens, triples.triples)  # read by index
        expected = [scored.seq for scored in reference_ranking(session, query, TODAY)]
        page = search(session, query, limit=100, today=TODAY)
        seq_of = dict(session.execute(select(StoredSignal.id, StoredSignal.seq)).all())
    assert [seq_of[hit.signal.id] for hit in page.hits] == expected
    assert page.total == len(expected)


@pytest.mark.parametrize("sessions", [DATABASES[1]], indirect=True)  # SQLite reads positions
@pytest.mark.parametrize("phrase", [phrase for phrase in PHRASES if phrase.count(" ") >= 2])
def test_the_triples_index_finds_exactly_the_phrase(
    sessions: sessionmaker[Session], phrase: str
) -> None:
    """Phrases of three words or more anywhere, from the triples index (forced on PostgreSQL)."""
    query = parse_query(phrase)
    (term,) = text_terms(query)
    with transaction(sessions) as session:
        expected = {scored.seq for scored in reference_ranking(session, query, TODAY)}
        conditions = text_conditions(term, None, by_triples=True)
        found = _seqs_where(session, conditions, TRIPLES_INDEX_NAME, phrase)
    assert found == expected
    assert expected  # every planted phrase is somewhere


def _seqs_where(
    session: Session,
    conditions: ColumnElement[bool] | list[ColumnElement[bool]],
    index_name: str,
    asked: str,
) -> set[int]:
    """The seqs meeting the conditions; on PostgreSQL with sequential scans off, and the index
    shown in the plan (a keyword of fewer than three characters has no trigram to look up)."""
    where = conditions if isinstance(conditions, list) else [conditions]
    query = select(StoredSignal.seq).where(*where)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
        if len(asked.strip('"')) >= 3:
            assert index_name in plan, plan
    return set(session.scalars(query))


def test_only_rare_triples_are_read_from_the_index() -> None:
    """A common phrase keeps its pairs (a lossy bitmap would compute triples row by row)."""
    phrase = ("large", "language", "model")
    common = TokenStatistics(1_000_000, {"large_language_model": 0.05}, 0.001)
    rare = TokenStatistics(1_000_000, {"large_language_model": 0.005}, 0.001)
    assert not rare_triples(phrase, common)
    assert rare_triples(phrase, rare)
    assert not rare_triples(phrase, None)  # no statistics: no ANALYZE, no index known
    assert not rare_triples(("model", "data"), rare)  # two words are a pair
