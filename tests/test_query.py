"""The search QUERY grammar: parsing, errors, and safe FTS5 / websearch_to_tsquery text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import FilterError
from bot.filters import MAX_TEXT_LENGTH, parse_filter
from bot.query import SearchQuery, Term, fts5_match, parse_query, tsquery_text

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


# --- FTS5 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    connection = fts5_table()
    yield connection
    connection.close()


def fts5_table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')"
    )
    connection.executemany(
        "INSERT INTO t (rowid, title, body) VALUES (?, ?, ?)",
        [
            (1, "Meta Pivots To Closed-Source AI", "Muse Spark ships. A rumour says otherwise."),
            (2, "Patch Tuesday", "Security fixes: seventy, and NEAR misses OR worse."),
            (3, "Café débâcle", 'He said "hello" (twice).'),
        ],
    )
    return connection


def search(connection: sqlite3.Connection, expression: str) -> list[int]:
    rows = connection.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", (expression,))
    return [rowid for (rowid,) in rows]


@pytest.mark.parametrize(
    ("text", "expression", "rowids"),
    [
        ("muse spark", '"muse" "spark"', [1]),
        ('"muse spark"', '"muse spark"', [1]),
        ('"spark muse"', '"spark muse"', []),
        ("secur*", '"secur" *', [2]),
        ("closed-source", '"closed-source"', [1]),
        ("NEAR OR", '"NEAR" "OR"', [2]),
        ("AND", '"AND"', [2]),
        ("NOT", '"NOT"', []),
        ("NEAR(", '"NEAR("', [2]),
        ("title:x", None, None),
        ("^patch", '"^patch"', [2]),
        ("cafe", '"cafe"', [3]),
        ("débâcle", '"débâcle"', [3]),
        ("‘said hello’", '"said hello"', [3]),
        ('‘said "hello"’', '"‘said" "hello"', [3]),  # a double quote ends a ‘single’ phrase
        ("(twice)", '"(twice)"', [3]),
    ],
)
def test_fts5_match(
    fts: sqlite3.Connection, text: str, expression: str | None, rowids: list[int] | None
) -> None:
    if rowids is None:
        with pytest.raises(FilterError):
            parse_query(text)
        return
    query = parse_query(text)
    assert fts5_match(query) == expression
    assert search(fts, expression) == rowids


def test_fts5_match_without_terms() -> None:
    assert fts5_match(parse_query("entity:Meta")) is None
    assert fts5_match(SearchQuery(terms=(Term("!!!"), Term("--", "prefix")))) is None


def test_fts5_match_quotes_hostile_terms(fts: sqlite3.Connection) -> None:
    terms = (
        Term('a"b', "word"),
        Term('"', "phrase"),
        Term("x\x00y", "prefix"),
        Term("é", "prefix"),
        Term("z\ud800", "word"),
    )
    expression = fts5_match(SearchQuery(terms=terms))
    assert expression == '"a""b" "x y" * "é" * "z "'
    search(fts, expression)


query_words = st.sampled_from(
    [
        "AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR/2", "(", ")", "*", "^", ":", "-", "+", '"',
        "“", "”", "'", "‘", "’", "title:", "body:", "{title}", "col:x", "a*", "*a", "-a", "x-y",
        "é", "东京", "\x00", "\\", "''", '""', "entity:Meta", "since:2026-01-01",
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


@settings(max_examples=500)
@given(any_query_text)
@example('NEAR("a" "b") AND OR NOT x* ^y col:z')
@example("x\x00y* ")
def test_fts5_match_never_breaks_sqlite(text: str) -> None:
    query = parse_or_none(text)
    if query is None:
        return
    expression = fts5_match(query)
    if expression is not None:
        search(FTS, expression)


@settings(max_examples=500)
@given(
    st.lists(
        st.builds(Term, st.one_of(any_text, query_words), st.sampled_from([W, P, X])),
        max_size=6,
    )
)
def test_fts5_match_never_breaks_sqlite_for_any_term(terms: list[Term]) -> None:
    expression = fts5_match(SearchQuery(terms=tuple(terms)))
    if expression is not None:
        search(FTS, expression)


FTS = fts5_table()


# --- websearch_to_tsquery -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("muse spark", '"muse" "spark"'),
        ('"muse spark" secur*', '"muse spark" "secur"'),
        ("or -x", '"or"'),
        ("muse OR spark", '"muse" "OR" "spark"'),
        ("‘say hi’", '"say hi"'),
        ("entity:Meta", None),
    ],
)
def test_tsquery_text(text: str, expected: str | None) -> None:
    assert tsquery_text(parse_query(text)) == expected


def test_tsquery_text_strips_quotes_and_nul() -> None:
    terms = (Term('say "hi"', P), Term("x\x00y", W), Term("“z”", X))
    assert tsquery_text(SearchQuery(terms=terms)) == '"say hi" "x y" "z"'


@settings(max_examples=300)
@given(st.lists(st.builds(Term, any_text, st.sampled_from([W, P, X])), max_size=5))
def test_tsquery_text_keeps_every_term_inside_its_quotes(terms: list[Term]) -> None:
    text = tsquery_text(SearchQuery(terms=tuple(terms)))
    if text is None:
        return
    assert "\x00" not in text
    pieces = text.split('"')
    assert len(pieces) % 2 == 1
    assert all(piece == " " for piece in pieces[2:-1:2])
    assert pieces[0] == pieces[-1] == ""
