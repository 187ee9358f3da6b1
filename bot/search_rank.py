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


@dataclass(frozen=True, slots=True)
class Candidate:
    """A brief that matched, as ranking sees it: each field's index text, and its length."""

    seq: int
    published: datetime
    fields: tuple[str, ...]
    lengths: tuple[int, ...]

    @classmethod
    def from_columns(
        cls, seq: int, published: datetime, search_title: str, search_body: str
    ) -> Candidate:
        """A candidate from the stored `search_title` and `search_body` columns."""
        body = search_body.split(FIELD_SEPARATOR)[: len(FIELDS_OF_BODY)]
        lines = (search_title, *body, *[""] * (len(FIELDS_OF_BODY) - len(body)))
        lengths = tuple(line.count(" ") + 1 if line else 0 for line in lines)
        return cls(seq, published, lines, lengths)


def padded(index_text: str) -> str:
    """Index text as `hits` reads it: `muse spark` -> `" muse  spark "`.

    Each token gets a space of its own on each side, so that str.count finds every occurrence,
    side by side ones too.
    """
    return " " + index_text.replace(" ", "  ") + " "


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
        (_score(candidate, terms, weights, averages), candidate.published, candidate.seq)
        for candidate in candidates
    ]
    by_seq = {candidate.seq: candidate for candidate in candidates}
    return [by_seq[seq] for _, _, seq in sorted(scored, reverse=True)]


def hits(field: str, term: TextTerm) -> int:
    """How often the term occurs in a field's `padded` index text.

    A phrase that overlaps itself ("a a" in "a a a") counts once per non-overlapping run.
    """
    phrase = " " + "  ".join(term.tokens)
    return field.count(phrase if term.prefix else phrase + " ")


def _idf(document_frequency: float, total_documents: int) -> float:
    frequency = min(max(document_frequency, 0.0), float(total_documents))
    return math.log(1.0 + (total_documents - frequency + 0.5) / (frequency + 0.5))


def _average_lengths(candidates: Sequence[Candidate]) -> list[float]:
    if not candidates:
        return [0.0] * len(FIELDS)
    return [
        sum(candidate.lengths[index] for candidate in candidates) / len(candidates)
        for index in range(len(FIELDS))
    ]


def _score(
    candidate: Candidate, terms: Sequence[TextTerm], weights: list[float], averages: list[float]
) -> float:
    total = 0.0
    for term, idf in zip(terms, weights, strict=True):
        frequency = 0.0
        for (_, weight, b), field, length, average in zip(
            FIELDS, candidate.fields, candidate.lengths, averages, strict=True
        ):
            # Most fields lack most terms: a plain substring test rules them out cheaply.
            found = hits(padded(field), term) if term.tokens[0] in field else 0
            if found:
                norm = 1.0 - b + b * (length / average if average else 1.0)
                frequency += weight * found / norm
        total += idf * frequency / (K1 + frequency)
    return total
