"""Snippets: the stretch of a brief with the most query words, those words marked.

Words are found with the index's own tokenizer (`bot.search.tokens`), so what is highlighted is
what matched, whether the brief is stored in SQLite or PostgreSQL.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from itertools import compress

from bot.search.grammar import TextTerm
from bot.search.tokens import is_plain_ascii, run_span_list, run_tokens
from bot.signal import Signal

HIT_START, HIT_END = "\ue000", "\ue001"
SNIPPET_WORDS = 30
ELLIPSIS = "…"


def brief_snippet(signal: Signal, terms: Sequence[TextTerm]) -> str:
    """A highlighted snippet from the summary and sections, else the start of the summary."""
    text = "\n".join([signal.summary, *(section.body for section in signal.sections)])
    return snippet(text, terms) or snippet(signal.summary, (), fallback=True)


def snippet(text: str, terms: Sequence[TextTerm], *, fallback: bool = False) -> str:
    """The best SNIPPET_WORDS-word stretch of `text`; "" when no term occurs (unless `fallback`)."""
    text = text.replace(HIT_START, " ").replace(HIT_END, " ")
    spans = run_span_list(text)
    matched = _matched_runs(text, spans, tuple(terms))
    if not any(matched) and not fallback:
        return ""
    first = _best_window(matched)
    window = range(first, min(first + SNIPPET_WORDS, len(spans)))
    if not window:
        return ""
    pieces = [ELLIPSIS] if _has_text(text[: spans[first][0]]) else []
    position = spans[first][0]
    for index in window:
        start, end = spans[index]
        pieces.append(text[position:start])
        word = text[start:end]
        pieces.append(f"{HIT_START}{word}{HIT_END}" if matched[index] else word)
        position = end
    rest = text[position:]
    pieces.append(ELLIPSIS if _has_text(rest) else rest)
    return " ".join("".join(pieces).split())


def _matched_runs(
    text: str, spans: list[tuple[int, int]], terms: tuple[TextTerm, ...]
) -> list[bool]:
    """For each run, whether it is part of an occurrence of a term (a whole phrase, for one)."""
    if is_plain_ascii(text):
        found = sorted(hit.span() for term in terms for hit in _ascii_pattern(term).finditer(text))
        return _runs_within(spans, found)
    tokens = [
        (index, token)
        for index, (start, end) in enumerate(spans)
        for token in run_tokens(text[start:end])
    ]
    marked = [False] * len(spans)
    for term in terms:
        for at in range(len(tokens) - len(term.tokens) + 1):
            window = tokens[at : at + len(term.tokens)]
            if _occurs(term, [token for _, token in window]):
                for index, _ in window:
                    marked[index] = True
    return marked


def _occurs(term: TextTerm, tokens: list[str]) -> bool:
    *whole, last = term.tokens
    if tokens[:-1] != whole:
        return False
    return tokens[-1].startswith(last) if term.prefix else tokens[-1] == last


@lru_cache(maxsize=256)
def _ascii_pattern(term: TextTerm) -> re.Pattern[str]:
    """A regex for the term's occurrences in text where every run is one token
    (bot.search.tokens.is_plain_ascii): its tokens as whole runs, in a row."""
    words = r"[^A-Za-z0-9]+".join(re.escape(token) for token in term.tokens)
    end = "" if term.prefix else "(?![A-Za-z0-9])"
    return re.compile(rf"(?<![A-Za-z0-9]){words}{end}", re.IGNORECASE)


def _runs_within(spans: list[tuple[int, int]], found: list[tuple[int, int]]) -> list[bool]:
    """For each run, whether it starts inside one of the `found` stretches (both in order).

    A brief's body has hundreds of runs and a snippet's terms a few hits: each hit marks the
    runs starting inside it, found by bisection, instead of every run being tested."""
    starts = [start for start, _ in spans]
    marked = [False] * len(spans)
    for hit_start, hit_end in found:
        first, last = bisect_left(starts, hit_start), bisect_left(starts, hit_end)
        marked[first:last] = [True] * (last - first)
    return marked


def _best_window(matched: list[bool]) -> int:
    """Where the SNIPPET_WORDS-run window with the most matches starts (the earliest of equals).

    The count only rises where a window's last run is a match, so the earliest best start is 0
    or such a place: only those are counted."""
    hits = list(compress(range(len(matched)), matched))
    last_start = max(len(matched) - SNIPPET_WORDS, 0)
    starts = [0, *(hit - SNIPPET_WORDS + 1 for hit in hits if hit >= SNIPPET_WORDS)]
    best, best_count = 0, -1
    for start in starts:
        if start > last_start:
            break
        count = bisect_left(hits, start + SNIPPET_WORDS) - bisect_left(hits, start)
        if count > best_count:
            best, best_count = start, count
    return best


_ALPHANUMERIC = re.compile(r"[^\W_]")  # exactly the characters for which str.isalnum() holds


def _has_text(text: str) -> bool:
    return _ALPHANUMERIC.search(text) is not None
