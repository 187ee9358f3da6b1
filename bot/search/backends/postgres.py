"""PostgreSQL full text for search: generated tsvectors (migrations 0004, 0007, 0011, 0012):
`search_vector` (the whole brief), `search_title_vector` (its title), `search_impacts_vector`
(each word with its level, bot.search.document, and the brief's facet tokens) and
`search_pairs_vector` (each two words in a row of the body).

A class (words at their levels) and the FILTER values are one tsquery on `search_impacts_vector`,
so the index intersects them rather than rows being tested one by one. Its newest k come from
RUM's ordered scan (`ORDER BY search_order <=| NEWEST`, bot.search.backends.level_index) when the
cost model below says that is cheapest for its tokens (bot.search.backends.token_statistics);
otherwise, or without RUM, they are ordered by (`published_day`, `seq`), and the planner walks
that index or sorts a GIN bitmap. A word anywhere (the "are there more than a few?" probe) is
asked of `search_vector`, one posting list a word (of the level vector when FILTER values send
the query there anyway). Phrases and prefixes at a level and
`keyword:` are tested per row when the level vector answers too.

A phrase in the body is found by its pairs (`&` in the pairs' GIN index, no row read); only a
phrase of three words or more, whose pairs may be apart, is then checked in the whole brief's
vector, on those few candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Select,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.backends.level_index import level_index_kind
from bot.search.backends.token_statistics import token_statistics
from bot.search.conditions import keyword_conditions, slug_condition
from bot.search.document import facet_token, impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL, day_number
from bot.search.topk import is_word
from bot.store.models import StoredSignal

# Beyond every `search_order`, and exact as a float8 (RUM's distances are float8, so a larger
# bound would round distances of nearby briefs together): the distance to it orders newest first.
NEWEST = 2**53
# What each way to a class's newest k costs, in microseconds (benchmarks/bench_pg_order.py at
# 1,000,000 rows): RUM's ordered scan reads every posting of its tokens; walking the
# (published_day, seq) index tests rows until k match; a GIN bitmap fetches and sorts every match.
RUM_POSTING_US = 0.5
WALKED_ROW_US = 2.5
GIN_MATCH_US = 3.0


class PostgresIndex:
    """One tsquery over the level vector for words and FILTER values, the rest row by row."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self.constraints = constraints
        connection = session.connection()
        # A date range is bounded by the day index; RUM would read every posting still.
        ordered = level_index_kind(connection) == "rum" and not (
            constraints.since or constraints.until
        )
        self._statistics = token_statistics(connection) if ordered else None
        self._required_facets = [
            _facet_group(name, values) for name, values in constraints.include.items()
        ]
        self._refused_facets = [
            _facet_group(name, values) for name, values in constraints.exclude.items()
        ]
        self._rows = [*_day_range(constraints), *keyword_conditions(constraints)]
        self._dated = constraints.since is not None or constraints.until is not None

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        query, required = self._matching(terms)
        order: list[ColumnElement[Any]]
        if self.ordered_by_index(required, limit):
            order = [_search_order().op("<=|")(literal(NEWEST, BigInteger))]
        else:
            order = [StoredSignal.published_day.desc(), StoredSignal.seq.desc()]
        rows = self.session.execute(query.order_by(*order).limit(limit))
        return [(day, seq) for day, seq in rows]

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        query, _ = self._matching(terms)
        if self._dated:  # the day index's range scan is the plan to keep
            return [(day, seq) for day, seq in self.session.execute(query.limit(limit))]
        # Unordered, the planner may still take RUM's plain index scan, which reads its postings
        # about 4x slower than a GIN bitmap (at 1M, 244 ms against 72 ms for a FILTER query's
        # probe): bitmaps or a sequential scan only, for this statement.
        self.session.execute(text("SET LOCAL enable_indexscan = off"))
        try:
            return [(day, seq) for day, seq in self.session.execute(query.limit(limit))]
        finally:
            self.session.execute(text("SET LOCAL enable_indexscan = on"))

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        # One statement for all levels: planning, not execution, is most of each small query.
        probes = [exists(self._matching([TermAt(term, level)])[0].limit(1)) for level in levels]
        found = self.session.execute(select(*probes)).one()
        return {level for level, present in zip(levels, found, strict=True) if present}

    def _matching(self, terms: Sequence[TermAt]) -> tuple[Select[int, int], list[list[str]]]:
        """Briefs holding the terms and meeting the constraints, and the token groups the level
        vector must hold (each group OR-ed; none when the level vector does not answer)."""
        anywhere = [term.term for term in terms if term.level is None]
        leveled = [(term.term, term.level) for term in terms if term.level is not None]
        required = [
            [impact_token(term.tokens[0], level)] for term, level in leveled if is_word(term)
        ]
        required += self._required_facets
        if self._required_facets:
            # The level vector is read anyway: a word at any level there, rather than testing
            # the whole brief's (big) vector row by row beside it.
            required += [_any_level(term) for term in anywhere if is_word(term)]
            anywhere = [term for term in anywhere if not is_word(term)]
        conditions = [
            condition
            for term, level in leveled
            if not is_word(term)
            for condition in _text_conditions(term, level)
        ]
        conditions += [
            condition
            for term in anywhere
            if len(term.tokens) > 1
            for condition in _text_conditions(term, None)
        ]
        if words := [term for term in anywhere if len(term.tokens) == 1]:
            text = " & ".join(tsquery_text(term) for term in words)
            conditions.append(_matches("search_vector", text))
        if required:
            parts = [_any_of(group) for group in required]
            parts += ["!" + _any_of(group) for group in self._refused_facets]
            conditions.append(_matches("search_impacts_vector", " & ".join(parts)))
        else:
            conditions += [
                not_(slug_condition(name, values))
                for name, values in self.constraints.exclude.items()
            ]
        query = select(StoredSignal.published_day, StoredSignal.seq).where(*conditions, *self._rows)
        return query, required

    def ordered_by_index(self, required: list[list[str]], limit: int) -> bool:
        """Whether RUM's ordered scan is the cheap way to the newest `limit` briefs holding the
        token groups: cheaper than both ways the planner has (walking the day index, or a GIN
        bitmap), by the tokens' frequencies (independent, as the planner assumes too)."""
        statistics = self._statistics
        if statistics is None or not required:
            return False
        postings = sum(statistics.briefs(token) for group in required for token in group)
        share = math.prod(
            min(1.0, sum(statistics.briefs(token) for token in group) / statistics.rows)
            for group in required
        )
        matches = max(share * statistics.rows, 1.0)
        walked = limit * statistics.rows / matches
        return RUM_POSTING_US * postings < min(WALKED_ROW_US * walked, GIN_MATCH_US * matches)


def _day_range(constraints: Constraints) -> list[ColumnElement[bool]]:
    """`since` and `until` on `published_day` (the UTC day of `published`, so the same briefs),
    which the (published_day, seq) index can bound: on `published` it would walk from today."""
    day = StoredSignal.published_day
    bounds = []
    if constraints.since:
        bounds.append(day >= day_number(constraints.since))
    if constraints.until:
        bounds.append(day <= day_number(constraints.until))
    return bounds


def _facet_group(name: str, values: frozenset[str]) -> list[str]:
    """The tokens of a FILTER field's values (any of them)."""
    return [facet_token(name, value) for value in sorted(values)]


def _any_level(word: TextTerm) -> list[str]:
    return [impact_token(word.tokens[0], level) for level in range(1, LEVELS + 1)]


def _any_of(tokens: list[str]) -> str:
    # Tokens are [a-z0-9]+ (bot.search.document): quoting them as lexemes cannot go wrong.
    return "(" + " | ".join(f"'{token}'" for token in tokens) + ")"


def _text_conditions(term: TextTerm, level: int | None) -> list[ColumnElement[bool]]:
    """A phrase or a prefix in the title (TITLE_LEVEL), elsewhere only (BODY_LEVEL), or (a
    phrase, None) anywhere."""
    in_title = _matches("search_title_vector", tsquery_text(term))
    if level == TITLE_LEVEL:
        return [in_title]
    if len(term.tokens) == 1:  # a prefix
        return [_matches("search_vector", tsquery_text(term)), not_(in_title)]
    in_body = _matches("search_pairs_vector", pairs_tsquery_text(term))
    # The pairs of three words or more may be apart: the whole brief's vector checks the order
    # (of the few briefs holding every pair; the title's is checked by the title's vector).
    in_order = [] if len(term.tokens) == 2 else [_checked_in_brief(term)]
    if level == BODY_LEVEL:
        return [in_body, *in_order, not_(in_title)]
    return [or_(in_title, in_body), *in_order]


def _checked_in_brief(term: TextTerm) -> ColumnElement[bool]:
    """The phrase in the whole brief's vector, row by row: as a function, not the `@@` operator,
    so the planner cannot AND in that vector's GIN index (every brief holding all the words)."""
    vector: ColumnElement[Any] = literal_column("signals.search_vector")
    return func.ts_match_vq(vector, cast(literal(tsquery_text(term)), TSQUERY), type_=Boolean)


def pairs_tsquery_text(term: TextTerm) -> str:
    """A tsquery for a phrase's pairs of words in a row, all required; the last maybe a prefix."""
    lexemes = [f"'{pair}'" for pair in pair_tokens(term.tokens)]
    if term.prefix:
        lexemes[-1] += ":*"
    return " & ".join(lexemes)


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
