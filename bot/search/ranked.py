"""The ranked path of search: the exact top of bot.search.rank over every brief that matches.

A query with at most FEW matches has them all read and scored. Any other is answered class by
class from the index (bot.search.topk), after asking which levels each word has at all, so
classes no brief is in are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.search.backends import FullTextIndex, TermAt
from bot.search.grammar import SearchQuery, TextTerm
from bot.search.rank import IndexedBrief, Scored, best_first, day_number, score
from bot.search.results import Hit, SearchPage
from bot.search.snippets import brief_snippet
from bot.search.topk import is_word, possible_levels, top_k
from bot.store.models import SIGNAL_COLUMNS, StoredSignal, signal_of_columns

FEW = 200
_READ_BATCH = 500
# What a hit shows (a Signal's columns; the search columns are big and not needed), read as
# columns, not as StoredSignal objects: a page of hits is built once and thrown away, and the
# ORM's identity map and attribute loading cost more than the select.
_SHOWN_COLUMNS = [getattr(StoredSignal, name) for name in ("seq", *SIGNAL_COLUMNS)]


def ranked_search(
    session: Session,
    index: FullTextIndex,
    query: SearchQuery,
    terms: Sequence[TextTerm],
    *,
    limit: int,
    offset: int,
    today: date | None = None,
) -> SearchPage:
    """Briefs holding every term and meeting every constraint, best first."""
    today_number = day_number(today or datetime.now(UTC).date())
    wanted = offset + limit
    matches = index.some([TermAt(term) for term in terms], FEW + 1)
    if len(matches) <= FEW:
        ranked = score_all(session, terms, [seq for _, seq in matches], today_number)
    elif wanted:
        options = [_levels_present(index, term, len(terms)) for term in terms]

        def read_class(levels: tuple[int, ...], count: int) -> list[tuple[int, int]]:
            at = [TermAt(term, level) for term, level in zip(terms, levels, strict=True)]
            return index.newest(at, count)

        ranked = top_k(options, read_class, wanted, today_number)
    else:
        ranked = []
    return SearchPage(
        hits=_hits(session, ranked[offset : offset + limit], terms),
        total=min(len(matches), FEW),
        offset=offset,
        more_than_total=len(matches) > FEW,
    )


def score_all(
    session: Session, terms: Sequence[TextTerm], seqs: Sequence[int], today: int
) -> list[Scored]:
    """Every brief of `seqs` scored and ordered (the few-matches path, and the reference)."""
    scored = []
    for brief in indexed_briefs(session, seqs):
        if (found := score(terms, brief, today)) is not None:
            scored.append(found)
    return best_first(scored)


def indexed_briefs(session: Session, seqs: Sequence[int]) -> list[IndexedBrief]:
    """The briefs' index text, as ranking reads it."""
    briefs = []
    for start in range(0, len(seqs), _READ_BATCH):
        rows = session.execute(
            select(
                StoredSignal.seq,
                StoredSignal.published_day,
                StoredSignal.search_title,
                StoredSignal.search_body,
            ).where(StoredSignal.seq.in_(seqs[start : start + _READ_BATCH]))
        )
        briefs += [IndexedBrief(*row) for row in rows]
    return briefs


def _levels_present(index: FullTextIndex, term: TextTerm, term_count: int) -> tuple[int, ...]:
    """The levels some matching brief has for the term (all possible ones for a lone term)."""
    levels = possible_levels(term)
    if term_count == 1 or not is_word(term):
        return levels
    present = index.levels_present(term, levels)
    return tuple(level for level in levels if level in present)


def _hits(session: Session, page: Sequence[Scored], terms: Sequence[TextTerm]) -> list[Hit]:
    if not page:
        return []
    wanted = [scored.seq for scored in page]
    rows = session.execute(select(*_SHOWN_COLUMNS).where(StoredSignal.seq.in_(wanted)))
    by_seq = {row.seq: signal_of_columns(row._asdict()) for row in rows}
    return [Hit(by_seq[seq], brief_snippet(by_seq[seq], terms)) for seq in wanted if seq in by_seq]
