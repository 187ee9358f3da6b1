"""`signal-bot ingest` of an archive: streamed, stored in batches, failures named by line.

The archive is read one item at a time (bot.sources.stream) and stored BATCH signals per
transaction through the same `ingest` as every source, so memory stays flat whatever the size
and a failure costs at most its own line. Subscriptions see new briefs as usual (`announce`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.ingest import ingest
from bot.sources.document import ParsedItem
from bot.sources.remote import keep_first_seen_dates
from bot.sources.stream import Streamed
from bot.store.db import transaction

BATCH = 2000


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


def bulk_ingest(
    sessions: sessionmaker[Session],
    items: Iterable[Streamed],
    *,
    source: str,
    announce: bool = True,
    on_item: Callable[[Streamed], None] = lambda item: None,
    on_failure: Callable[[str], None] = lambda failure: None,
) -> BulkReport:
    """Store every readable item; report the others through `on_failure` as they come."""
    report = BulkReport()
    batch: list[ParsedItem] = []
    for item in items:
        on_item(item)
        if item.signal is None:
            report.failed += 1
            on_failure(f"{item.where}: {item.error}")
            continue
        batch.append(ParsedItem(item.signal.keyed(source)))
        if len(batch) >= BATCH:
            _store(sessions, batch, source, announce, report)
            batch = []
    _store(sessions, batch, source, announce, report)
    return report


def _store(
    sessions: sessionmaker[Session],
    batch: list[ParsedItem],
    source: str,
    announce: bool,
    report: BulkReport,
) -> None:
    if not batch:
        return
    with transaction(sessions) as session:
        stored = ingest(session, keep_first_seen_dates(session, source, batch), announce=announce)
    report.new += len(stored.new)
    report.revised += len(stored.revised)
    report.unchanged += stored.unchanged
    report.queued += stored.queued
