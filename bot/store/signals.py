"""Signals in the database: idempotent upserts keyed by (source, key), and look-ups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session

from bot.filters import name_key
from bot.search.document import search_columns
from bot.signal import Signal
from bot.store.models import StoredSignal, signal_of_columns, utcnow

_LOOKUP_BATCH = 500


class Change(StrEnum):
    NEW = "new"
    REVISED = "revised"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Upserted:
    row: StoredSignal
    change: Change


def upsert_signals(session: Session, signals: Sequence[Signal]) -> list[Upserted]:
    """Insert new signals, revise changed ones, skip identical ones; in the given order."""
    existing = _existing_rows(session, signals)
    results = []
    for signal in signals:
        row = existing.get((signal.source, signal.key))
        if row is None:
            row = _new_row(signal)
            session.add(row)
            existing[(signal.source, signal.key)] = row
            results.append(Upserted(row, Change.NEW))
        elif row.content_hash == signal.content_hash:
            results.append(Upserted(row, Change.UNCHANGED))
        else:
            _revise(row, signal)
            results.append(Upserted(row, Change.REVISED))
    session.flush()
    return results


def _existing_rows(
    session: Session, signals: Sequence[Signal]
) -> dict[tuple[str, str], StoredSignal]:
    keys = list({(s.source, s.key) for s in signals})
    rows: dict[tuple[str, str], StoredSignal] = {}
    for start in range(0, len(keys), _LOOKUP_BATCH):
        batch = keys[start : start + _LOOKUP_BATCH]
        query = select(StoredSignal).where(tuple_(StoredSignal.source, StoredSignal.key).in_(batch))
        rows.update({(r.source, r.key): r for r in session.scalars(query)})
    return rows


def stored_keys(session: Session, source: str, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the source already has stored."""
    wanted = list(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), _LOOKUP_BATCH):
        batch = wanted[start : start + _LOOKUP_BATCH]
        query = select(StoredSignal.key).where(
            StoredSignal.source == source, StoredSignal.key.in_(batch)
        )
        found.update(session.scalars(query))
    return found


def insert_new_signals(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert rows of `new_row_values` for keys not stored yet, in a few multi-row statements.

    Oldest day first (a stable sort, so briefs of one day keep their order): SQLite's full-text
    index is keyed by day, and FTS5 writes its pending terms out whenever a key is lower than
    the one before. RETURNING makes SQLAlchemy send up to a thousand rows per statement
    ("insertmanyvalues") instead of one statement per row, each of which would make FTS5
    write out its pending terms too (a statement's savepoint flushes them).
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: row["published_day"])
    for row in ordered:
        row["ingested_at"] = row["revised_at"] = now
    table = cast(Table, StoredSignal.__table__)
    session.execute(insert(table).returning(table.c.seq), ordered)


# The columns of `new_row_values`, in the order of `new_row`'s tuple.
NEW_ROW_COLUMNS = (
    "id",
    "source",
    "key",
    "revision",
    "title",
    "published",
    "entity",
    "category",
    "topic",
    "entity_slug",
    "category_slug",
    "topic_slug",
    "summary",
    "sections",
    "body_text",
    "url",
    "content_hash",
    "source_slug",
    "keyword_text",
    "search_title",
    "search_body",
    "search_facets",
    "search_impacts",
    "search_pairs",
    "published_day",
)


def new_row(signal: Signal) -> tuple[Any, ...]:
    """`new_row_values` as a tuple in NEW_ROW_COLUMNS order: a tenth of the cost of a dict
    or a dataclass to hand from one process to another (pickle)."""
    values = new_row_values(signal)
    return tuple([values[column] for column in NEW_ROW_COLUMNS])


def row_values(row: tuple[Any, ...]) -> dict[str, Any]:
    """The values of a `new_row` tuple by column name."""
    return dict(zip(NEW_ROW_COLUMNS, row, strict=True))


def signal_of_row(row: tuple[Any, ...]) -> Signal:
    """The (keyed) signal a `new_row` tuple was made from."""
    return signal_of_columns(row_values(row))


def new_row_values(signal: Signal) -> dict[str, Any]:
    """Every column of a new row for `signal` (keyed), but the times of storing it."""
    return {
        "id": signal.id,
        "source": signal.source,
        "key": signal.key,
        "revision": 1,
        **content_values(signal),
    }


def content_values(signal: Signal) -> dict[str, Any]:
    """The columns that hold what a signal says, and what search derives from it."""
    return {
        "title": signal.title,
        "published": signal.published,
        "entity": signal.entity,
        "category": signal.category,
        "topic": signal.topic,
        "entity_slug": name_key(signal.entity) if signal.entity else "",
        "category_slug": name_key(signal.category) if signal.category else "",
        "topic_slug": name_key(signal.topic) if signal.topic else "",
        "summary": signal.summary,
        "sections": [[s.heading, s.body] for s in signal.sections],
        "body_text": "\n\n".join(f"{s.heading}\n{s.body}" for s in signal.sections),
        "url": signal.url,
        "content_hash": signal.content_hash,
        **search_columns(signal),
    }


def _new_row(signal: Signal) -> StoredSignal:
    return StoredSignal(**new_row_values(signal))


def _revise(row: StoredSignal, signal: Signal) -> None:
    for column, value in content_values(signal).items():
        setattr(row, column, value)
    row.revision += 1
    row.revised_at = utcnow()


def get_signal(session: Session, signal_id: str) -> StoredSignal | None:
    """A stored signal by its short ID (case-insensitive, surrounding junk ignored)."""
    handle = signal_id.strip().strip("`#").lower()
    return session.scalar(select(StoredSignal).where(StoredSignal.id == handle))


def signals_by_id(session: Session, ids: Iterable[str]) -> dict[str, StoredSignal]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(StoredSignal).where(StoredSignal.id.in_(wanted)))
    return {row.id: row for row in rows}
