"""The ranked path of search (see bot.store.search for the design): probe, bound, pool, rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.filters import SignalFilter
from bot.query import SearchQuery, TextTerm
from bot.search_rank import Candidate, rank
from bot.snippets import brief_snippet
from bot.store.models import StoredSignal
from bot.store.search_conditions import conditions_of
from bot.store.search_index import FullTextIndex, Match, full_text_index
from bot.store.search_results import Hit, SearchPage

K_ANY = 200
K_TITLE = 100
PROBE_LIMIT = 1000
SCAN_BUDGET = 20_000


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one search asks of the index."""

    match: Match
    where: tuple[ColumnElement[bool], ...]
    total_documents: int


def ranked_search(
    session: Session, query: SearchQuery, terms: Sequence[TextTerm], *, limit: int, offset: int
) -> SearchPage:
    """Briefs matching every term and constraint, most relevant first (see bot.store.search)."""
    index = full_text_index(session)
    plan = _Plan(
        match=_match(terms, query),
        where=conditions_of(_keywords_only(query.filter)).scanned,
        total_documents=session.scalar(select(func.max(StoredSignal.seq))) or 0,
    )
    if not plan.total_documents:
        return SearchPage(hits=[], total=0, offset=offset)
    floor, floor_seq = _scan_floor(session, index, plan)
    everywhere = _seqs(session, index, plan.match, K_ANY, floor, plan.where)
    in_title = _seqs(session, index, _title_only(plan.match), K_TITLE, floor, plan.where)
    frequencies = _document_frequencies(session, index, plan)
    ranked = rank(
        _candidates(session, {*everywhere, *in_title}), terms, frequencies, plan.total_documents
    )
    complete = len(everywhere) < K_ANY
    return SearchPage(
        hits=_hits(session, ranked[offset : offset + limit], terms),
        total=len(ranked),
        offset=offset,
        more_than_total=not complete,
        searched_back_to=_published(session, floor_seq) if complete and floor else None,
    )


def _match(terms: Sequence[TextTerm], query: SearchQuery) -> Match:
    names = query.filter
    return Match(
        terms=tuple(terms),
        include={name: values for name, values in names.include.items() if name != "keyword"},
        exclude={name: values for name, values in names.exclude.items() if name != "keyword"},
        since=query.since,
        until=query.until,
    )


def _title_only(match: Match) -> Match:
    return Match(match.terms, True, match.include, match.exclude, match.since, match.until)


def _keywords_only(signal_filter: SignalFilter) -> SignalFilter:
    return SignalFilter(
        include={"keyword": signal_filter.include.get("keyword", frozenset())},
        exclude={"keyword": signal_filter.exclude.get("keyword", frozenset())},
    )


def _seqs(
    session: Session,
    index: FullTextIndex,
    match: Match,
    limit: int,
    above_seq: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    query = index.newest(match, limit=limit, above_seq=above_seq, where=where)
    return list(session.scalars(query))


def _probe(session: Session, index: FullTextIndex, match: Match, limit: int) -> tuple[int, int]:
    """How many of the newest `limit` rows match, and the lowest seq among them."""
    newest = index.newest(match, limit=limit).subquery()
    count, lowest = session.execute(select(func.count(), func.min(newest.c.seq))).one()
    return count, lowest or 0


def _scan_floor(session: Session, index: FullTextIndex, plan: _Plan) -> tuple[int, int]:
    """(seq to stay above, lowest seq searched): (0, 0) when every matching row may be read.

    Rows are checked beyond the posting lists only for a phrase (positions) or a `keyword:`
    (a substring test). Then, if more than SCAN_BUDGET rows hold every word, only the newest
    SCAN_BUDGET of them are checked.
    """
    needs_checks = plan.where or any(len(term.tokens) > 1 for term in plan.match.terms)
    if not needs_checks:
        return 0, 0
    words = Match(
        terms=tuple(_token_terms(plan.match.terms)),
        include=plan.match.include,
        exclude=plan.match.exclude,
        since=plan.match.since,
        until=plan.match.until,
    )
    count, lowest = _probe(session, index, words, SCAN_BUDGET)
    return (lowest - 1, lowest) if count >= SCAN_BUDGET else (0, 0)


def _token_terms(terms: Sequence[TextTerm]) -> list[TextTerm]:
    """Each token of each term as a term of its own (the last one of a prefix term a prefix)."""
    found: dict[TextTerm, None] = {}
    for term in terms:
        last = len(term.tokens) - 1
        for position, token in enumerate(term.tokens):
            found.setdefault(TextTerm((token,), prefix=term.prefix and position == last))
    return list(found)


def _document_frequencies(
    session: Session, index: FullTextIndex, plan: _Plan
) -> dict[TextTerm, float]:
    """Each term's estimated document frequency: its rarest token's."""
    per_token = {
        token: _frequency(session, index, token, plan.total_documents)
        for token in _token_terms(plan.match.terms)
    }
    return {
        term: min(per_token[token] for token in _token_terms([term])) for term in plan.match.terms
    }


def _frequency(session: Session, index: FullTextIndex, term: TextTerm, total: int) -> float:
    """Exact under PROBE_LIMIT; else extrapolated from the seq span of the newest PROBE_LIMIT."""
    count, lowest = _probe(session, index, Match((term,)), PROBE_LIMIT)
    if count < PROBE_LIMIT:
        return float(count)
    return PROBE_LIMIT * total / max(total - lowest + 1, PROBE_LIMIT)


def _candidates(session: Session, seqs: set[int]) -> list[Candidate]:
    if not seqs:
        return []
    rows = session.execute(
        select(
            StoredSignal.seq,
            StoredSignal.published,
            StoredSignal.search_title,
            StoredSignal.search_body,
        ).where(StoredSignal.seq.in_(sorted(seqs)))
    )
    return [Candidate.from_columns(*row) for row in rows]


def _hits(session: Session, page: Sequence[Candidate], terms: Sequence[TextTerm]) -> list[Hit]:
    if not page:
        return []
    wanted = [candidate.seq for candidate in page]
    rows = session.scalars(select(StoredSignal).where(StoredSignal.seq.in_(wanted)))
    by_seq = {row.seq: row.to_signal() for row in rows}
    return [Hit(by_seq[seq], brief_snippet(by_seq[seq], terms)) for seq in wanted if seq in by_seq]


def _published(session: Session, seq: int) -> datetime | None:
    return session.scalar(select(StoredSignal.published).where(StoredSignal.seq == seq))
