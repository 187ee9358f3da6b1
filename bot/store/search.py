"""Search over stored briefs, the same on SQLite and PostgreSQL, and fast at a million briefs.

Two paths:
- A QUERY with free text is *ranked* (bot.store.search_ranked): relevance first, recency as the
  tie-break.
- A QUERY without free text, and `latest [FILTER]`, is *newest first*: a walk down an index on
  `published` (or (field, published) for a FILTER value) that stops after one page.

The trap, and the design for it. Ranking in the database (FTS5 `ORDER BY bm25`, `ts_rank`)
scores every matching row before it can return five, and bm25() even counts every row of each
term for its idf. Common words match most of the archive: at 1M briefs `MATCH 'the' ORDER BY
bm25 LIMIT 5` takes about a second. Here the database is only asked what its index answers in
bounded time, and the answer is ranked in Python:
1. Candidates: the newest K_ANY rows that match (every term, FILTER fields and dates; FTS5
   holds those as facet tokens, so a narrow filter narrows the posting lists it reads), and, when
   those are not all the matches, the newest K_TITLE with every term in the title (an older
   title hit can beat newer mentions). FTS5 reads rowids, PostgreSQL its primary key, newest
   first and stops at the limit: a word in 900,000 briefs costs K_ANY rows, not 900,000.
2. What FTS5 would read in full, it is not asked: a prefix it has no index for (`ransom*` is
   asked as `ran*` plus a test of the row's tokens) and a phrase limited to the title (asked as
   its words plus a row test); see search_index._indexable.
3. Rows that need a test beyond the posting lists (a phrase, such a prefix, a `keyword:`
   substring) may be few among many: the query first looks at the newest FIRST_LOOK briefs,
   then at most at the newest SCAN_BUDGET rows holding every word. Anything older is not
   searched, and the reply says so ("Only briefs stored since … were searched").
4. Document frequencies for idf (only with two terms or more) come from probes that stop after
   PROBE_LIMIT rows: exact for rare tokens, extrapolated for common ones.
5. Ranking is BM25F over the stored index tokens (bot.search_rank), done by the same Python
   code for either database, so both give the same order; snippets likewise (bot.snippets).
The price: for words in more than K_ANY briefs the best are chosen among the most recent
matches (plus older title hits), and the reply says "80+ briefs" rather than an exact count.
Measured by benchmarks/bench_search.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVarTuple

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

_Ts = TypeVarTuple("_Ts")

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


def _newest_first(query: Select[*_Ts]) -> Select[*_Ts]:
    return query.order_by(StoredSignal.published.desc(), StoredSignal.seq.desc())


def _scan_start(session: Session, conditions: Conditions) -> datetime | None:
    """The date of the oldest row the scan looked at, when it did not look at them all."""
    query = _newest_first(select(StoredSignal.published).where(*conditions.indexed))
    return session.scalar(query.offset(KEYWORD_SCAN_LIMIT - 1).limit(1))


def count_signals(session: Session) -> int:
    """How many briefs are stored."""
    return session.scalar(select(func.count()).select_from(StoredSignal)) or 0
