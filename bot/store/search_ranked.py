"""The ranked path of search (see bot.store.search for the design): probe, bound, pool, rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, load_only

from bot.filters import SignalFilter
from bot.query import SearchQuery, TextTerm
from bot.search_rank import Candidate, rank
from bot.snippets import brief_snippet
from bot.store.models import StoredSignal
from bot.store.search_conditions import conditions_of
from bot.store.search_index import full_text_index
from bot.store.search_match import PREFIX_LENGTHS, FullTextIndex, Match
from bot.store.search_results import Hit, SearchPage

K_ANY = 80
K_TITLE = 20
PROBE_LIMIT = 1000
SCAN_BUDGET = 5_000
FIRST_LOOK = 20 * K_ANY
TITLE_REACH = 20
# What StoredSignal.to_signal reads: the search columns are big and not needed for a hit.
SIGNAL_COLUMNS = (
    "seq", "title", "published", "key", "source", "entity", "category", "topic", "summary",
    "sections", "url",
)  # fmt: skip


class _Plan:
    """What one search asks of the index, and the archive's size if planning needs it."""

    def __init__(
        self, session: Session, match: Match, where: tuple[ColumnElement[bool], ...]
    ) -> None:
        self.session = session
        self.match = match
        self.where = where
        self._total_documents: int | None = None

    @property
    def total_documents(self) -> int:
        """The highest seq, asked once and only when needed (a plain one-word query never is)."""
        if self._total_documents is None:
            highest = self.session.scalar(select(func.max(StoredSignal.seq)))
            self._total_documents = highest or 0
        return self._total_documents


def ranked_search(
    session: Session, query: SearchQuery, terms: Sequence[TextTerm], *, limit: int, offset: int
) -> SearchPage:
    """Briefs matching every term and constraint, most relevant first (see bot.store.search)."""
    index = full_text_index(session)
    keywords = conditions_of(_keywords_only(query.filter)).scanned
    plan = _Plan(session, _match(terms, query), keywords)
    everywhere, floor, floor_seq = _newest_matches(session, index, plan)
    in_title = _title_matches(session, index, plan, floor, everywhere)
    frequencies = _document_frequencies(session, index, plan)
    total = plan.total_documents if frequencies else 0  # one term: idf changes no order
    ranked = rank(_candidates(session, {*everywhere, *in_title}), terms, frequencies, total)
    complete = len(everywhere) < K_ANY
    return SearchPage(
        hits=_hits(session, ranked[offset : offset + limit], terms),
        total=len(ranked),
        offset=offset,
        more_than_total=not complete,
        searched_back_to=_published(session, floor_seq) if complete and floor_seq else None,
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


def _keywords_only(signal_filter: SignalFilter) -> SignalFilter:
    return SignalFilter(
        include={"keyword": signal_filter.include.get("keyword", frozenset())},
        exclude={"keyword": signal_filter.exclude.get("keyword", frozenset())},
    )


def _seqs(
    index: FullTextIndex,
    match: Match,
    limit: int,
    above_seq: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    return index.newest_seqs(match, limit=limit, above_seq=above_seq, where=where)


def _probe(session: Session, index: FullTextIndex, match: Match, limit: int) -> tuple[int, int]:
    """How many of the newest `limit` rows match, and the lowest seq among them."""
    newest = index.newest(match, limit=limit).subquery()
    count, lowest = session.execute(select(func.count(), func.min(newest.c.seq))).one()
    return count, lowest or 0


def _newest_matches(
    session: Session, index: FullTextIndex, plan: _Plan
) -> tuple[list[int], int, int]:
    """The newest K_ANY matches; the seq they stayed above, and the lowest seq searched (or 0).

    Rows are checked beyond the posting lists for a phrase (positions), a prefix FTS5 does not
    index (see search_index._indexable) or a `keyword:` (a substring test). Such a query first
    looks at the newest FIRST_LOOK rows only, which is enough when its matches are common. Else
    the rows holding every word are read newest first, and if there are more than SCAN_BUDGET
    of them, only the newest SCAN_BUDGET are checked.
    """
    if not plan.where and not any(_needs_row_checks(term) for term in plan.match.terms):
        return _seqs(index, plan.match, K_ANY, 0, plan.where), 0, 0
    first_look = max(plan.total_documents - FIRST_LOOK, 0)
    found = _seqs(index, plan.match, K_ANY, first_look, plan.where)
    if len(found) == K_ANY or not first_look:
        return found, first_look, 0
    words = replace(plan.match, terms=tuple(_planning_terms(plan.match.terms)))
    count, lowest = _probe(session, index, words, SCAN_BUDGET)
    floor = lowest - 1 if count >= SCAN_BUDGET else 0
    return _seqs(index, plan.match, K_ANY, floor, plan.where), floor, lowest * bool(floor)


def _title_matches(
    session: Session, index: FullTextIndex, plan: _Plan, floor: int, everywhere: Sequence[int]
) -> list[int]:
    """The newest K_TITLE matches with every term in the title, reaching past `everywhere`.

    None are needed when `everywhere` holds every match already. Else the search stops
    TITLE_REACH times further back than `everywhere` reached, and never below `floor` (which
    keeps it within FIRST_LOOK when row tests were needed): FTS5 checks the title column of
    every row that holds all the words, so an unbounded title search for words common in
    bodies and rare in titles would read most of the archive.
    """
    if len(everywhere) < K_ANY:
        return []
    span = plan.total_documents - min(everywhere) + 1
    title_floor = max(floor, plan.total_documents - TITLE_REACH * span)
    title_only = replace(plan.match, title_only=True)
    return _seqs(index, title_only, K_TITLE, title_floor, plan.where)


def _needs_row_checks(term: TextTerm) -> bool:
    return len(term.tokens) > 1 or (term.prefix and len(term.tokens[-1]) not in PREFIX_LENGTHS)


def _planning_terms(terms: Sequence[TextTerm]) -> list[TextTerm]:
    """Each token of each term on its own, as the index reads it fastest: the last token of a
    prefix term cut to the longest indexed prefix (dropped when shorter than any)."""
    found: dict[TextTerm, None] = {}
    for term in terms:
        *whole, last = term.tokens
        planned = [TextTerm((token,)) for token in whole]
        if not term.prefix:
            planned.append(TextTerm((last,)))
        elif len(last) >= min(PREFIX_LENGTHS):
            planned.append(TextTerm((last[: max(PREFIX_LENGTHS)],), prefix=True))
        for token in planned or [term]:
            found.setdefault(token)
    return list(found)


def _document_frequencies(
    session: Session, index: FullTextIndex, plan: _Plan
) -> dict[TextTerm, float]:
    """Each term's estimated document frequency: that of its rarest planning token."""
    if len(plan.match.terms) < 2:
        return {}  # one term's idf scales every score alike: the order does not need it
    per_token = {
        token: _frequency(session, index, token, plan.total_documents)
        for token in _planning_terms(plan.match.terms)
    }
    return {
        term: min(per_token[token] for token in _planning_terms([term]))
        for term in plan.match.terms
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
    ).all()
    return [Candidate.from_columns(*row) for row in rows]


def _hits(session: Session, page: Sequence[Candidate], terms: Sequence[TextTerm]) -> list[Hit]:
    if not page:
        return []
    wanted = [candidate.seq for candidate in page]
    shown = load_only(*(getattr(StoredSignal, name) for name in SIGNAL_COLUMNS))
    rows = session.scalars(select(StoredSignal).options(shown).where(StoredSignal.seq.in_(wanted)))
    by_seq = {row.seq: row.to_signal() for row in rows}
    return [Hit(by_seq[seq], brief_snippet(by_seq[seq], terms)) for seq in wanted if seq in by_seq]


def _published(session: Session, seq: int) -> datetime | None:
    return session.scalar(select(StoredSignal.published).where(StoredSignal.seq == seq))
