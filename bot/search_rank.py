"""Relevance: BM25F over the index tokens of a bounded set of candidates, then recency.

    score = Σ over terms  idf(term) · tf / (K1 + tf)
    tf    = Σ over fields weight · hits / (1 - b + b · length / average length)
    idf   = ln(1 + (N - df + 0.5) / (df + 0.5))

Fields and their (weight, b) are in FIELDS; averages are taken over the candidates. A phrase
counts where its tokens follow each other; a prefix counts every token it starts. Ties go to the
newer brief (published, then storage order). The score is computed here, not by the database, so
SQLite and PostgreSQL rank the same candidates identically, to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.query import TextTerm
from bot.search_document import FIELDS_OF_BODY
from bot.search_text import FIELD_SEPARATOR

K1 = 1.2
# (name, weight, b): the title, then bot.search_document.FIELDS_OF_BODY; names are not normalized.
FIELDS = (
    ("title", 8.0, 0.5),
    ("entity", 5.0, 0.0),
    ("category", 2.0, 0.0),
    ("topic", 2.0, 0.0),
    ("summary", 3.0, 0.75),
    ("sections", 1.0, 0.75),
)

FieldTokens = tuple[list[str], ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A brief that matched, as ranking sees it: its index tokens per field."""

    seq: int
    published: datetime
    fields: FieldTokens

    @classmethod
    def from_columns(
        cls, seq: int, published: datetime, search_title: str, search_body: str
    ) -> Candidate:
        """A candidate from the stored `search_title` and `search_body` columns."""
        body = search_body.split(FIELD_SEPARATOR)
        body += [""] * (len(FIELDS_OF_BODY) - len(body))
        fields = (search_title.split(), *(line.split() for line in body[: len(FIELDS_OF_BODY)]))
        return cls(seq, published, fields)


def rank(
    candidates: Sequence[Candidate],
    terms: Sequence[TextTerm],
    document_frequency: Mapping[TextTerm, float],
    total_documents: int,
) -> list[Candidate]:
    """The candidates, most relevant first; among equals, the newest first."""
    averages = _average_lengths(candidates)
    weights = [_idf(document_frequency.get(term, 0.0), total_documents) for term in terms]
    scored = [
        (_score(candidate.fields, terms, weights, averages), candidate.published, candidate.seq)
        for candidate in candidates
    ]
    by_seq = {candidate.seq: candidate for candidate in candidates}
    return [by_seq[seq] for _, _, seq in sorted(scored, reverse=True)]


def hits(field: list[str], term: TextTerm) -> int:
    """How often the term occurs in a field's tokens."""
    first, length = term.tokens[0], len(term.tokens)
    if length == 1:
        if not term.prefix:
            return field.count(first)
        return sum(1 for token in field if token.startswith(first))
    starts = (index for index, token in enumerate(field) if token == first)
    return sum(1 for start in starts if _phrase_at(field, start, term))


def _phrase_at(field: list[str], start: int, term: TextTerm) -> bool:
    window = field[start : start + len(term.tokens)]
    if len(window) < len(term.tokens):
        return False
    if term.prefix:
        *whole, last = term.tokens
        return window[:-1] == whole and window[-1].startswith(last)
    return tuple(window) == term.tokens


def _idf(document_frequency: float, total_documents: int) -> float:
    frequency = min(max(document_frequency, 0.0), float(total_documents))
    return math.log(1.0 + (total_documents - frequency + 0.5) / (frequency + 0.5))


def _average_lengths(candidates: Sequence[Candidate]) -> list[float]:
    if not candidates:
        return [0.0] * len(FIELDS)
    return [
        sum(len(candidate.fields[index]) for candidate in candidates) / len(candidates)
        for index in range(len(FIELDS))
    ]


def _score(
    fields: FieldTokens, terms: Sequence[TextTerm], weights: list[float], averages: list[float]
) -> float:
    total = 0.0
    for term, idf in zip(terms, weights, strict=True):
        frequency = 0.0
        for (_, weight, b), field, average in zip(FIELDS, fields, averages, strict=True):
            found = hits(field, term)
            if found:
                norm = 1.0 - b + b * (len(field) / average if average else 1.0)
                frequency += weight * found / norm
        total += idf * frequency / (K1 + frequency)
    return total
