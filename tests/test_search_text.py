"""The index tokenizer and what a brief stores for search: tokens, documents, facets, dates."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.filters import keyword_text, name_key
from bot.search.document import facet_token, search_columns
from bot.search.rank import day_number
from bot.search.tokens import MAX_TOKEN_LENGTH, document, run_spans, run_tokens, tokens
from bot.signal import Section, Signal

any_text = st.text(alphabet=st.characters(codec=None), max_size=60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Meta Pivots To Closed-Source AI", ["meta", "pivots", "to", "closed", "source", "ai"]),
        ("Café Zürich, São Paulo", ["cafe", "zurich", "sao", "paulo"]),
        ("Straße ﬁle ² ½", ["strasse", "file", "2", "1", "2"]),
        ("e\u0301te", ["ete"]),  # a combining accent stays inside its word
        ("GPT-4.5 gpt-4o", ["gpt", "4", "5", "gpt", "4o"]),
        ("4e1c 1e5 12e3x", ["4e1", "c", "1e5", "12e3", "x"]),  # as PostgreSQL splits numbers
        ("gpt東京", ["gpt", "xe69db1e4baac"]),
        ("Ａｂｃ１ İstanbul", ["abc1", "istanbul"]),
        ("meta’s 'quoted'", ["meta", "s", "quoted"]),
        ("a_b x\x00y z\ud800", ["a", "b", "x", "y", "z"]),
        ("&&& -- ***", []),
        ("x" * 100, ["x" * MAX_TOKEN_LENGTH]),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@settings(max_examples=400)
@given(any_text)
@example("4e1c Ünïcödé 東京 x\u0301")
def test_tokens_are_lowercase_ascii_and_the_same_run_by_run(text: str) -> None:
    found = tokens(text)
    assert all(token.isascii() and token.isalnum() and token == token.lower() for token in found)
    assert all(0 < len(token) <= MAX_TOKEN_LENGTH for token in found)
    by_run = [token for start, end in run_spans(text) for token in run_tokens(text[start:end])]
    assert by_run == found


@settings(max_examples=200)
@given(st.lists(any_text, max_size=4))
def test_fts5_ascii_tokenizer_sees_exactly_the_tokens(fields: list[str]) -> None:
    indexed = document(fields)
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='ascii')")
        connection.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        connection.execute("INSERT INTO t (rowid, body) VALUES (1, ?)", (indexed,))
        seen = connection.execute("SELECT term FROM v ORDER BY offset").fetchall()
    assert [term for (term,) in seen] == [token for field in fields for token in tokens(field)]


def test_document_keeps_one_line_per_field_and_a_token_budget() -> None:
    assert document(["Title A", "", "b  c"]) == "title a\n\nb c"
    assert document(["a b c", "d e"], budget=4) == "a b c\nd"


# --- what a brief stores ----------------------------------------------------------------------

SIGNAL = Signal(
    title="Meta Pivots To Closed-Source AI",
    published=datetime(2026, 4, 23, 22, 30, tzinfo=UTC),
    key="k",
    source="OPTYX Feed",
    entity="Meta",
    category="PLATFORM RELEASE",
    topic="AI Advances",
    summary="Muse Spark ships.",
    sections=(Section("The News", "Closed weights."),),
)


def test_search_columns() -> None:
    columns = search_columns(SIGNAL)
    assert columns["search_title"] == "meta pivots to closed source ai"
    assert columns["search_body"].split("\n") == [
        "meta",
        "platform release",
        "ai advances",
        "muse spark ships",
        "the news closed weights",
    ]
    assert columns["keyword_text"] == keyword_text(SIGNAL)
    assert columns["source_slug"] == name_key("OPTYX Feed") == "optyx-feed"
    facets = columns["search_facets"].split()
    assert facet_token("entity", "meta") in facets
    assert facet_token("topic", "ai-advances") in facets
    assert facet_token("source", "optyx-feed") in facets
    assert columns["published_day"] == day_number(date(2026, 4, 23))
    impacts = columns["search_impacts"].split()
    assert "meta_8" in impacts  # the title and the entity
    assert {"pivots_7", "muse_7", "weights_5"} <= set(impacts)  # title, summary, a section
    pairs = columns["search_pairs"].split()
    assert pairs[:2] == ["__meta_platform", "__platform_release"]  # the body's lines run on
    assert "__muse_spark" in pairs
    assert "__pivots_to" not in pairs  # the title's pairs are not the body's


def test_empty_names_have_no_facet() -> None:
    facets = search_columns(Signal(title="t", published=SIGNAL.published)).get("search_facets")
    assert facets == ""
