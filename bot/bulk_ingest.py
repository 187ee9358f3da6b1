"""`signal-bot ingest` of an archive: streamed, read in worker processes, stored in batches.

Three stages, each holding a bounded amount, so memory stays flat whatever the archive's size:

1. this process cuts the archive into items (bot.sources.stream.unread_items), CHUNK at a time;
2. worker processes (bot.bulk_workers) read each chunk: JSON, validation, and every column a
   stored brief needs, search columns included, which is most of the Python work; results come
   back in archive order, at most a few chunks ahead of storing;
3. this process stores BATCH briefs per transaction: keys not stored yet in multi-row inserts
   (bot.store.signals.insert_new_signals), then keys already stored and repeats through the
   same `ingest` as every source, so a brief appearing twice is stored once (and revised if it
   changed). New briefs are queued for the subscriptions they match, as every source's are.

A bad item costs only itself. An interrupted import keeps the batches committed before it (each
brief whole, with its search index), and running it again stores the rest: what is already
stored counts as unchanged. Ctrl-C while a batch is being stored takes effect once it is
committed and counted, so the report says exactly what is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from typing import Any, NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.bulk_workers import ctrl_c_deferred, in_order
from bot.ingest import IngestReport, announce_new, ingest
from bot.signal import Signal
from bot.sources.stream import Streamed, Unread, read_item
from bot.store.bulk_writes import bulk_writes
from bot.store.db import transaction
from bot.store.models import utcnow
from bot.store.signals import (
    NEW_ROW_COLUMNS,
    insert_new_signals,
    new_row,
    row_values,
    signal_of_row,
    stored_keys,
)

BATCH = 2000  # briefs per transaction
CHUNK = 250  # items per piece of work handed to a worker process
# Chunks read ahead of storing: a batch and a bit, so workers read the next batch while this
# process stores one (fewer, and this process waits for them after each batch).
AHEAD = BATCH // CHUNK + 2


@dataclass(slots=True)
class BulkReport:
    """What an archive import did, in counts (each failure goes to `on_failure` as it comes)."""

    new: int = 0
    revised: int = 0
    unchanged: int = 0
    queued: int = 0
    failed: int = 0

    @property
    def read(self) -> int:
        return self.new + self.revised + self.unchanged + self.failed


_KEY = NEW_ROW_COLUMNS.index("key")


class Prepared(NamedTuple):
    """A readable item, ready to store: where it was, and its new row (bot.store.signals.new_row).

    Plain tuples, because each goes from a worker process to this one through pickle, which
    costs this process a quarter of what a dataclass holding the Signal did; the Signal is made
    again from the row only where it is needed (a repeat, a subscription to match)."""

    where: str
    position: int
    row: tuple[Any, ...]

    @property
    def key(self) -> str:
        return str(self.row[_KEY])

    def signal(self) -> Signal:
        return signal_of_row(self.row)


def bulk_ingest(
    sessions: sessionmaker[Session],
    items: Iterable[Unread],
    *,
    source: str,
    workers: int = 0,
    announce: bool = True,
    report: BulkReport | None = None,
    on_item: Callable[[int], None] = lambda position: None,
    on_failure: Callable[[str], None] = lambda failure: None,
) -> BulkReport:
    """Store every readable item; report the others through `on_failure` as they come.

    `on_item` gets each item's position (bytes or files behind it). Pass `report` to keep the
    counts of what was committed when the import is interrupted."""
    report = report if report is not None else BulkReport()
    batch: list[Prepared] = []
    chunks = in_order(partial(prepare, source=source), _chunks(items), workers=workers, ahead=AHEAD)
    with bulk_writes(sessions), closing(chunks):  # closing: workers stop on any way out
        for item in chain.from_iterable(chunks):
            on_item(item.position)
            if isinstance(item, Streamed):
                report.failed += 1
                on_failure(f"{item.where}: {item.error}")
                continue
            batch.append(item)
            if len(batch) >= BATCH:
                _store(sessions, batch, source, announce, report)
                batch = []
        _store(sessions, batch, source, announce, report)
    return report


def prepare(chunk: list[Unread], *, source: str) -> list[Prepared | Streamed]:
    """Read a chunk of items (in a worker process): a row's values for each signal, in order,
    or the error that kept an item from being read."""
    prepared: list[Prepared | Streamed] = []
    for unread in chunk:
        for item in read_item(unread):
            if item.signal is None:
                prepared.append(item)
                continue
            prepared.append(Prepared(item.where, item.position, new_row(item.signal.keyed(source))))
    return prepared


def _chunks(items: Iterable[Unread]) -> Iterator[list[Unread]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _store(
    sessions: sessionmaker[Session],
    batch: list[Prepared],
    source: str,
    announce: bool,
    report: BulkReport,
) -> None:
    if not batch:
        return
    with ctrl_c_deferred():  # Ctrl-C waits for the commit and the count: the report is exact
        with transaction(sessions) as session:
            known = stored_keys(session, source, (item.key for item in batch))
            new, again = _split_new(batch, known)
            now = utcnow()
            insert_new_signals(session, [row_values(item.row) for item in new], now)
            signals = (item.signal() for item in new)  # made only if a subscription may match
            queued = announce_new(session, signals, now=now) if announce else 0
            others = (
                ingest(session, [item.signal() for item in again], announce=announce)
                if again
                else IngestReport()
            )
        if new:
            metrics.signals_ingested.labels(source, "new").inc(len(new))
        _count(report, len(new), queued, others)


def _split_new(batch: list[Prepared], known: set[str]) -> tuple[list[Prepared], list[Prepared]]:
    """The first item of each key not stored yet; and the rest, in archive order (each of
    those is a repeat or a key already stored: unchanged or a revision, which `ingest` tells)."""
    new: list[Prepared] = []
    again: list[Prepared] = []
    seen = set(known)
    for item in batch:
        if item.key in seen:
            again.append(item)
        else:
            seen.add(item.key)
            new.append(item)
    return new, again


def _count(report: BulkReport, new: int, queued: int, others: IngestReport) -> None:
    report.new += new + len(others.new)
    report.revised += len(others.revised)
    report.unchanged += others.unchanged
    report.queued += queued + others.queued
