"""PostgreSQL full text for search: generated tsvectors with GIN indexes (migrations 0004, 0007,
0010): `search_vector` (the whole brief), `search_title_vector` (its title),
`search_impacts_vector` (each word with its level) and `search_pairs_vector` (each two words in a
row of the body, bot.search.document). FILTER fields, keywords and dates are column conditions;
briefs come newest first by the (`published_day`, `seq`) index.

A phrase in the body is found by its pairs (`&`, which GIN answers without reading rows); only a
phrase of three words or more, whose pairs may be apart, is then checked in the whole brief's
vector, on those few candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
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
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.conditions import keyword_conditions, slug_condition
from bot.search.document import impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL, day_number
from bot.search.topk import is_word
from bot.store.models import StoredSignal


class PostgresIndex:
    """`vector @@ tsquery` per term, plus column conditions."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self._conditions = [
            *(slug_condition(name, values) for name, values in constraints.include.items()),
            *(not_(slug_condition(name, values)) for name, values in constraints.exclude.items()),
            *_day_range(constraints),
            *keyword_conditions(constraints),
        ]

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        query = self._newest(terms).limit(limit)
        return [(day, seq) for day, seq in self.session.execute(query)]

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        # Unordered, PostgreSQL may stop a scan at `limit` matches or read the GIN index alone,
        # whichever the word's frequency favours, instead of walking the day index.
        query = self._newest(terms).order_by(None).limit(limit)
        return [(day, seq) for day, seq in self.session.execute(query)]

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        # One statement for all levels: planning, not execution, is most of each small query.
        probes = [exists(self._newest([TermAt(term, level)]).limit(1)) for level in levels]
        found = self.session.execute(select(*probes)).one()
        return {level for level, present in zip(levels, found, strict=True) if present}

    def _newest(self, terms: Sequence[TermAt]) -> Select[int, int]:
        conditions = [condition for term in terms for condition in _term_conditions(term)]
        return (
            select(StoredSignal.published_day, StoredSignal.seq)
            .where(*conditions, *self._conditions)
            .order_by(StoredSignal.published_day.desc(), StoredSignal.seq.desc())
        )


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


def _term_conditions(term_at: TermAt) -> list[ColumnElement[bool]]:
    term, level = term_at.term, term_at.level
    if is_word(term):
        # At any level too, the small level vector answers, not the whole brief's.
        levels = range(1, LEVELS + 1) if level is None else (level,)
        tokens = " | ".join(f"'{impact_token(term.tokens[0], at)}'" for at in levels)
        return [_matches("search_impacts_vector", tokens)]
    in_title = _matches("search_title_vector", tsquery_text(term))
    if level == TITLE_LEVEL:
        return [in_title]
    if len(term.tokens) == 1:  # a prefix
        in_brief = _matches("search_vector", tsquery_text(term))
        return [in_brief] if level is None else [in_brief, not_(in_title)]
    in_body = _matches("search_pairs_vector", pairs_tsquery_text(term))
    # The pairs of three words or more may be apart: the whole brief's vector checks the order
    # (of the few briefs holding every pair; the title's is checked by the title's vector).
    in_order = [] if len(term.tokens) == 2 else [_checked_in_brief(term)]
    if level == BODY_LEVEL:
        return [in_body, *in_order, not_(in_title)]
    return [or_(in_title, in_body), *in_order]


def _matches(vector_column: str, query: str) -> ColumnElement[bool]:
    vector: ColumnElement[Any] = literal_column(f"signals.{vector_column}")
    return vector.op("@@")(cast(literal(query), TSQUERY))


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


def tsquery_text(term: TextTerm) -> str:
    """A tsquery for one term: a lexeme, or lexemes in a row; the last maybe a prefix."""
    # Tokens are [a-z0-9]+ (bot.search.tokens): quoting them as lexemes cannot go wrong.
    lexemes = [f"'{token}'" for token in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"
