"""Search over a stored corpus, on SQLite and PostgreSQL: matching, filters, dates, ranking, paging,
and arbitrary input. (The ranking's promises at scale: test_search_exact.py.)"""

from __future__ import annotations

from datetime import UTC, date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_corpus import CORPUS, HAND_WRITTEN, brief, stored, stored_corpus_fixture
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import FilterError
from bot.filters import parse_filter
from bot.search.document import search_columns
from bot.search.grammar import SearchQuery, TextTerm, parse_query, text_terms
from bot.search.store import SearchPage, latest, latest_page, search
from bot.signal import Signal
from bot.store.db import transaction
from bot.store.signals import upsert_signals

TITLES = {signal.id: signal.title for signal in CORPUS}


sessions = stored_corpus_fixture(lambda: CORPUS)


def run(
    sessions: sessionmaker[Session], text: str, *, limit: int = 5, offset: int = 0
) -> SearchPage:
    with transaction(sessions) as session:
        return search(session, parse_query(text), limit=limit, offset=offset)


def titles(page: SearchPage) -> list[str]:
    return [hit.signal.title for hit in page.hits]


# --- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first_title"),
    [
        ("muse spark", "Meta Pivots To Closed-Source AI With 'Muse Spark'"),
        ('"muse spark"', "Meta Pivots To Closed-Source AI With 'Muse Spark'"),
        ("closed-source", "Meta Pivots To Closed-Source AI With 'Muse Spark'"),
        ("llam*", "Llama 4 Scout and Maverick released"),
        ("cafe zurich", "Café Zürich opens an AI lab"),
        ("CAFÉ", "Café Zürich opens an AI lab"),
        ("sao paulo", "Café Zürich opens an AI lab"),
        ("東京", "東京 data centre expansion"),
        ("東*", "東京 data centre expansion"),
        ("strasse", "Straße to compliance: German rules for AI"),
        ("gpt-4.5", "GPT-4.5 and gpt-4o pricing cut"),
        ("gpt-4*", "GPT-4.5 and gpt-4o pricing cut"),
        ("4e1c", "GPT-4.5 and gpt-4o pricing cut"),
        ("zero-day", "Patch Tuesday: 70 fixes, two zero-days"),
        ("Meta’s rumour", "Meta’s rumour mill: a new model"),
        ("supply chain attack", "Supply chain attack hits package registry"),
    ],
)
def test_words_phrases_and_prefixes_find_the_brief(
    sessions: sessionmaker[Session], query: str, first_title: str
) -> None:
    assert titles(run(sessions, query))[0] == first_title


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ('"spark muse"', 0),
        ('"closed model"', 1),
        ("xyzzy", 0),
        ("muse xyzzy", 0),
        ("llama", 2),
        ("NEAR( AND OR NOT", 0),
        ("'; DROP TABLE signals; --", 0),
    ],
)
def test_every_term_is_required(sessions: sessionmaker[Session], query: str, count: int) -> None:
    page = run(sessions, query, limit=50)
    assert (page.total, len(page.hits), page.more_than_total) == (count, count, False)


def test_title_hits_rank_above_body_hits_and_newer_wins_ties(
    sessions: sessionmaker[Session],
) -> None:
    ranked = titles(run(sessions, "llama", limit=10))
    assert ranked == ["Llama 4 Scout and Maverick released", CORPUS[0].title]
    tied = titles(run(sessions, "tie breaker"))
    # Same date and score: the one stored later (B) comes first.
    assert tied == ["Same-day briefs tie on date (B)", "Same-day briefs tie on date (A)"]


def test_snippets_mark_the_matching_words(sessions: sessionmaker[Session]) -> None:
    (hit,) = run(sessions, "typosquatting").hits
    assert "\ue000typosquatting\ue001" in hit.snippet
    (title_only,) = run(sessions, "blackwell chips").hits
    assert "\ue000Blackwell\ue001" in title_only.snippet


# --- filters and dates, exactly as SignalFilter -----------------------------------------------

FILTER_TERMS = (
    "entity:Meta", "entity:\"Open AI Labs\"", "-entity:nvidia", "category:research",
    "-category:\"platform release\"", "topic:cloud", "topic:\"AI Advances\"", "-topic:cloud",
    "source:wire", "-source:feeds", "keyword:rumour", "keyword:\"supply chain\"", "-keyword:model",
    "keyword:’s", "keyword:4o", "keyword:é", "-keyword:security",
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(terms=st.lists(st.sampled_from(FILTER_TERMS), min_size=1, max_size=3, unique=True))
def test_latest_matches_exactly_what_signal_filter_matches(
    sessions: sessionmaker[Session], terms: list[str]
) -> None:
    try:
        signal_filter = parse_filter(" ".join(terms))
    except FilterError:
        return  # a contradiction such as entity:Meta -entity:meta
    expected = {signal.id for signal in CORPUS if signal_filter.matches(signal)}
    with transaction(sessions) as session:
        found = latest_page(session, signal_filter, limit=len(CORPUS))
    assert {hit.signal.id for hit in found.hits} == expected
    assert found.total == len(expected)


@pytest.mark.parametrize(
    "terms",
    [
        "model entity:meta",
        "model -keyword:rumour",
        'security topic:"cyber security" -source:feeds',
        "model category:research category:funding",
        "release keyword:open",
    ],
)
def test_search_filters_match_signal_filter(sessions: sessionmaker[Session], terms: str) -> None:
    query = parse_query(terms)
    word = query.terms[0].text
    expected = {s.id for s in CORPUS if query.filter.matches(s) and _mentions_word(s, word)}
    found = {hit.signal.id for hit in run(sessions, terms, limit=200).hits}
    assert found == expected


def _mentions_word(signal: Signal, word: str) -> bool:
    from bot.search.document import search_columns

    columns = search_columns(signal)
    return word in f"{columns['search_title']} {columns['search_body']}".split()


@pytest.mark.parametrize(
    ("dates", "expected_days_ago"),
    [
        ("since:2026-04-22", {0, 1}),
        ("since:2026-04-20 until:2026-04-21", {2, 3}),
        ("until:2026-03-24", {30}),
        ("since:2026-05-01", set()),
        ("until:2020-01-01", set()),
    ],
)
def test_dates_are_inclusive_days(
    sessions: sessionmaker[Session], dates: str, expected_days_ago: set[int]
) -> None:
    hand_written = {signal.id for signal in HAND_WRITTEN}
    for text in (dates, f"{dates} entity:meta"):
        query = parse_query(text)
        expected = {
            signal.id
            for signal in HAND_WRITTEN
            if (date(2026, 4, 23) - signal.published.date()).days in expected_days_ago
            and query.filter.matches(signal)
        }
        page = run(sessions, text, limit=200)
        assert {hit.signal.id for hit in page.hits} & hand_written == expected


def test_dates_narrow_free_text_too(sessions: sessionmaker[Session]) -> None:
    assert titles(run(sessions, "llama since:2026-04-20")) == [CORPUS[0].title]
    assert titles(run(sessions, "llama until:2026-04-20")) == [
        "Llama 4 Scout and Maverick released"
    ]


# --- paging and latest --------------------------------------------------------------------------


def test_pages_follow_one_order_without_gaps(sessions: sessionmaker[Session]) -> None:
    everything = [hit.signal.id for hit in run(sessions, "model", limit=200).hits]
    paged = [
        hit.signal.id
        for offset in range(0, 40, 5)
        for hit in run(sessions, "model", offset=offset).hits
    ]
    assert paged == everything[:40]
    assert run(sessions, "model", offset=500).hits == []


def test_latest_is_newest_first(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        newest = latest(session, parse_filter("entity:meta"), limit=3)
        page_two = latest_page(session, parse_filter("entity:meta"), limit=3, offset=3)
    dates = [signal.published for signal in newest + [hit.signal for hit in page_two.hits]]
    assert dates == sorted(dates, reverse=True)
    assert newest[0].title == "Meta Pivots To Closed-Source AI With 'Muse Spark'"


# --- the index follows revisions, and takes any input --------------------------------------------


def test_a_revision_replaces_what_the_index_finds(database_url: str) -> None:
    original = brief("Orbital launch delayed", 1, entity="SpaceCo", summary="Weather.")
    engine, sessions = stored(database_url, [original])
    revised = brief("Orbital launch delayed", 1, entity="SpaceCo", summary="Hydraulics fault.")
    with transaction(sessions) as session:
        upsert_signals(session, [revised.keyed("optyx")])
    assert titles(run(sessions, "hydraulics")) == ["Orbital launch delayed"]
    assert run(sessions, "weather").hits == []
    engine.dispose()


query_text = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(['"', "*", "-", "(", ")", "NEAR(", "entity:", "since:2026-04-01", "é",
                         "東京", "model", "llam*", "'", ":", "^", "OR", "\x00", "4e1c"]),
        max_size=8,
    ).map(" ".join),
)  # fmt: skip


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=query_text)
def test_any_text_searches_or_explains(sessions: sessionmaker[Session], text: str) -> None:
    try:
        query = parse_query(text)
    except FilterError:
        return
    with transaction(sessions) as session:
        page = search(session, query)
        everything = search(session, query, limit=len(CORPUS))
    expected = {signal.id for signal in CORPUS if holds(signal, query)}

    found = [hit.signal.id for hit in everything.hits]
    assert set(found) == expected, "exactly the briefs that hold every term and constraint"
    assert (everything.total, everything.more_than_total) == (len(expected), False)
    assert [hit.signal.id for hit in page.hits] == found[:5], "page 1 is the top of the ranking"
    assert page.total == len(expected)


def holds(signal: Signal, query: SearchQuery) -> bool:
    """What a person expects of a result, checked the plain way: every free-text term (a word,
    a phrase, or `prefix*`) in the title or the body, and every field and date constraint."""
    columns = search_columns(signal)
    fields = [columns["search_title"].split(), columns["search_body"].split()]
    day = signal.published.astimezone(UTC).date()
    return (
        all(any(holds_term(words, term) for words in fields) for term in text_terms(query))
        and query.filter.matches(signal)
        and (query.since is None or day >= query.since)
        and (query.until is None or day <= query.until)
    )


def holds_term(words: list[str], term: TextTerm) -> bool:
    size = len(term.tokens)
    for start in range(len(words) - size + 1):
        here = words[start : start + size]
        if here[:-1] == list(term.tokens[:-1]) and (
            here[-1].startswith(term.tokens[-1]) if term.prefix else here[-1] == term.tokens[-1]
        ):
            return True
    return False
