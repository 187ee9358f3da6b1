"""Search over stored briefs, the same on SQLite and PostgreSQL; built to stay fast at 1M briefs.

Two paths:
- A QUERY with free text is *ranked* (bot.store.search_ranked): relevance first, recency as the
  tie-break.
- A QUERY without free text, and `latest [FILTER]`, is *newest first*: an index walk on
  `published` (or on (field, published) for a FILTER value) that stops after one page.

The trap, and the design for it. Ranking by relevance in the database (FTS5 `ORDER BY bm25`,
`ts_rank`) scores every matching row before it can return five, and even bm25() on a handful of
rows counts every row of each term to get its idf. Common words match most of a large archive,
so a plain `MATCH … ORDER BY bm25 LIMIT 5` is fast for rare words and about a second for common
ones. Here the database is only asked for things it answers from its index in bounded time:
1. Candidates: the newest K_ANY rows matching every term, plus the newest K_TITLE with every term
   in the title (so an older title hit can beat newer mentions). Both indexes read posting lists
   newest first (FTS5 by rowid, PostgreSQL by primary key) and stop at the limit: a common word
   costs K rows, not its frequency. FILTER fields and dates are part of the match (facet tokens
   in FTS5), so a narrow filter does not turn into a long scan.
2. Document frequencies for idf come from a probe per token that stops after PROBE_LIMIT rows:
   exact for rare tokens, extrapolated from how recently the last of them was stored otherwise.
3. When the matching rows may be few among many scanned (a phrase of common words; a `keyword:`,
   which is a substring test per row) the scan gets a floor: the seq below which more than
   SCAN_BUDGET rows contain every word. What lies below is not searched, and the reply says so.
4. The candidates are ranked in Python (bot.search_rank, BM25F over the stored index tokens) and
   paged. The same code ranks rows from either database, so both give the same order.
So a query costs at most a few thousand posting-list entries, whatever it asks: the price is that
for words in more than K_ANY briefs the best are picked among the most recent matches, and the
reply says "K_ANY+ briefs" rather than an exact count.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.filters import SignalFilter
from bot.query import SearchQuery, text_terms
from bot.signal import Signal
from bot.store.models import StoredSignal
from bot.store.search_conditions import Conditions, conditions_of, filter_conditions
from bot.store.search_ranked import ranked_search
from bot.store.search_results import Hit, SearchPage

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

_T = TypeVar("_T")

COUNT_LIMIT = 1000
# A `keyword:` is a substring test per row: without free text, at most this many rows are tested.
KEYWORD_SCAN_LIMIT = 20_000


def search(session: Session, query: SearchQuery, *, limit: int = 5, offset: int = 0) -> SearchPage:
    """Best matches first (relevance, then newest); without free text, newest first."""
    terms = text_terms(query)
    if terms:
        return ranked_search(session, query, terms, limit=limit, offset=offset)
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


def _newest_first(query: Select[tuple[_T]]) -> Select[tuple[_T]]:
    return query.order_by(StoredSignal.published.desc(), StoredSignal.seq.desc())


def _scan_start(session: Session, conditions: Conditions) -> datetime | None:
    """The date of the oldest row the scan looked at, when it did not look at them all."""
    query = _newest_first(select(StoredSignal.published).where(*conditions.indexed))
    return session.scalar(query.offset(KEYWORD_SCAN_LIMIT - 1).limit(1))


def count_signals(session: Session) -> int:
    """How many briefs are stored."""
    return session.scalar(select(func.count()).select_from(StoredSignal)) or 0
