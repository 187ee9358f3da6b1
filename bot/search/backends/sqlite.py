"""SQLite FTS5 for search: the contentless table `signals_fts` over `search_title`,
`search_facets`, `search_impacts` and `search_pairs` (migrations 0007, 0012), whose rowid is the
brief's `published_day` shifted left 32 bits plus its `seq`. So FTS5 reads any posting list newest
day first without sorting, a date range is a rowid range, and FILTER fields are facet tokens in the
MATCH expression: FTS5 intersects posting lists instead of testing rows. Only `keyword:` (a
substring) is tested per row, through a join.

The body's words are not indexed as such: a word is found by its levels (`model_7`), a prefix by
the words of the levels (`mo*` matches `model_7`), and a phrase in the body by its pairs of words
in a row (`__model_of __of_the`, as a phrase: pairs in a row are words in a row).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, column, select, table, text
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.conditions import keyword_conditions
from bot.search.document import facet_token, impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL, day_number
from bot.search.topk import is_word
from bot.store.models import StoredSignal

DAY_SHIFT = 2**32
_FTS = table("signals_fts", column("rowid"))


def split_rowid(rowid: int) -> tuple[int, int]:
    """(published_day, seq) of an index rowid."""
    return divmod(rowid, DAY_SHIFT)


class SqliteIndex:
    """One FTS5 MATCH expression for terms and FILTER names; dates as rowid bounds."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self.constraints = constraints
        self._keywords = keyword_conditions(constraints)

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        rowid = _FTS.c.rowid
        matched = text("signals_fts MATCH :expression").bindparams(
            expression=self.match_expression(terms)
        )
        query = select(rowid).select_from(_FTS).where(matched, *self._rowid_bounds())
        if self._keywords:
            seq = rowid.op("&")(DAY_SHIFT - 1)
            query = query.join(StoredSignal, StoredSignal.seq == seq).where(*self._keywords)
        rows = self.session.scalars(query.order_by(rowid.desc()).limit(limit))
        return [split_rowid(value) for value in rows]

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        return self.newest(terms, limit)  # newest first costs FTS5 nothing more

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        return {level for level in levels if self.newest([TermAt(term, level)], 1)}

    def match_expression(self, terms: Sequence[TermAt]) -> str:
        """The MATCH text: every term where it must be, every included FILTER name."""
        required = [term_expression(term) for term in terms]
        required += [_any_facet(name, values) for name, values in self.constraints.include.items()]
        expression = " AND ".join(f"({part})" for part in required)
        excluded = [_any_facet(name, values) for name, values in self.constraints.exclude.items()]
        if excluded:
            expression = f"({expression}) NOT (" + " OR ".join(excluded) + ")"
        return expression

    def _rowid_bounds(self) -> list[ColumnElement[bool]]:
        rowid = _FTS.c.rowid
        bounds = []
        if self.constraints.since:
            bounds.append(rowid >= day_number(self.constraints.since) * DAY_SHIFT)
        if self.constraints.until:
            bounds.append(rowid < (day_number(self.constraints.until) + 1) * DAY_SHIFT)
        return bounds


def term_expression(term_at: TermAt) -> str:
    """FTS5 syntax for one term where it must be (anywhere, or at a level: bot.search.rank)."""
    term, level = term_at.term, term_at.level
    if is_word(term):
        levels = range(1, LEVELS + 1) if level is None else (level,)
        tokens = " OR ".join(f'"{impact_token(term.tokens[0], at)}"' for at in levels)
        return "{search_impacts} : (" + tokens + ")"
    in_title = f"{{search_title}} : {_quoted(term.tokens, term.prefix)}"
    if level == TITLE_LEVEL:
        return in_title
    if len(term.tokens) == 1:  # a prefix: the levels list every word, the title's too
        in_any_word = f"{{search_impacts}} : {_quoted(term.tokens, prefix=True)}"
        return in_any_word if level is None else f"({in_any_word}) NOT ({in_title})"
    in_pairs = pair_tokens(term.tokens)
    in_body = f"{{search_pairs}} : {_quoted(in_pairs, term.prefix)}"
    if level == BODY_LEVEL:
        return f"({in_body}) NOT ({in_title})"
    return f"({in_title}) OR ({in_body})"


def _quoted(tokens: Sequence[str], prefix: bool) -> str:
    # Tokens are [a-z0-9]+ (bot.search.tokens) and pairs add `_`: quoting them cannot go wrong.
    quoted = '"' + " ".join(tokens) + '"'
    return f"{quoted} *" if prefix else quoted


def _any_facet(name: str, values: frozenset[str]) -> str:
    tokens = [facet_token(name, value) for value in sorted(values)]
    return "{search_facets} : (" + " OR ".join(f'"{token}"' for token in tokens) + ")"
