"""The ranking: one declared function of a brief and a query (README, "How search ranks").

    score = Σ over the query's terms  level(term)  +  RECENCY · 2 ^ (-age in days / HALF_LIFE_DAYS)

A word's level is BM25F's saturated term frequency, quantized to 1..LEVELS:

    tf    = Σ over fields  weight · hits / (1 - b + b · length / typical length)
    level = ceil(LEVELS · tf / (K1 + tf))

with the fields, weights, b and typical lengths of FIELDS. A phrase or a prefix has no term
frequency in the index, so it counts as one mention: TITLE_LEVEL when it is in the title,
BODY_LEVEL elsewhere. Every term weighs the same (no idf: every result holds every term).

Why quantized: the levels are stored per word in the index (bot.search.document), so the best
briefs of a level can be read from it directly, newest first (bot.search.topk). Why these
numbers: a word in the title is level 7 or 8 (weight 8, no length normalization), a single
mention in a section at most 5, and recency is worth less than RECENCY = 1.5 levels, so a brief
whose title holds every word outranks one mentioning them once in a section, whatever their
dates, while a brief of this week beats a slightly more relevant one from years ago.
Equal scores go to the newer day, then the later stored brief.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.search.grammar import TextTerm
from bot.search.tokens import FIELD_SEPARATOR

LEVELS = 8
K1 = 1.2
TITLE_LEVEL = 7
BODY_LEVEL = 4
RECENCY = 1.5
HALF_LIFE_DAYS = 365.0
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a brief as ranking weighs it."""

    name: str
    weight: float
    b: float
    typical_length: float


# The title, then bot.search.document.FIELDS_OF_BODY, in that order.
FIELDS = (
    Field("title", 8.0, 0.0, 10.0),
    Field("entity", 5.0, 0.0, 2.0),
    Field("category", 2.0, 0.0, 2.0),
    Field("topic", 2.0, 0.0, 2.0),
    Field("summary", 3.0, 0.5, 40.0),
    Field("sections", 1.0, 0.5, 120.0),
)


def day_number(day: date) -> int:
    """Days since 1970-01-01: what the index orders briefs by (`published_day`)."""
    return (day - EPOCH).days


def recency(published_day: int, today: int) -> float:
    """The recency boost: RECENCY today, half that HALF_LIFE_DAYS ago; a future day is today."""
    return RECENCY * math.pow(2.0, -max(today - published_day, 0) / HALF_LIFE_DAYS)


def level_of_frequency(tf: float) -> int:
    """A saturated term frequency quantized to 1..LEVELS (0 for no mention)."""
    if tf <= 0.0:
        return 0
    # The epsilon keeps an exact level boundary (5.0) from rounding up by floating-point noise.
    return max(1, math.ceil(LEVELS * tf / (K1 + tf) - 1e-9))


def field_norm(field: Field, length: int) -> float:
    """BM25's length normalization of a field with `length` tokens."""
    return 1.0 - field.b + field.b * length / field.typical_length


def word_levels(fields: Sequence[Sequence[str]]) -> dict[str, int]:
    """The level of every token of a brief, from its fields' tokens (in FIELDS order)."""
    frequency = term_frequencies(fields)
    level = levels_of_frequencies(frequency.values())
    return dict(zip(frequency, map(level.__getitem__, frequency.values()), strict=True))


def term_frequencies(fields: Sequence[Sequence[str]]) -> dict[str, float]:
    """The tf of every token of a brief, from its fields' tokens (in FIELDS order), in the
    order the tokens first appear."""
    frequency: dict[str, float] = {}
    get = frequency.get
    for field, field_tokens in zip(FIELDS, fields, strict=True):
        if field_tokens:
            norm = field_norm(field, len(field_tokens))
            weight = field.weight
            # Inlined _add_hits (this runs for every word of every brief stored).
            for token, hits in Counter(field_tokens).items():
                frequency[token] = get(token, 0.0) + weight * hits / norm
    return frequency


def levels_of_frequencies(frequencies: Iterable[float]) -> dict[float, int]:
    """The level of each distinct tf: a brief's words have a dozen or so between them, so
    each is computed once, not once per word."""
    return {tf: level_of_frequency(tf) for tf in set(frequencies)}


def word_level(token: str, fields: Sequence[Sequence[str]]) -> int:
    """The level of one token, exactly as word_levels computes it."""
    tf = 0.0
    for field, field_tokens in zip(FIELDS, fields, strict=True):
        if hits := field_tokens.count(token):
            tf = _add_hits(tf, field, hits, field_norm(field, len(field_tokens)))
    return level_of_frequency(tf)


def _add_hits(tf: float, field: Field, hits: int, norm: float) -> float:
    # One formula for both callers, so that a level computed either way is the same to the bit.
    return tf + field.weight * hits / norm


@dataclass(frozen=True, slots=True)
class Scored:
    """A brief's place in the ranking: compare with `key`, highest first."""

    score: float
    published_day: int
    seq: int

    @property
    def key(self) -> tuple[float, int, int]:
        return (self.score, self.published_day, self.seq)


@dataclass(frozen=True, slots=True)
class IndexedBrief:
    """A stored brief as ranking reads it: the index text of its title and of its body."""

    seq: int
    published_day: int
    title: str
    body: str

    def field_tokens(self) -> list[list[str]]:
        lines = self.body.split(FIELD_SEPARATOR)
        lines += [""] * (len(FIELDS) - 1 - len(lines))
        return [line.split() for line in (self.title, *lines[: len(FIELDS) - 1])]


def term_level(term: TextTerm, brief: IndexedBrief, fields: Sequence[Sequence[str]]) -> int:
    """The term's level in the brief (0 when it does not occur); `fields` are its field tokens."""
    if len(term.tokens) == 1 and not term.prefix:
        return word_level(term.tokens[0], fields)
    if occurs(term, brief.title):
        return TITLE_LEVEL
    return BODY_LEVEL if occurs(term, brief.body) else 0


def occurs(term: TextTerm, index_text: str) -> bool:
    """Whether the term's tokens follow each other in the index text, the last maybe a prefix.

    Lines of the body run on, as they do for the full-text indexes (one column, one vector).
    """
    padded = " " + " ".join(index_text.split()) + " "
    phrase = " " + " ".join(term.tokens)
    return (phrase if term.prefix else phrase + " ") in padded


def score(terms: Sequence[TextTerm], brief: IndexedBrief, today: int) -> Scored | None:
    """The brief's score for the terms; None when a term does not occur."""
    fields = brief.field_tokens()
    total = 0
    for term in terms:
        level = term_level(term, brief, fields)
        if not level:
            return None
        total += level
    return Scored(total + recency(brief.published_day, today), brief.published_day, brief.seq)


def best_first(scored: Sequence[Scored]) -> list[Scored]:
    """Highest score first; equals by newer day, then later stored."""
    return sorted(scored, key=lambda item: item.key, reverse=True)
