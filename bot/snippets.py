"""Snippets: the stretch of a brief with the most query words, those words marked.

Words are found with the index's own tokenizer (`bot.search_text`), so what is highlighted is
what matched, whether the brief is stored in SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.query import TextTerm
from bot.search_text import run_spans, run_tokens
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
    matched = [_matches(run_tokens(text[start:end]), terms) for start, end in spans]
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


def _matches(found: list[str], terms: Sequence[TextTerm]) -> bool:
    for term in terms:
        *whole, last = term.tokens
        for token in found:
            if token in whole or token == last or (term.prefix and token.startswith(last)):
                return True
    return False


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
