"""Signals in the database: idempotent upserts keyed by (source, key), and look-ups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from bot.filters import name_key
from bot.search.document import search_columns
from bot.signal import Signal
from bot.store.models import StoredSignal, utcnow

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


def _new_row(signal: Signal) -> StoredSignal:
    row = StoredSignal(id=signal.id, source=signal.source, key=signal.key, revision=1)
    _copy_content(row, signal)
    return row


def _revise(row: StoredSignal, signal: Signal) -> None:
    _copy_content(row, signal)
    row.revision += 1
    row.revised_at = utcnow()


def _copy_content(row: StoredSignal, signal: Signal) -> None:
    row.title = signal.title
    row.published = signal.published
    row.entity = signal.entity
    row.category = signal.category
    row.topic = signal.topic
    row.entity_slug = name_key(signal.entity) if signal.entity else ""
    row.category_slug = name_key(signal.category) if signal.category else ""
    row.topic_slug = name_key(signal.topic) if signal.topic else ""
    row.summary = signal.summary
    row.sections = [[s.heading, s.body] for s in signal.sections]
    row.body_text = "\n\n".join(f"{s.heading}\n{s.body}" for s in signal.sections)
    row.url = signal.url
    row.content_hash = signal.content_hash
    for column, value in search_columns(signal).items():
        setattr(row, column, value)


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
