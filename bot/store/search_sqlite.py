"""SQLite FTS5 for search: table `signals_fts` over `search_title`, `search_body` and
`search_facets` (migration 0004). FILTER fields and dates go into the MATCH expression as facet
tokens, so FTS5 intersects posting lists instead of testing rows, and it reads rowids
(= `signals.seq`) newest first, without sorting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from sqlalchemy import ColumnElement, Select, column, false, func, or_, select, table, text
from sqlalchemy.orm import Session

from bot.query import TextTerm, fts5_match
from bot.search_document import date_range_tokens, facet_token
from bot.signal import as_utc
from bot.store.models import StoredSignal
from bot.store.search_match import PREFIX_LENGTHS, Match

_FTS = table("signals_fts", column("rowid"))
_TEXT_COLUMNS = ("search_title", "search_body")


class SqliteIndex:
    """One FTS5 MATCH expression for terms, FILTER values and dates; `where` via a join."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._date_bounds: tuple[date, date] | None = None

    def newest_seqs(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> list[int]:
        query = self.newest(match, limit=limit, above_seq=above_seq, where=where)
        return list(self.session.scalars(query).all())

    def newest(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Select[int]:
        indexable, checks = _indexable(match.terms, match.title_only)
        expression = self.match_expression(replace(match, terms=indexable))
        where = [*where, *checks]
        seq = _FTS.c.rowid
        query = select(seq.label("seq")).select_from(_FTS)
        if where:
            query = query.join(StoredSignal, StoredSignal.seq == seq)
        if expression is None:
            return query.where(false()).limit(0)
        matched = text("signals_fts MATCH :expression").bindparams(expression=expression)
        return query.where(matched, seq > above_seq, *where).order_by(seq.desc()).limit(limit)

    def match_expression(self, match: Match) -> str | None:
        """The MATCH text; None when nothing can match (an empty date range)."""
        columns = _TEXT_COLUMNS[:1] if match.title_only else _TEXT_COLUMNS
        required = [fts5_match(match.terms, columns)]
        required += [_any_facet(name, values) for name, values in match.include.items()]
        if match.since or match.until:
            days = self._day_tokens(match.since, match.until)
            if not days:
                return None
            required.append(_any_token(days))
        expression = " AND ".join(f"({part})" for part in required if part)
        excluded = [_any_facet(name, values) for name, values in match.exclude.items()]
        if excluded:
            expression += " NOT (" + " OR ".join(f"({part})" for part in excluded) + ")"
        return expression

    def _day_tokens(self, since: date | None, until: date | None) -> list[str]:
        oldest, newest = self._bounds()
        first, last = max(since or oldest, oldest), min(until or newest, newest)
        return date_range_tokens(first, last) if first <= last else []

    def _bounds(self) -> tuple[date, date]:
        """The first and last day with a brief: open date ranges end there."""
        if self._date_bounds is None:
            oldest = select(func.min(StoredSignal.published)).scalar_subquery()
            newest = select(func.max(StoredSignal.published)).scalar_subquery()
            first, last = self.session.execute(select(oldest, newest)).one()
            today = date.today()
            self._date_bounds = (
                as_utc(first).date() if first else today,
                as_utc(last).date() if last else today,
            )
        return self._date_bounds


def _indexable(
    terms: Sequence[TextTerm], title_only: bool
) -> tuple[tuple[TextTerm, ...], list[ColumnElement[bool]]]:
    """Terms FTS5 reads lazily, newest first, and the row checks that make them exact again.

    Measured at 1M briefs, FTS5 reads whole posting lists before the first row in two cases:
    - a prefix of a length it does not index (PREFIX_LENGTHS): it merges the lists of every word
      the prefix starts (80 ms for `mode*`). `ransom*` becomes `ran*` plus a row test; a
      one-character last prefix (`gpt-4*`) is left to the row test alone.
    - a phrase limited to one column, where it ignores rowid bounds (100 ms). In the title, a
      phrase becomes its words, plus a row test for the phrase.
    """
    indexable: list[TextTerm] = []
    checks = []
    for term in terms:
        read = _readable_prefix(term)
        if title_only and len(read.tokens) > 1:
            parts = [TextTerm((token,)) for token in read.tokens[:-1]]
            parts.append(TextTerm(read.tokens[-1:], read.prefix))
        else:
            parts = [read] if read.tokens else []
        indexable += parts
        if parts != [term]:
            checks.append(_contains(term, title_only))
    return tuple(indexable or terms), checks


def _readable_prefix(term: TextTerm) -> TextTerm:
    """The term with a last prefix FTS5 indexes: cut to the longest indexed length, or dropped."""
    last, longest = term.tokens[-1], max(PREFIX_LENGTHS)
    if not term.prefix or len(last) in PREFIX_LENGTHS:
        return term
    if len(last) > longest:
        return TextTerm((*term.tokens[:-1], last[:longest]), prefix=True)
    return TextTerm(term.tokens[:-1])


def _contains(term: TextTerm, title_only: bool) -> ColumnElement[bool]:
    """The row's index text has the term: its tokens in a row, the last one maybe a prefix."""
    # Tokens are [a-z0-9]+: nothing in them is special to LIKE.
    pattern = "% " + " ".join(term.tokens) + ("%" if term.prefix else " %")
    title = (" " + StoredSignal.search_title + " ").like(pattern)
    if title_only:
        return title
    body = (" " + func.replace(StoredSignal.search_body, "\n", " ") + " ").like(pattern)
    return or_(title, body)


def _any_facet(name: str, values: frozenset[str]) -> str:
    return _any_token([facet_token(name, value) for value in sorted(values)])


def _any_token(tokens: Sequence[str]) -> str:
    return "search_facets : (" + " OR ".join(f'"{token}"' for token in tokens) + ")"
