"""Snippets: the stretch of a brief with the most query words, those words marked.

Words are found with the index's own tokenizer (`bot.search_text`), so what is highlighted is
what matched, whether the brief is stored in SQLite or PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.query import TextTerm
from bot.search_text import is_plain_ascii, run_spans, run_tokens
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
    spans = list(run_spans(text))
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
    """For each run, whether it holds a query token."""
    pattern = _ascii_pattern(terms) if is_plain_ascii(text) else None
    if pattern is not None:
        starts = {match.start() for match in pattern.finditer(text)}
        return [start in starts for start, _ in spans]
    exact, prefixes = _words_and_prefixes(terms)
    return [
        any(token in exact or token.startswith(prefixes) for token in run_tokens(text[start:end]))
        for start, end in spans
    ]


@lru_cache(maxsize=256)
def _ascii_pattern(terms: tuple[TextTerm, ...]) -> re.Pattern[str] | None:
    """One regex finding the runs that hold a query token, in text where every run is one
    token (bot.search_text.is_plain_ascii); None without tokens."""
    exact, prefixes = _words_and_prefixes(terms)
    if not exact and not prefixes:
        return None
    alternatives = [f"{re.escape(token)}(?![A-Za-z0-9])" for token in sorted(exact)]
    alternatives += [re.escape(prefix) for prefix in sorted(prefixes)]
    return re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(alternatives)})", re.IGNORECASE)


def _words_and_prefixes(terms: Sequence[TextTerm]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The tokens to mark: whole ones, and the starts of words (the last token of a prefix term)."""
    exact = {token for term in terms for token in term.tokens[: -1 if term.prefix else None]}
    return frozenset(exact), tuple(term.tokens[-1] for term in terms if term.prefix)


def _best_window(matched: list[bool]) -> int:
    """Where the SNIPPET_WORDS-run window with the most matches starts (the earliest of equals)."""
    in_window = sum(matched[:SNIPPET_WORDS])
    best, best_count = 0, in_window
    for start in range(1, max(len(matched) - SNIPPET_WORDS + 1, 1)):
        in_window += matched[start + SNIPPET_WORDS - 1] - matched[start - 1]
        if in_window > best_count:
            best, best_count = start, in_window
    return best


def _has_text(text: str) -> bool:
    return any(char.isalnum() for char in text)
