"""The exhaustive scorer: every stored brief, matched in Python and scored by bot.search.rank.

It shares only the declared function with search (bot.search.rank.score); which briefs match is
decided here from each brief's index text, FILTER (SignalFilter.matches) and date, without any
full-text index, so it checks both databases' indexes and the top-k walk at once.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.search.grammar import SearchQuery, text_terms
from bot.search.rank import IndexedBrief, Scored, best_first, day_number, score
from bot.signal import as_utc
from bot.store.models import StoredSignal


def reference_ranking(session: Session, query: SearchQuery, today: date) -> list[Scored]:
    """Every brief that matches the query, best first."""
    terms = text_terms(query)
    found = []
    for row in session.scalars(select(StoredSignal)):
        signal = row.to_signal()
        day = as_utc(signal.published).date()
        if not query.filter.matches(signal):
            continue
        if (query.since and day < query.since) or (query.until and day > query.until):
            continue
        brief = IndexedBrief(row.seq, row.published_day, row.search_title, row.search_body)
        if (scored := score(terms, brief, day_number(today))) is not None:
            found.append(scored)
    return best_first(found)


def reference_seqs(session: Session, query: SearchQuery, today: date, limit: int) -> list[int]:
    """The seqs of the best `limit` briefs."""
    return [scored.seq for scored in reference_ranking(session, query, today)[:limit]]


ONE_DAY = timedelta(days=1)
