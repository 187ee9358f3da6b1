"""The search QUERY grammar: parsing, errors, and safe FTS5 / websearch_to_tsquery text."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from search_corpus import migrated_fts5_table

from bot.errors import FilterError
from bot.filter_terms import MAX_TEXT_LENGTH
from bot.filters import parse_filter
from bot.search.backends import TermAt
from bot.search.backends.postgres_tsquery import pairs_tsquery_text, tsquery_text
from bot.search.backends.sqlite import term_expression
from bot.search.document import impacts, pairs
from bot.search.grammar import (
    SearchQuery,
    Term,
    TextTerm,
    no_hit_hints,
    parse_query,
    text_terms,
)
from bot.search.rank import BODY_LEVEL, TITLE_LEVEL, IndexedBrief, occurs, score, term_level
from bot.search.tokens import document, tokens
from bot.search.topk import possible_levels

W, P, X = "word", "phrase", "prefix"
# Any code point, lone surrogates included: JSON can carry them as `\ud800` escapes.
any_text = st.text(alphabet=st.characters(codec=None), max_size=40)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("muse spark", [("muse", W), ("spark", W)]),
        ('"muse  spark"', [("muse spark", P)]),
        ("“muse spark” closed", [("muse spark", P), ("closed", W)]),
        ("secur*", [("secur", X)]),
        ("secur** model", [("secur", X), ("model", W)]),
        ("a*b", [("a*b", W)]),
        ("AI Advances", [("AI", W), ("Advances", W)]),  # free text, not a topic
        ("all", [("all", W)]),
        ("AND OR NOT", [("AND", W), ("OR", W), ("NOT", W)]),
        ("muse AND", [("muse", W), ("AND", W)]),
        ("NEAR( (x) ^y", [("NEAR(", W), ("(x)", W), ("^y", W)]),
        ("meta & !!! spark", [("meta", W), ("spark", W)]),  # punctuation-only terms are dropped
        ("Meta’s 10:30", [("Meta’s", W), ("10:30", W)]),
    ],
)
def test_terms(text: str, terms: list[tuple[str, str]]) -> None:
    assert parse_query(text).terms == tuple(Term(t, kind) for t, kind in terms)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("muse", "all"),
        ("muse entity:Meta", "entity:meta"),
        ('entity:"Open AI" topic:ai-advances', "topic:ai-advances entity:open-ai"),
        ('Topic:"AI Advances" -Category:rumor', "topic:ai-advances -category:rumor"),
        ("muse -keyword:rumour", "all -keyword:rumour"),
        ("muse -rumour", "all -keyword:rumour"),  # free text excluded is a keyword
        ('muse -"closed source"', 'all -keyword:"closed source"'),
        ("muse -clos*", "all -keyword:clos"),
        ("source:optyx keyword:spark", "source:optyx keyword:spark"),
    ],
)
def test_field_constraints_become_the_filter(text: str, canonical: str) -> None:
    query = parse_query(text)
    assert query.filter.canonical == canonical
    assert query.filter == parse_filter(canonical)


def test_dates() -> None:
    query = parse_query("since:2026-04-01 until:2026-04-30 muse")
    assert (query.since, query.until) == (date(2026, 4, 1), date(2026, 4, 30))
    same_day = parse_query("SINCE:2026-04-23 Until:2026-04-23")
    assert same_day.since == same_day.until == date(2026, 4, 23)
    assert same_day.terms == ()


def test_constraints_alone_are_a_query() -> None:
    assert parse_query("entity:Meta").terms == ()
    assert not parse_query("entity:Meta").is_empty
    assert not parse_query("since:2026-01-01").is_empty
    assert not parse_query("-rumour").is_empty


def test_is_empty() -> None:
    assert SearchQuery().is_empty
    assert not SearchQuery(terms=(Term("x"),)).is_empty


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("muse spark", "briefs matching “muse” and “spark”"),
        (
            '"muse spark" secur* entity:Meta -rumour since:2026-01-01 until:2026-02-01',
            "briefs matching “muse spark” and “secur…”, from entity Meta, "
            "not mentioning “rumour”, since 2026-01-01, until 2026-02-01",
        ),
        ("entity:Meta", "briefs from entity Meta"),
    ],
)
def test_describe(text: str, description: str) -> None:
    assert parse_query(text).describe() == description


def test_describe_empty_query() -> None:
    assert SearchQuery().describe() == "all briefs"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word_in_message"),
    [
        ("", "what to search for"),
        ("  ", "what to search for"),
        ("!!! &", "nothing to search for"),
        ('"muse spark', "closing quote"),
        ("muse “spark", "closing quote"),
        ("-", "no space"),
        ("muse - spark", "no space"),
        ("*", "secur*"),
        ("m*", "at least two letters"),
        ("muse ***", "secur*"),
        ("-*", "secur*"),
        ("since:yesterday", "YYYY-MM-DD"),
        ("since:2026-4-1", "YYYY-MM-DD"),
        ("since:2026-02-30", "YYYY-MM-DD"),
        ("until:20260401", "YYYY-MM-DD"),
        ("since:2026-04-01 since:2026-04-02", "only once"),
        ("-since:2026-04-01", "since:"),
        ("since:2026-04-02 until:2026-04-01", "before"),
        ("since:", "since:2026-04-01"),
        ("entity:", "entity:Meta"),
        ("foo:bar", "`foo:`"),
        ("title:muse", "keyword:"),
        ("https://example.com", "quotes"),
        ("entity:Meta -entity:meta", "include and exclude"),
        ("x" * (10 * 1024), "limit is 500"),
        ("x" * (MAX_TEXT_LENGTH + 1), "limit is 500"),
        (" ".join(["w"] * 41), "more than 40 terms"),
    ],
)
def test_errors_are_friendly(text: str, word_in_message: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse_query(text)
    message = str(raised.value)
    assert word_in_message in message
    assert len(message) < 300


# --- index terms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("muse spark", [(("muse",), False), (("spark",), False)]),
        ('"Muse  Spark"', [(("muse", "spark"), False)]),
        ("closed-source", [(("closed", "source"), False)]),
        ("secur*", [(("secur",), True)]),
        ("gpt-4*", [(("gpt", "4"), True)]),
        ("Café", [(("cafe",), False)]),
        ("東京", [(("xe69db1e4baac",), False)]),
        ("muse MUSE muse*", [(("muse",), False), (("muse",), True)]),
        ("NEAR( (x) ^y", [(("near",), False), (("x",), False), (("y",), False)]),
        ("entity:Meta -rumour", []),
    ],
)
def test_text_terms(text: str, expected: list[tuple[tuple[str, ...], bool]]) -> None:
    assert text_terms(parse_query(text)) == tuple(TextTerm(t, p) for t, p in expected)


def test_fts5_and_tsquery_text_of_each_term() -> None:
    terms = text_terms(parse_query('muse "closed source" gpt-4* secur* "model of the data"'))
    muse, closed_source, gpt4, secur, model_of_the_data = terms
    assert term_expression(TermAt(closed_source)) == (
        '({search_title} : "closed source") OR ({search_pairs} : "__closed_source")'
    )
    assert term_expression(TermAt(gpt4)) == (
        '({search_title} : "gpt 4" *) OR ({search_pairs} : "__gpt_4" *)'
    )
    assert term_expression(TermAt(muse, 7)) == '{search_impacts} : ("muse_7")'
    assert term_expression(TermAt(gpt4, TITLE_LEVEL)) == '{search_title} : "gpt 4" *'
    assert term_expression(TermAt(closed_source, BODY_LEVEL)) == (
        '({search_pairs} : "__closed_source") NOT ({search_title} : "closed source")'
    )
    assert term_expression(TermAt(secur)) == '{search_impacts} : "secur" *'
    assert term_expression(TermAt(model_of_the_data, BODY_LEVEL)) == (
        '({search_pairs} : "__model_of __of_the __the_data") '
        'NOT ({search_title} : "model of the data")'
    )
    assert tsquery_text(muse) == "'muse'"
    assert tsquery_text(closed_source) == "('closed' <-> 'source')"
    assert tsquery_text(gpt4) == "('gpt' <-> '4':*)"
    assert pairs_tsquery_text(gpt4) == "'__gpt_4':*"
    assert pairs_tsquery_text(model_of_the_data) == "'__model_of' & '__of_the' & '__the_data'"


@pytest.mark.parametrize(
    ("text", "first_hint"),
    [
        ("muse entity:Meta", "Drop a filter"),
        ("muse since:2026-01-01", "Widen the dates"),
        ('"muse spark"', "Take the quotes off"),
        ("muse spark", "Use fewer words"),
        ("spark", "`spar*`"),
        ("ai", "Check the spelling"),
    ],
)
def test_no_hit_hints(text: str, first_hint: str) -> None:
    hints = no_hit_hints(parse_query(text))
    assert first_hint in hints[0]
    assert 1 <= len(hints) <= 3


# --- the expressions never break the index, and mean what ranking counts ----------------------

VOCABULARY = ["muse", "spark", "llama", "model", "gpt", "4", "4o", "x", "é", "東京", "m", "mo"]
one_document = st.lists(st.sampled_from(VOCABULARY), max_size=8).map(" ".join)


def query_term(words: list[str], quoted: bool, star: bool) -> str:
    """A phrase of the words, or the first word alone, maybe as a prefix."""
    return f'"{" ".join(words)}"' if quoted else words[0] + ("*" if star else "")


queries = st.lists(
    st.builds(
        query_term,
        st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=5),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
).map(" ".join)


FTS5_TABLE = migrated_fts5_table()


def indexed_brief(rowid: int, title: str, summary: str, sections: str = "") -> IndexedBrief:
    return IndexedBrief(rowid, 0, document([title]), document(["", "", "", summary, sections]))


# Title, summary and sections of a few briefs: a phrase may run on from one line to the next.
titled_documents = st.lists(st.tuples(*[one_document] * 3), min_size=1, max_size=6)


def fts5_index(briefs: list[IndexedBrief]) -> sqlite3.Connection:
    """An FTS5 table made as the migrations make it, holding what a stored brief gives it."""
    connection = sqlite3.connect(":memory:")
    connection.execute(FTS5_TABLE)
    connection.executemany(
        "INSERT INTO signals_fts (rowid, search_title, search_impacts, search_pairs) "
        "VALUES (?, ?, ?, ?)",
        [
            (brief.seq, brief.title, impacts(brief.title, brief.body), pairs(brief.body))
            for brief in briefs
        ],
    )
    return connection


def matching(connection: sqlite3.Connection, expression: str) -> list[int]:
    query = "SELECT rowid FROM signals_fts WHERE signals_fts MATCH ? ORDER BY rowid"
    return [rowid for (rowid,) in connection.execute(query, (expression,))]


@settings(max_examples=300)
@given(texts=titled_documents, query_text=queries)
def test_fts5_matches_exactly_where_ranking_finds_every_term(
    texts: list[tuple[str, str, str]], query_text: str
) -> None:
    query = parse_or_none(query_text)  # `m*` is refused: too short a prefix
    if query is None:
        return
    terms = text_terms(query)
    briefs = [indexed_brief(n, *fields) for n, fields in enumerate(texts, start=1)]
    expression = " AND ".join(f"({term_expression(TermAt(term))})" for term in terms)
    with fts5_index(briefs) as connection:
        found = matching(connection, expression)
        expected = [brief.seq for brief in briefs if score(terms, brief, 0) is not None]
        assert found == expected
        for term in terms:  # each class: the briefs where ranking gives the term that level
            for level in possible_levels(term):
                at_level = matching(connection, term_expression(TermAt(term, level)))
                levels = {b.seq: term_level(term, b, b.field_tokens()) for b in briefs}
                assert at_level == [seq for seq, found in levels.items() if found == level]


query_words = st.sampled_from(
    [
        "AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR/2", "(", ")", "*", "^", ":", "-", "+", '"',
        "“", "”", "'", "‘", "’", "title:", "body:", "{title}", "col:x", "a*", "*a", "-a", "x-y",
        "é", "东京", "\x00", "\\", "''", '""', "entity:Meta", "since:2026-01-01", "4e1c",
    ]
)  # fmt: skip
query_like_text = st.lists(st.one_of(query_words, st.text(max_size=6)), max_size=12).map(" ".join)
glued_query_text = st.lists(st.one_of(query_words, st.text(max_size=4)), max_size=10).map("".join)
any_query_text = st.one_of(
    st.text(max_size=80), any_text.map(lambda text: text[:80]), query_like_text, glued_query_text
)


def parse_or_none(text: str) -> SearchQuery | None:
    try:
        return parse_query(text)
    except FilterError:
        return None


@settings(max_examples=500)
@given(any_query_text)
def test_parse_query_returns_a_query_or_raises_filter_error(text: str) -> None:
    query = parse_or_none(text)
    assert query is None or (isinstance(query, SearchQuery) and not query.is_empty)


FTS_TEXTS = ["muse spark", "llama model", "near and or not"]
FTS = fts5_index([indexed_brief(n, "", text) for n, text in enumerate(FTS_TEXTS, start=1)])


@settings(max_examples=500)
@given(any_query_text)
@example('NEAR("a" "b") AND OR NOT x* ^y col:z')
@example("near and OR not*")
@example("x\x00y* ")
def test_fts5_match_of_any_text_finds_exactly_the_rows_holding_its_terms(text: str) -> None:
    query = parse_or_none(text)
    if query is None:
        return
    terms = text_terms(query)
    expected = [
        rowid
        for rowid, indexed in enumerate(FTS_TEXTS, start=1)
        if all(occurs(term, " ".join(tokens(indexed))) for term in terms)
    ]
    if terms:
        expression = " AND ".join(f"({term_expression(TermAt(term))})" for term in terms)
        assert matching(FTS, expression) == expected, expression
    for term in terms:  # the class expressions are valid FTS5 too, whatever the text
        for level in (TITLE_LEVEL, BODY_LEVEL, 3):
            expression = term_expression(TermAt(term, level))
            FTS.execute("SELECT rowid FROM signals_fts WHERE signals_fts MATCH ?", (expression,))


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(Term, st.one_of(any_text, query_words), st.sampled_from([W, P, X])), max_size=6
    )
)
def test_index_terms_hold_only_index_tokens(terms: list[Term]) -> None:
    for term in text_terms(SearchQuery(terms=tuple(terms))):
        assert term.tokens
        assert all(token.isascii() and token.isalnum() for token in term.tokens)
