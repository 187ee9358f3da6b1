"""The declared ranking (word levels + recency), the class walk that finds its exact top k, and
snippets, as plain functions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search.document import FIELDS_OF_BODY, impacts, search_columns
from bot.search.grammar import MAX_QUERY_TERMS, TextTerm, parse_query, text_terms
from bot.search.rank import (
    BODY_LEVEL,
    FIELDS,
    RECENCY,
    TITLE_LEVEL,
    IndexedBrief,
    Scored,
    best_first,
    day_number,
    occurs,
    recency,
    score,
    word_level,
    word_levels,
)
from bot.search.snippets import (
    HIT_END,
    HIT_START,
    SNIPPET_WORDS,
    _matched_runs,
    _occurs,
    brief_snippet,
    snippet,
)
from bot.search.tokens import run_spans, run_tokens
from bot.search.topk import classes_by_sum, possible_levels, top_k
from bot.signal import Section, Signal

NOW = datetime(2026, 4, 23, tzinfo=UTC)
TODAY = day_number(NOW.date())


def indexed(
    seq: int, title: str, summary: str = "", days_ago: int = 0, **fields: object
) -> IndexedBrief:
    signal = Signal(
        title=title,
        published=NOW - timedelta(days=days_ago),
        summary=summary,
        **fields,  # type: ignore[arg-type]
    )
    columns = search_columns(signal)
    return IndexedBrief(
        seq, columns["published_day"], columns["search_title"], columns["search_body"]
    )


def order(briefs: list[IndexedBrief], query: str) -> list[int]:
    terms = text_terms(parse_query(query))
    found = [scored for brief in briefs if (scored := score(terms, brief, TODAY))]
    return [scored.seq for scored in best_first(found)]


def test_fields_are_the_title_then_the_body_lines() -> None:
    assert tuple(field.name for field in FIELDS) == ("title", *FIELDS_OF_BODY)


def test_a_title_holding_every_word_beats_one_section_mention_whatever_the_dates() -> None:
    in_section = indexed(1, "Update", sections=(Section("News", "The muse spark model."),))
    in_title = indexed(2, "Muse Spark ships", "Quarterly update.", days_ago=3650)
    assert order([in_section, in_title], "muse spark") == [2, 1]
    phrase_in_section = indexed(3, "Update", sections=(Section("News", "muse spark"),))
    phrase_in_title = indexed(4, "Muse spark", days_ago=3650)
    assert order([phrase_in_section, phrase_in_title], '"muse spark"') == [4, 3]


def test_recency_lifts_a_new_brief_over_a_slightly_more_relevant_old_one() -> None:
    old = indexed(1, "Update", "model model", days_ago=3 * 365)
    new = indexed(2, "Update", "model", days_ago=0)
    terms = text_terms(parse_query("model"))
    old_level = score(terms, old, TODAY)
    new_level = score(terms, new, TODAY)
    assert old_level is not None
    assert new_level is not None
    relevance = [
        found.score - recency(found.published_day, TODAY) for found in (old_level, new_level)
    ]
    assert relevance[0] == relevance[1] + 1  # one level apart
    assert order([old, new], "model") == [2, 1]


def test_the_entity_counts_more_than_the_sections() -> None:
    named = indexed(1, "Update", entity="Mistral")
    mentioned = indexed(2, "Update", sections=(Section("News", "Mistral said so."),))
    assert order([mentioned, named], "mistral") == [1, 2]


def test_equal_scores_go_to_the_newer_day_then_the_later_stored() -> None:
    assert order([indexed(1, "Tie"), indexed(2, "Tie")], "tie") == [2, 1]
    assert order([indexed(2, "Tie", days_ago=1), indexed(1, "Tie")], "tie") == [1, 2]


def test_phrases_and_prefixes_count_one_mention_where_they_are() -> None:
    brief = indexed(1, "Llama models", "the closed source model")
    levels = [
        (term, score((term,), brief, TODAY))
        for term in text_terms(parse_query('llam* "closed source" "source model"'))
    ]
    relevance = [found.score - RECENCY for _, found in levels if found]
    assert relevance == [TITLE_LEVEL, BODY_LEVEL, BODY_LEVEL]


def test_recency_is_bounded_and_halves_each_year() -> None:
    assert recency(TODAY, TODAY) == RECENCY
    assert recency(TODAY + 30, TODAY) == RECENCY  # a date in the future counts as today
    assert recency(TODAY - 365, TODAY) == pytest.approx(RECENCY / 2)


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(alphabet="ab c", max_size=30),
    summary=st.text(alphabet="ab cd", max_size=120),
    body=st.text(alphabet="abd c", max_size=400),
)
def test_stored_levels_are_the_levels_ranking_computes(title: str, summary: str, body: str) -> None:
    brief = indexed(1, title or "x", summary, sections=(Section("h", body),))
    stored = {
        word: int(level)
        for word, _, level in (
            token.rpartition("_") for token in impacts(brief.title, brief.body).split()
        )
    }
    fields = brief.field_tokens()
    assert stored == word_levels(fields)
    assert all(word_level(token, fields) == level for token, level in stored.items())


@pytest.mark.parametrize(
    ("text", "term", "found"),
    [
        ("muse spark muse spark", TextTerm(("muse", "spark")), True),
        ("spark muse", TextTerm(("muse", "spark")), False),
        ("llamas ll", TextTerm(("llam",), prefix=True), True),
        ("gpt 4o", TextTerm(("gpt", "4"), prefix=True), True),
        ("gpt", TextTerm(("gpt", "4"), prefix=True), False),
        ("amuse muses", TextTerm(("muse",)), False),
        ("meta\n\ncloud", TextTerm(("meta", "cloud")), True),  # body lines run on
        ("", TextTerm(("x",)), False),
    ],
)
def test_occurs(text: str, term: TextTerm, found: bool) -> None:
    assert occurs(term, text.replace("\\n", "\n")) is found


# --- the exact top k, class by class --------------------------------------------------------------


def test_classes_come_highest_sum_first_each_once() -> None:
    options = [(8, 5, 1), (7, 4)]
    classes = list(classes_by_sum(options))
    assert sorted(classes) == sorted((a, b) for a in options[0] for b in options[1])
    sums = [sum(levels) for levels in classes]
    assert sums == sorted(sums, reverse=True)


@settings(max_examples=80, deadline=None)
@given(
    briefs=st.lists(
        st.tuples(st.sampled_from(range(1, 9)), st.sampled_from((TITLE_LEVEL, BODY_LEVEL)),
                  st.integers(0, 4000)),
        max_size=60,
    ),
    k=st.integers(1, 25),
)  # fmt: skip
def test_top_k_is_the_exact_top_of_every_brief(briefs: list[tuple[int, int, int]], k: int) -> None:
    """Any spread of levels and dates: the class walk returns what sorting everything returns."""
    rows = [(levels, TODAY - age, seq) for seq, (*levels, age) in enumerate(briefs, start=1)]

    def read_class(levels: tuple[int, ...], limit: int) -> list[tuple[int, int]]:
        members = [(day, seq) for found, day, seq in rows if tuple(found) == levels]
        return sorted(members, reverse=True)[:limit]

    expected = best_first(
        [Scored(sum(levels) + recency(day, TODAY), day, seq) for levels, day, seq in rows]
    )[:k]
    word, phrase = possible_levels(TextTerm(("w",))), possible_levels(TextTerm(("a", "b")))
    assert top_k([word, phrase], read_class, k, TODAY) == expected


def test_top_k_reads_few_classes_when_the_best_are_found_early() -> None:
    read: list[tuple[int, ...]] = []
    rng = random.Random(5)

    def read_class(levels: tuple[int, ...], limit: int) -> list[tuple[int, int]]:
        read.append(levels)
        return sorted(((TODAY - rng.randrange(3000), seq) for seq in range(limit)), reverse=True)

    found = top_k([possible_levels(TextTerm(("the",)))], read_class, 5, TODAY)
    assert len(found) == 5
    assert read == [(8,), (7,)]  # level 6 plus any recency cannot reach the fifth best


def test_day_number_counts_from_1970() -> None:
    assert day_number(date(1970, 1, 2)) == 1


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
        max_size=MAX_QUERY_TERMS // 2,  # a phrase is two terms; longer queries are refused
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
