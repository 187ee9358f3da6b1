"""The full-text index of each database, behind one interface (`FullTextIndex`).

Both answer the same question the same way: which briefs hold every term (anywhere, or at a
given level: bot.search.topk), have the FILTER values, keywords and dates of the query, newest
first by (`published_day`, `seq`). How each gets there: bot.search.backends.sqlite (FTS5) and
bot.search.backends.postgres (tsvector + GIN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from bot.filters import SignalFilter
from bot.search.grammar import SearchQuery, TextTerm

FieldValues = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class TermAt:
    """A term the brief must hold: anywhere (`level` None), or at that level (bot.search.rank)."""

    term: TextTerm
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Constraints:
    """What a query asks beyond its free text: FILTER names, keywords, and a date range."""

    include: FieldValues = field(default_factory=dict)
    exclude: FieldValues = field(default_factory=dict)
    keywords: frozenset[str] = frozenset()
    excluded_keywords: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None

    @classmethod
    def of(cls, query: SearchQuery) -> Constraints:
        """A QUERY's FILTER fields and dates."""
        names: SignalFilter = query.filter
        return cls(
            include={name: values for name, values in names.include.items() if name != "keyword"},
            exclude={name: values for name, values in names.exclude.items() if name != "keyword"},
            keywords=names.include.get("keyword", frozenset()),
            excluded_keywords=names.exclude.get("keyword", frozenset()),
            since=query.since,
            until=query.until,
        )


class FullTextIndex(Protocol):
    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        """(published_day, seq) of the newest `limit` briefs holding every term, newest first."""

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        """(published_day, seq) of any `limit` briefs holding every term, in no set order."""

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        """Which of these levels some brief meeting the constraints has for the term."""
