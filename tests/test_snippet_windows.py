"""The snippet's window and run marking, done by bisection, agree with testing every run."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search.snippets import SNIPPET_WORDS, _best_window, _has_text, _runs_within


def every_run_within(spans: list[tuple[int, int]], found: list[tuple[int, int]]) -> list[bool]:
    """The plain way: a run is marked when its start lies inside any found stretch."""
    return [any(a <= start < b for a, b in found) for start, _ in spans]


def every_window(matched: list[bool]) -> int:
    """The plain way: count every window, keep the earliest with the most matches."""
    starts = range(max(len(matched) - SNIPPET_WORDS + 1, 1))
    counts = [sum(matched[start : start + SNIPPET_WORDS]) for start in starts]
    return counts.index(max(counts))


@st.composite
def runs_and_hits(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    lengths = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3)), max_size=80))
    spans, at = [], 0
    for word, gap in lengths:
        spans.append((at, at + word))
        at += word + gap
    hits = draw(st.lists(st.tuples(st.integers(0, at + 2), st.integers(0, 12)), max_size=12))
    return spans, sorted((start, start + length) for start, length in hits)


@settings(max_examples=300)
@given(runs_and_hits())
def test_runs_are_marked_as_by_testing_each(case: tuple[list[tuple[int, int]], list]) -> None:
    spans, found = case
    assert _runs_within(spans, found) == every_run_within(spans, found)


@settings(max_examples=500)
@given(st.lists(st.booleans(), max_size=120) | st.lists(st.sampled_from([False] * 9 + [True])))
def test_the_best_window_is_the_one_counting_every_window_finds(matched: list[bool]) -> None:
    assert _best_window(matched) == every_window(matched)


@given(st.text())
def test_text_is_found_as_str_isalnum_finds_it(text: str) -> None:
    assert _has_text(text) == any(char.isalnum() for char in text)
