"""PostgreSQL full text for search: the generated `search_vector` (the whole brief) and
`search_title_vector` (its title), each with a GIN index (migration 0004); FILTER fields and
dates are plain column conditions.

PostgreSQL picks between walking the primary key backwards, testing each row, and reading the
GIN index then sorting the matches. It cannot know that rows are stored roughly in date order,
so for a common word with an old date range (or few matches among recent rows) it may walk the
whole table. `newest_seqs` therefore asks twice: the newest FIRST_LOOK_FACTOR x `limit` rows
first, whatever the plan (few rows either way), and only if that is not enough, the older rows
through the index (bitmap scans only), which is cheap exactly because the matches are sparse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    cast,
    func,
    literal,
    literal_column,
    not_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from bot.query import tsquery_text
from bot.store.models import StoredSignal
from bot.store.search_conditions import date_conditions, slug_condition
from bot.store.search_match import Match

FIRST_LOOK_FACTOR = 20


class PostgresIndex:
    """`search_vector @@ tsquery` plus column conditions."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._highest: int | None = None

    def newest_seqs(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> list[int]:
        session = self.session
        first_look = max(self.highest() - FIRST_LOOK_FACTOR * limit, above_seq)
        recent = self.newest(match, limit=limit, above_seq=first_look, where=where)
        found = list(session.scalars(recent).all())
        if len(found) == limit or first_look == above_seq:
            return found
        older = self.newest(match, limit=limit - len(found), above_seq=above_seq, where=where)
        with _index_reads_only(session):
            return found + list(session.scalars(older.where(StoredSignal.seq <= first_look)))

    def highest(self) -> int:
        """The highest seq (asked once)."""
        if self._highest is None:
            self._highest = self.session.scalar(select(func.max(StoredSignal.seq))) or 0
        return self._highest

    def newest(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Select[int]:
        query = tsquery_text(match.terms)
        conditions = [StoredSignal.seq > above_seq, *where]
        if query:
            column = "search_title_vector" if match.title_only else "search_vector"
            vector: ColumnElement[Any] = literal_column(f"signals.{column}")
            conditions.append(vector.op("@@")(cast(literal(query), TSQUERY)))
        conditions += [slug_condition(name, values) for name, values in match.include.items()]
        conditions += [not_(slug_condition(name, values)) for name, values in match.exclude.items()]
        conditions += date_conditions(match.since, match.until)
        return (
            select(StoredSignal.seq)
            .where(*conditions)
            .order_by(StoredSignal.seq.desc())
            .limit(limit)
        )


@contextmanager
def _index_reads_only(session: Session) -> Iterator[None]:
    """Plans that read indexes as bitmaps (GIN, btree) for the statements inside, then sort."""
    session.execute(text("SET LOCAL enable_indexscan = off"))
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        yield
    finally:
        session.execute(text("SET LOCAL enable_indexscan = on"))
        session.execute(text("SET LOCAL enable_seqscan = on"))
