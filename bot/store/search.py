"""Search over stored signals: SQLite FTS5 or PostgreSQL full text, behind one function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from bot.filters import SignalFilter
from bot.query import SearchQuery, fts5_match, tsquery_text
from bot.signal import Signal, as_utc
from bot.store.models import StoredSignal

HIT_START, HIT_END = "\ue000", "\ue001"
# bm25 column weights, in the FTS column order: title, summary, body_text, entity, category, topic
_BM25 = "bm25(signals_fts, 10.0, 4.0, 1.0, 5.0, 2.0, 2.0)"
_SQLITE_SNIPPET = f"snippet(signals_fts, -1, '{HIT_START}', '{HIT_END}', '…', 24)"
_FTS = table("signals_fts", column("rowid"))
_PG_HEADLINE_OPTIONS = f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords=35, MinWords=15"


@dataclass(frozen=True, slots=True)
class Hit:
    signal: Signal
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    total: int
    offset: int


def search(session: Session, query: SearchQuery, *, limit: int = 5, offset: int = 0) -> SearchPage:
    """Best matches first (relevance, then newest); without words, newest first."""
    conditions = [*filter_conditions(query.filter), *_date_conditions(query)]
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and (match := fts5_match(query)):
        return _search_sqlite(session, match, conditions, limit, offset)
    if dialect == "postgresql" and (words := tsquery_text(query)):
        return _search_postgres(session, words, conditions, limit, offset)
    return _newest(session, conditions, limit, offset)


def latest(session: Session, signal_filter: SignalFilter, *, limit: int = 5) -> list[Signal]:
    """The newest briefs matching a FILTER."""
    return [hit.signal for hit in _newest(session, filter_conditions(signal_filter), limit, 0).hits]


def _search_sqlite(
    session: Session, match: str, conditions: list[ColumnElement[bool]], limit: int, offset: int
) -> SearchPage:
    matched = and_(text("signals_fts MATCH :match").bindparams(match=match), *conditions)
    joined = StoredSignal.seq == _FTS.c.rowid
    query = (
        select(StoredSignal, literal_column(_SQLITE_SNIPPET))
        .select_from(_FTS)
        .join(StoredSignal, joined)
        .where(matched)
        .order_by(literal_column(_BM25), StoredSignal.published.desc())
    )
    count = select(func.count()).select_from(_FTS).join(StoredSignal, joined).where(matched)
    return _page(session, query, count, limit, offset)


def _search_postgres(
    session: Session, words: str, conditions: list[ColumnElement[bool]], limit: int, offset: int
) -> SearchPage:
    tsquery = func.websearch_to_tsquery("english", words)
    vector = literal_column("signals.search_vector")
    matched = and_(vector.op("@@")(tsquery), *conditions)
    document = StoredSignal.summary + literal(" ") + StoredSignal.body_text
    headline = func.ts_headline("english", document, tsquery, _PG_HEADLINE_OPTIONS)
    query = (
        select(StoredSignal, headline)
        .where(matched)
        .order_by(func.ts_rank_cd(vector, tsquery).desc(), StoredSignal.published.desc())
    )
    count = select(func.count()).select_from(StoredSignal).where(matched)
    return _page(session, query, count, limit, offset)


def _newest(
    session: Session, conditions: list[ColumnElement[bool]], limit: int, offset: int
) -> SearchPage:
    query = (
        select(StoredSignal, literal(""))
        .where(*conditions)
        .order_by(StoredSignal.published.desc(), StoredSignal.seq.desc())
    )
    count = select(func.count()).select_from(StoredSignal).where(*conditions)
    return _page(session, query, count, limit, offset)


def _page(
    session: Session,
    query: Select[tuple[StoredSignal, str]],
    count: Select[tuple[int]],
    limit: int,
    offset: int,
) -> SearchPage:
    rows = session.execute(query.limit(limit).offset(offset)).all()
    hits = [Hit(row.to_signal(), snippet or "") for row, snippet in rows]
    total = session.scalar(count) or 0
    return SearchPage(hits=hits, total=total, offset=offset)


_SLUG_COLUMNS = {
    "topic": StoredSignal.topic_slug,
    "entity": StoredSignal.entity_slug,
    "category": StoredSignal.category_slug,
    "source": func.lower(StoredSignal.source),
}


def filter_conditions(signal_filter: SignalFilter) -> list[ColumnElement[bool]]:
    """A FILTER as SQL: values of one field OR-ed, fields AND-ed, exclusions negated."""
    conditions = [_field_matches(field, values) for field, values in signal_filter.include.items()]
    conditions += [
        not_(_field_matches(field, values)) for field, values in signal_filter.exclude.items()
    ]
    return conditions


def _field_matches(field: str, values: frozenset[str]) -> ColumnElement[bool]:
    if field == "keyword":
        return or_(*(_mentions(keyword) for keyword in sorted(values)))
    return _SLUG_COLUMNS[field].in_(sorted(values))


def _mentions(keyword: str) -> ColumnElement[bool]:
    haystack = func.lower(
        StoredSignal.title
        + literal(" ")
        + StoredSignal.summary
        + literal(" ")
        + StoredSignal.body_text
        + literal(" ")
        + StoredSignal.entity
    )
    escaped = keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return haystack.like(f"%{escaped}%", escape="\\")


def _date_conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
    conditions = []
    if query.since:
        conditions.append(StoredSignal.published >= as_utc(query.since))
    if query.until:
        conditions.append(StoredSignal.published < as_utc(query.until) + timedelta(days=1))
    return conditions


def count_signals(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StoredSignal)) or 0
