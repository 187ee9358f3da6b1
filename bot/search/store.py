"""Search over stored briefs, the same on SQLite and PostgreSQL, exact and fast at a million.

Two paths:
- A QUERY with free text is *ranked* (bot.search.ranked): the exact top of the declared function
  (bot.search.rank) over every brief that matches, read from the index class by class
  (bot.search.topk).
- A QUERY without free text, and `latest [FILTER]`, is *newest first*: a walk down an index on
  `published` (or (field, published) for a FILTER value) that stops after one page. `keyword:`
  is a substring test per row there, so rows are tested window by window down that order until
  the page is full or the archive ends: exact, and only as slow as the keyword is rare.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.filters import SignalFilter
from bot.search.backends import Constraints, FullTextIndex
from bot.search.backends.postgres import PostgresIndex
from bot.search.backends.postgres_newest import rest_plan
from bot.search.backends.sqlite import SqliteIndex
from bot.search.conditions import Conditions, conditions_of, filter_conditions
from bot.search.grammar import SearchQuery, text_terms
from bot.search.ranked import ranked_search
from bot.search.results import Hit, SearchPage
from bot.signal import Signal
from bot.store.models import StoredSignal

__all__ = [
    "Hit",
    "SearchPage",
    "count_signals",
    "filter_conditions",
    "latest",
    "latest_page",
    "newest",
    "search",
]

_Ts = TypeVarTuple("_Ts")

COUNT_LIMIT = 1000
# A `keyword:` without free text is tested per row, in windows of the newest-first order: the
# first small (a common keyword fills a page at once), each next twice as large up to the last.
FIRST_SCAN_WINDOW = 2_000
LAST_SCAN_WINDOW = 64_000


def search(
    session: Session,
    query: SearchQuery,
    *,
    limit: int = 5,
    offset: int = 0,
    today: date | None = None,
) -> SearchPage:
    """Best matches first (bot.search.rank, as of `today`); without free text, newest first."""
    terms = text_terms(query)
    if terms:
        index = full_text_index(session, Constraints.of(query))
        return ranked_search(session, index, query, terms, limit=limit, offset=offset, today=today)
    conditions = conditions_of(query.filter, query.since, query.until)
    return newest(session, conditions, limit=limit, offset=offset)


def latest(session: Session, signal_filter: SignalFilter, *, limit: int = 5) -> list[Signal]:
    """The newest briefs matching a FILTER."""
    return [hit.signal for hit in newest(session, conditions_of(signal_filter), limit=limit).hits]


def latest_page(
    session: Session, signal_filter: SignalFilter, *, limit: int = 5, offset: int = 0
) -> SearchPage:
    """A page of the newest briefs matching a FILTER."""
    return newest(session, conditions_of(signal_filter), limit=limit, offset=offset)


def newest(
    session: Session, conditions: Conditions, *, limit: int = 5, offset: int = 0
) -> SearchPage:
    """Briefs meeting every condition, newest first."""
    if conditions.scanned:
        return _newest_scanned(session, conditions, limit=limit, offset=offset)
    where = conditions.indexed
    rows = session.scalars(
        _newest_first(select(StoredSignal).where(*where)).limit(limit).offset(offset)
    ).all()
    counted = select(StoredSignal.seq).where(*where).limit(COUNT_LIMIT + 1)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    return SearchPage(
        hits=[Hit(row.to_signal(), "") for row in rows],
        total=min(total, COUNT_LIMIT),
        offset=offset,
        more_than_total=total > COUNT_LIMIT,
    )


def _newest_scanned(
    session: Session, conditions: Conditions, *, limit: int, offset: int
) -> SearchPage:
    """Row tests window by window down (published, seq) until the page is full or nothing is left.

    On PostgreSQL the walk may end early (bot.search.backends.postgres_newest): the rest of the
    archive is then read in one statement, up to COUNT_LIMIT + 1 matches, newest first. The
    total counts the matches found; it is "at least" unless every row was tested.
    """
    wanted = offset + limit
    plan = rest_plan(session, conditions.keywords, conditions.excluded_keywords, wanted)
    matches: list[int] = []
    after: tuple[datetime, int] | None = None
    window = FIRST_SCAN_WINDOW
    walked = 0
    exhausted = False
    while len(matches) <= wanted and not exhausted:
        if plan is not None and walked >= plan.walk_rows:
            rest = _matching(conditions, after).limit(max(wanted, COUNT_LIMIT) + 1 - len(matches))
            matches += plan.read(session, rest)
            exhausted = True
            break
        edge = _window_edge(session, conditions, after, window)
        exhausted = edge is None
        matches += session.scalars(_matching(conditions, after, edge)).all()
        after, walked, window = edge, walked + window, min(window * 2, LAST_SCAN_WINDOW)
    return SearchPage(
        hits=_hits_in_order(session, matches[offset : offset + limit]),
        total=min(len(matches), COUNT_LIMIT),
        offset=offset,
        more_than_total=len(matches) > COUNT_LIMIT or not exhausted,
    )


def _matching(
    conditions: Conditions,
    after: tuple[datetime, int] | None,
    upto: tuple[datetime, int] | None = None,
) -> Select[int]:
    """The seqs of rows meeting every condition between the bounds, newest first."""
    query = select(StoredSignal.seq).where(
        *conditions.indexed, *conditions.scanned, *_between(after, upto)
    )
    return _newest_first(query)


def _window_edge(
    session: Session, conditions: Conditions, after: tuple[datetime, int] | None, size: int
) -> tuple[datetime, int] | None:
    """The (published, seq) of the last row of the next window; None when it reaches the end."""
    query = select(StoredSignal.published, StoredSignal.seq).where(
        *conditions.indexed, *_between(after, None)
    )
    edge = session.execute(_newest_first(query).offset(size - 1).limit(1)).first()
    return None if edge is None else (edge[0], edge[1])


def _between(
    after: tuple[datetime, int] | None, upto: tuple[datetime, int] | None
) -> list[ColumnElement[bool]]:
    """Rows after `after` (excluded) down to `upto` (included), in newest-first order."""
    published, seq = StoredSignal.published, StoredSignal.seq
    bounds = []
    if after is not None:
        bounds.append(or_(published < after[0], and_(published == after[0], seq < after[1])))
    if upto is not None:
        bounds.append(or_(published > upto[0], and_(published == upto[0], seq >= upto[1])))
    return bounds


def _hits_in_order(session: Session, seqs: list[int]) -> list[Hit]:
    rows = session.scalars(select(StoredSignal).where(StoredSignal.seq.in_(seqs)))
    by_seq = {row.seq: row for row in rows}
    return [Hit(by_seq[seq].to_signal(), "") for seq in seqs]


def _newest_first(query: Select[*_Ts]) -> Select[*_Ts]:
    return query.order_by(StoredSignal.published.desc(), StoredSignal.seq.desc())


def full_text_index(session: Session, constraints: Constraints) -> FullTextIndex:
    """The index of the session's database, narrowed to the constraints."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresIndex(session, constraints)
    return SqliteIndex(session, constraints)


def count_signals(session: Session) -> int:
    """How many briefs are stored."""
    return session.scalar(select(func.count()).select_from(StoredSignal)) or 0
