"""Search over stored briefs, the same on SQLite and PostgreSQL, exact and fast at a million.

Two paths:
- A QUERY with free text is *ranked* (bot.search.ranked): the exact top of the declared function
  (bot.search.rank) over every brief that matches, read from the index class by class
  (bot.search.topk).
- A QUERY without free text, and `latest [FILTER]`, is *newest first*: a walk down an index on
  `published` (or (field, published) for a FILTER value) that stops after one page. `keyword:`
  is a substring test per row there, so at most KEYWORD_SCAN_LIMIT rows are tested and the reply
  says how far back that reached.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.filters import SignalFilter
from bot.search.backends import Constraints, FullTextIndex
from bot.search.backends.postgres import PostgresIndex
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
# A `keyword:` is a substring test per row: without free text, at most this many rows are tested.
KEYWORD_SCAN_LIMIT = 20_000


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
    """Briefs meeting every condition, newest first; scanned tests see KEYWORD_SCAN_LIMIT rows."""
    where = [*conditions.indexed, *conditions.scanned]
    if conditions.scanned:
        window = _newest_first(select(StoredSignal.seq).where(*conditions.indexed))
        where.append(StoredSignal.seq.in_(window.limit(KEYWORD_SCAN_LIMIT).scalar_subquery()))
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
        searched_back_to=_scan_start(session, conditions) if conditions.scanned else None,
    )


def _newest_first(query: Select[*_Ts]) -> Select[*_Ts]:
    return query.order_by(StoredSignal.published.desc(), StoredSignal.seq.desc())


def _scan_start(session: Session, conditions: Conditions) -> datetime | None:
    """The date of the oldest row the scan looked at, when it did not look at them all."""
    query = _newest_first(select(StoredSignal.published).where(*conditions.indexed))
    return session.scalar(query.offset(KEYWORD_SCAN_LIMIT - 1).limit(1))


def full_text_index(session: Session, constraints: Constraints) -> FullTextIndex:
    """The index of the session's database, narrowed to the constraints."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresIndex(session, constraints)
    return SqliteIndex(session, constraints)


def count_signals(session: Session) -> int:
    """How many briefs are stored."""
    return session.scalar(select(func.count()).select_from(StoredSignal)) or 0
