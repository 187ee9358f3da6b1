"""PostgreSQL full text for search: generated tsvectors (migrations 0004, 0007, 0011):
`search_vector` (the whole brief), `search_title_vector` (its title) and `search_impacts_vector`
(each word with its level, bot.search.document, and the brief's facet tokens).

Words at their levels and FILTER values go into one tsquery on `search_impacts_vector`, so the
index intersects them rather than rows being tested one by one. With the RUM level index
(bot.search.backends.level_index) that query comes newest first straight from the index
(`ORDER BY search_order <=| NEWEST`); with GIN, matches are sorted by (`published_day`, `seq`).
Phrases and prefixes (`search_vector`, `search_title_vector`) and `keyword:` are tested per row
when the query has words or FILTER values too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    cast,
    exists,
    literal,
    literal_column,
    not_,
    select,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.backends.level_index import level_index_kind
from bot.search.conditions import keyword_conditions, slug_condition
from bot.search.document import facet_token, impact_token
from bot.search.grammar import TextTerm
from bot.search.rank import LEVELS, TITLE_LEVEL, day_number
from bot.search.topk import is_word
from bot.store.models import StoredSignal

DAY_SHIFT = 2**32
NEWEST = 2**63 - 1  # beyond every `search_order`: distance to it orders newest first


class PostgresIndex:
    """One tsquery over the level vector for words and FILTER values, the rest row by row."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self.constraints = constraints
        self.ordered_by_index = level_index_kind(session.connection()) == "rum"
        self._facets = _facet_query(constraints)
        self._keywords = keyword_conditions(constraints)

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        query, by_index = self._matching(terms)
        order: list[ColumnElement[Any]]
        if by_index and self.ordered_by_index:
            order = [_search_order().op("<=|")(literal(NEWEST, BigInteger))]
        else:
            order = [StoredSignal.published_day.desc(), StoredSignal.seq.desc()]
        rows = self.session.execute(query.order_by(*order).limit(limit))
        return [(day, seq) for day, seq in rows]

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        query, _ = self._matching(terms)
        return [(day, seq) for day, seq in self.session.execute(query.limit(limit))]

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        # One statement for all levels: planning, not execution, is most of each small query.
        probes = [exists(self._matching([TermAt(term, level)])[0].limit(1)) for level in levels]
        found = self.session.execute(select(*probes)).one()
        return {level for level, present in zip(levels, found, strict=True) if present}

    def _matching(self, terms: Sequence[TermAt]) -> tuple[Select[int, int], bool]:
        """Briefs holding the terms and meeting the constraints; whether the level index
        answers (a word or a FILTER value is asked for), so that it can order them."""
        levels = [_level_query(term) for term in terms if is_word(term.term)]
        levels += self._facets.required
        conditions = [
            condition
            for term in terms
            if not is_word(term.term)
            for condition in _text_conditions(term)
        ]
        if levels:
            levels += self._facets.refused
            conditions.append(_matches("search_impacts_vector", " & ".join(levels)))
        else:
            conditions += self._facets.refused_rows
        conditions += self._day_range(by_order=bool(levels) and self.ordered_by_index)
        query = select(StoredSignal.published_day, StoredSignal.seq).where(
            *conditions, *self._keywords
        )
        return query, bool(levels)

    def _day_range(self, *, by_order: bool) -> list[ColumnElement[bool]]:
        """`since` and `until` (the UTC day of `published`, so the same briefs): on the RUM
        index's attached key, or on `published_day`, which the day index can bound."""
        since, until = self.constraints.since, self.constraints.until
        bounds = []
        if by_order:
            key = _search_order()
            if since:
                bounds.append(key >= day_number(since) * DAY_SHIFT)
            if until:
                bounds.append(key < (day_number(until) + 1) * DAY_SHIFT)
            return bounds
        day = StoredSignal.published_day
        if since:
            bounds.append(day >= day_number(since))
        if until:
            bounds.append(day <= day_number(until))
        return bounds


@dataclass(frozen=True, slots=True)
class _FacetQuery:
    """FILTER names as tsquery parts over the level vector (`required`, `refused`), and the
    excluded ones as column conditions, for a query the level vector does not answer."""

    required: list[str]
    refused: list[str]
    refused_rows: list[ColumnElement[bool]]


def _facet_query(constraints: Constraints) -> _FacetQuery:
    return _FacetQuery(
        [_any_facet(name, values) for name, values in constraints.include.items()],
        ["!" + _any_facet(name, values) for name, values in constraints.exclude.items()],
        [not_(slug_condition(name, values)) for name, values in constraints.exclude.items()],
    )


def _any_facet(name: str, values: frozenset[str]) -> str:
    return "(" + " | ".join(f"'{facet_token(name, value)}'" for value in sorted(values)) + ")"


def _level_query(term_at: TermAt) -> str:
    """A word at its level, or at any level."""
    word = term_at.term.tokens[0]
    if term_at.level is not None:
        return f"'{impact_token(word, term_at.level)}'"
    return "(" + " | ".join(f"'{impact_token(word, at)}'" for at in range(1, LEVELS + 1)) + ")"


def _text_conditions(term_at: TermAt) -> list[ColumnElement[bool]]:
    """A phrase or a prefix: anywhere, in the title (TITLE_LEVEL), or elsewhere only."""
    term, level = term_at.term, term_at.level
    if level is None:
        return [_matches("search_vector", tsquery_text(term))]
    in_title = _matches("search_title_vector", tsquery_text(term))
    if level == TITLE_LEVEL:
        return [in_title]
    return [_matches("search_vector", tsquery_text(term)), not_(in_title)]


def _search_order() -> ColumnElement[int]:
    """`published_day << 32 | seq` (migration 0011), the RUM index's attached key."""
    return literal_column("signals.search_order", BigInteger)


def _matches(vector_column: str, query: str) -> ColumnElement[bool]:
    vector: ColumnElement[Any] = literal_column(f"signals.{vector_column}")
    return vector.op("@@")(cast(literal(query), TSQUERY))


def tsquery_text(term: TextTerm) -> str:
    """A tsquery for one term: a lexeme, or lexemes in a row; the last maybe a prefix."""
    # Tokens are [a-z0-9]+ (bot.search.tokens): quoting them as lexemes cannot go wrong.
    lexemes = [f"'{token}'" for token in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"
