"""SQLite FTS5 for search: the contentless table `signals_fts` over `search_title`,
`search_facets`, `search_impacts` and `search_pairs` (migrations 0007, 0012), whose rowid is the
brief's `published_day` shifted left 32 bits plus its `seq`. So FTS5 reads any posting list newest
day first without sorting, a date range is a rowid range, and FILTER fields are facet tokens in the
MATCH expression: FTS5 intersects posting lists instead of testing rows. Only `keyword:` (a
substring) is tested per row, through a join.

The body's words are not indexed as such: a word is found by its levels (`model_7`), a prefix by
the words of the levels (`mo*` matches `model_7`), and a phrase in the body by its pairs of words
in a row (`__model_of __of_the`, as a phrase: pairs in a row are words in a row). How each term is
written, and when a phrase is found through a superset checked brief by brief:
bot.search.backends.sqlite_match.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    column,
    exists,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.backends.sqlite_match import MatchPlanner, term_expression
from bot.search.backends.sqlite_vocabulary import DAY_SHIFT, Vocabulary
from bot.search.conditions import keyword_conditions
from bot.search.document import facet_token
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, TITLE_LEVEL, day_number, occurs
from bot.search.topk import is_word
from bot.store.models import StoredSignal

__all__ = ["DAY_SHIFT", "SqliteIndex", "split_rowid", "term_expression"]

# Candidates of a checked term are read in batches: the first holds twice the briefs asked for
# (at least FIRST_BATCH), each next one twice as many, up to LAST_BATCH.
FIRST_BATCH = 64
LAST_BATCH = 4096
_FTS = table("signals_fts", column("rowid"))


def split_rowid(rowid: int) -> tuple[int, int]:
    """(published_day, seq) of an index rowid."""
    return divmod(rowid, DAY_SHIFT)


class SqliteIndex:
    """One FTS5 MATCH expression for terms and FILTER names; dates as rowid bounds."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self.constraints = constraints
        self.planner = MatchPlanner(Vocabulary(session))
        self._keywords = keyword_conditions(constraints)

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        return [split_rowid(rowid) for rowid in self._matching(terms, limit, newest_first=True)]

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        # Oldest first: FTS5 reads its pages forward more cheaply than backward.
        return [split_rowid(rowid) for rowid in self._matching(terms, limit, newest_first=False)]

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        # One statement for all levels: each probe is quick, the round trips were not.
        probes = [
            exists(self._select(self.match_expression([term_expression(TermAt(term, level))])))
            for level in levels  # a word's levels: exact from the term alone
        ]
        found = self.session.execute(select(*probes)).one()
        return {level for level, present in zip(levels, found, strict=True) if present}

    def _matching(
        self,
        terms: Sequence[TermAt],
        limit: int,
        *,
        newest_first: bool,
        words_checked: bool = False,
    ) -> list[int]:
        """Rowids of up to `limit` briefs holding every term, in rowid order either way.

        Once a term is checked brief by brief, so are words wanted at any level
        (`words_checked`): FTS5 would step through their eight level tokens for every candidate
        of the checked term, and its candidates are few and read anyway.
        """
        matches = [self.planner.match(term) for term in terms]
        words_checked = words_checked or any(match.checked for match in matches)
        for at, (term, match) in enumerate(zip(terms, matches, strict=True)):
            if match.checked and term.level is None:
                # In the title or else in the body: two reads, so that each candidate is checked
                # on the one text its expression can have found it by.
                found = {
                    rowid
                    for level in (TITLE_LEVEL, BODY_LEVEL)
                    for rowid in self._matching(
                        [*terms[:at], TermAt(term.term, level), *terms[at + 1 :]],
                        limit,
                        newest_first=newest_first,
                        words_checked=True,
                    )
                }
                return sorted(found, reverse=newest_first)[:limit]
        in_index, checked = [], []
        for term, match in zip(terms, matches, strict=True):
            if words_checked and is_word(term.term) and term.level is None:
                checked.append(term)
                continue
            if match.expression is None:
                return []
            in_index.append(match.expression)
            if match.checked:
                checked.append(term)
        expression = self.match_expression(in_index)
        if not checked:
            return self._read(expression, limit, newest_first)
        return self._read_checked(expression, checked, limit, newest_first)

    def match_expression(self, required: Sequence[str]) -> str:
        """The MATCH text: every term's expression, every included FILTER name."""
        parts = [*required]
        parts += [_any_facet(name, values) for name, values in self.constraints.include.items()]
        expression = " AND ".join(f"({part})" for part in parts)
        excluded = [_any_facet(name, values) for name, values in self.constraints.exclude.items()]
        if excluded:
            expression = f"({expression}) NOT (" + " OR ".join(excluded) + ")"
        return expression

    def _read_checked(
        self, expression: str, checked: Sequence[TermAt], limit: int, newest_first: bool
    ) -> list[int]:
        """The first `limit` candidates of a superset that hold every checked term, read batch by
        batch (each batch starts after the last rowid of the one before)."""
        found: list[int] = []
        after = None
        need_body = any(term.level != TITLE_LEVEL or is_word(term.term) for term in checked)
        batch = min(max(2 * limit, FIRST_BATCH), LAST_BATCH)
        while len(found) < limit:
            rowids = self._read(expression, batch, newest_first, after)
            texts = self._texts([rowid % DAY_SHIFT for rowid in rowids], need_body)
            for rowid in rowids:
                # A brief deleted since the index was read is not there: it is not a match.
                title, body = texts.get(rowid % DAY_SHIFT, ("", ""))
                if all(holds(term, title, body) for term in checked):
                    found.append(rowid)
            if len(rowids) < batch:
                break
            after, batch = rowids[-1], min(2 * batch, LAST_BATCH)
        return found[:limit]

    def _read(
        self, expression: str, limit: int, newest_first: bool, after: int | None = None
    ) -> list[int]:
        if not self._keywords:
            return self._read_index_only(expression, limit, newest_first, after)
        rowid = _FTS.c.rowid
        query = self._select(expression)
        if after is not None:
            query = query.where(rowid < after if newest_first else rowid > after)
        order = rowid.desc() if newest_first else rowid.asc()
        return list(self.session.scalars(query.order_by(order).limit(limit)))

    def _read_index_only(
        self, expression: str, limit: int, newest_first: bool, after: int | None
    ) -> list[int]:
        """`_read` without a join, as plain SQL: a search reads the index two to ten times,
        mostly a handful of rowids, and building, caching and reading a SQLAlchemy statement
        cost more than FTS5 did for them (a tenth of `/brief`'s CPU over the benchmark mix)."""
        where = ["signals_fts MATCH ?"]
        parameters: list[str | int] = [expression]
        low, high = self._rowid_range()
        if low is not None:
            where.append("rowid >= ?")
            parameters.append(low)
        if high is not None:
            where.append("rowid < ?")
            parameters.append(high)
        if after is not None:
            where.append("rowid < ?" if newest_first else "rowid > ?")
            parameters.append(after)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT rowid FROM signals_fts WHERE {' AND '.join(where)} ORDER BY rowid {order}"
        result = self.session.connection().exec_driver_sql(f"{sql} LIMIT ?", (*parameters, limit))
        return list(result.scalars().all())

    def _select(self, expression: str) -> Select[tuple[int]]:
        """The rowids of the briefs the expression matches that meet the constraints."""
        rowid = _FTS.c.rowid
        # A unique parameter: levels_present puts several of these in one statement.
        expression_parameter: BindParameter[str] = bindparam("expression", expression, unique=True)
        matched = text("signals_fts MATCH :expression").bindparams(expression_parameter)
        query = select(rowid).select_from(_FTS).where(matched, *self._rowid_bounds())
        if self._keywords:
            seq = rowid.op("&")(DAY_SHIFT - 1)
            query = query.join(StoredSignal, StoredSignal.seq == seq).where(*self._keywords)
        return query

    def _texts(self, seqs: Sequence[int], need_body: bool) -> dict[int, tuple[str, str]]:
        """The index text of each brief's title and body (if needed: it is long), by seq."""
        body = StoredSignal.search_body if need_body else literal("")
        rows = self.session.execute(
            select(StoredSignal.seq, StoredSignal.search_title, body).where(
                StoredSignal.seq.in_(seqs)
            )
        )
        return {seq: (title, body) for seq, title, body in rows}

    def _rowid_bounds(self) -> list[ColumnElement[bool]]:
        rowid = _FTS.c.rowid
        low, high = self._rowid_range()
        bounds = []
        if low is not None:
            bounds.append(rowid >= low)
        if high is not None:
            bounds.append(rowid < high)
        return bounds

    def _rowid_range(self) -> tuple[int | None, int | None]:
        """The rowids of `since` and `until` as [low, high), each None when not asked."""
        since, until = self.constraints.since, self.constraints.until
        low = day_number(since) * DAY_SHIFT if since else None
        high = (day_number(until) + 1) * DAY_SHIFT if until else None
        return low, high


def holds(term_at: TermAt, title: str, body: str) -> bool:
    """Whether the term is where it asks, as bot.search.rank.term_level finds it (a word: at any
    level, so anywhere)."""
    if is_word(term_at.term):
        assert term_at.level is None  # a level of a word is always asked of the index
        (token,) = term_at.term.tokens
        return token in title.split() or token in body.split()
    level = TITLE_LEVEL if occurs(term_at.term, title) else 0
    if not level and occurs(term_at.term, body):
        level = BODY_LEVEL
    return bool(level) if term_at.level is None else level == term_at.level


def _any_facet(name: str, values: frozenset[str]) -> str:
    tokens = [facet_token(name, value) for value in sorted(values)]
    return "{search_facets} : (" + " OR ".join(f'"{token}"' for token in tokens) + ")"
