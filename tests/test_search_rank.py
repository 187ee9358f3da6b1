"""Ranking (BM25F over index tokens, then recency) and snippets, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search.grammar import TextTerm, parse_query, text_terms
from bot.search.document import FIELDS_OF_BODY, search_columns
from bot.search.rank import FIELDS, Candidate, hits, padded, rank
from bot.search.tokens import run_spans, run_tokens
from bot.signal import Section, Signal
from bot.search.snippets import (
    HIT_END,
    HIT_START,
    SNIPPET_WORDS,
    _matched_runs,
    _occurs,
    brief_snippet,
    snippet,
)

NOW = datetime(2026, 4, 23, tzinfo=UTC)


def candidate(
    seq: int, title: str, summary: str = "", days_ago: int = 0, **fields: str
) -> Candidate:
    signal = Signal(
        title=title, published=NOW - timedelta(days=days_ago), summary=summary, **fields
    )
    columns = search_columns(signal)
    return Candidate.from_columns(
        seq, signal.published, columns["search_title"], columns["search_body"]
    )


def order(
    candidates: list[Candidate], query: str, frequencies: dict[str, float] | None = None
) -> list[int]:
    terms = text_terms(parse_query(query))
    df = {term: (frequencies or {}).get(" ".join(term.tokens), 1.0) for term in terms}
    return [found.seq for found in rank(candidates, terms, df, total_documents=1000)]


def test_fields_are_the_title_then_the_body_lines() -> None:
    assert tuple(name for name, _, _ in FIELDS) == ("title", *FIELDS_OF_BODY)


def test_a_title_hit_beats_a_summary_hit_whatever_the_date() -> None:
    in_summary = candidate(1, "Quarterly update", "The model ships.", days_ago=0)
    in_title = candidate(2, "Model ships", "Quarterly update.", days_ago=300)
    assert order([in_summary, in_title], "model") == [2, 1]


def test_the_entity_counts_more_than_the_sections() -> None:
    named = candidate(1, "Update", entity="Mistral")
    mentioned = candidate(2, "Update", sections=(Section("News", "Mistral said so."),))
    assert order([mentioned, named], "mistral") == [1, 2]


def test_more_mentions_rank_higher_and_equals_go_newest_first() -> None:
    once = candidate(1, "A", "security", days_ago=1)
    twice = candidate(2, "B", "security security", days_ago=5)
    same_as_once_newer = candidate(3, "C", "security", days_ago=0)
    assert order([once, twice, same_as_once_newer], "security") == [2, 3, 1]


def test_equal_score_and_date_go_by_storage_order() -> None:
    assert order([candidate(1, "Tie"), candidate(2, "Tie")], "tie") == [2, 1]


def test_a_rare_word_outweighs_a_common_one() -> None:
    common_in_title = candidate(1, "Model model model", "a quokka was seen")
    rare_in_title = candidate(2, "Quokka spotted", "a model was seen")
    rare = {"model": 900.0, "quokka": 2.0}
    assert order([common_in_title, rare_in_title], "model quokka", rare) == [2, 1]


@pytest.mark.parametrize(
    ("field", "term", "count"),
    [
        ("muse spark muse spark", TextTerm(("muse", "spark")), 2),
        ("spark muse", TextTerm(("muse", "spark")), 0),
        ("llama llamas ll", TextTerm(("llam",), prefix=True), 2),
        ("gpt 4o gpt 4", TextTerm(("gpt", "4"), prefix=True), 2),
        ("gpt", TextTerm(("gpt", "4"), prefix=True), 0),
        ("amuse muses", TextTerm(("muse",)), 0),
        ("", TextTerm(("x",)), 0),
    ],
)
def test_hits(field: str, term: TextTerm, count: int) -> None:
    assert hits(padded(field), term) == count


def test_candidates_read_back_short_bodies() -> None:
    found = Candidate.from_columns(1, NOW, "a b", "meta")
    assert found.fields == ("a b", "meta", "", "", "", "")
    assert found.lengths == (2, 1, 0, 0, 0, 0)


# --- snippets ---------------------------------------------------------------------------------

TEXT = (
    "In a significant strategic reversal, Meta launched its first proprietary model, Muse Spark, "
    "days after releasing its open-source Llama 4 models. "
    + "Filler words go here. " * 20
    + "At the very end, Llama appears again."
)


def terms_of(query: str) -> tuple[TextTerm, ...]:
    return text_terms(parse_query(query))


def test_snippet_marks_every_form_a_prefix_matched() -> None:
    found = snippet(TEXT, terms_of("llam* muse"))
    assert f"{HIT_START}Muse{HIT_END}" in found
    assert f"{HIT_START}Llama{HIT_END}" in found
    assert found.endswith("…")
    assert len(found.split()) <= SNIPPET_WORDS + 2


def test_snippet_moves_to_where_the_words_are() -> None:
    found = snippet(TEXT, terms_of("appears"))
    assert found.startswith("…")
    assert f"{HIT_START}appears{HIT_END}" in found


def test_snippet_of_accented_and_cjk_words_marks_the_original_spelling() -> None:
    found = snippet("Le Café de Zürich et 東京", terms_of("cafe 東京 zurich"))
    assert (
        found
        == f"Le {HIT_START}Café{HIT_END} de {HIT_START}Zürich{HIT_END} et {HIT_START}東京{HIT_END}"
    )


def test_snippet_drops_marker_characters_from_the_brief_itself() -> None:
    assert HIT_START not in snippet(
        f"x{HIT_START}y{HIT_END} no hit", terms_of("zzz"), fallback=True
    )


def test_brief_snippet_falls_back_to_the_summary() -> None:
    signal = Signal(title="Muse", published=NOW, summary="The lede, with no hit.")
    assert brief_snippet(signal, terms_of("muse")) == "The lede, with no hit."
    assert brief_snippet(Signal(title="Muse", published=NOW), terms_of("muse")) == ""


WORDS = ["llama", "Llama4", "muse", "MUSE", "spark", "sparks", "x", "4e1c", "4E1a", "a-b", "4e1"]


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from([*WORDS, " ", ", ", "-", "'"]), max_size=30).map("".join),
    st.lists(
        st.sampled_from(["llam*", "muse", "spark", "sp*", "x", "a", "c", "4e1", '"muse spark"']),
        min_size=1,
    ),
)
def test_the_fast_ascii_highlighter_agrees_with_the_tokenizer(
    text: str, queries: list[str]
) -> None:
    terms = text_terms(parse_query(" ".join(queries)))
    spans = list(run_spans(text))
    tokens = [(i, t) for i, (a, b) in enumerate(spans) for t in run_tokens(text[a:b])]
    expected = [False] * len(spans)
    for term in terms:
        for at in range(len(tokens) - len(term.tokens) + 1):
            window = tokens[at : at + len(term.tokens)]
            if _occurs(term, [token for _, token in window]):
                for index, _ in window:
                    expected[index] = True
    assert _matched_runs(text, spans, terms) == expected


def test_phrases_are_marked_only_where_the_whole_phrase_is() -> None:
    found = snippet("The data model, and the model of the data.", terms_of('"model of the data"'))
    marked = " ".join(f"{HIT_START}{word}{HIT_END}" for word in ("model", "of", "the", "data"))
    assert found == f"The data model, and the {marked}."
