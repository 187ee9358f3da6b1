"""Polling an HTTP source (`feed` or `json`): conditional fetch, parse, ingest in batches.

An unchanged document (304, or the very same bytes) costs one request and is not parsed.
Batches of BATCH_SIZE signals go in one transaction each, so memory stays bounded by the
document, and the last-seen validators are saved only after every batch is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SourceConfig
from bot.ingest import ingest
from bot.redaction import redact_url, url_without_secrets
from bot.signal import Signal
from bot.sources.document import ParsedDocument, ParsedItem
from bot.sources.feed import parse_feed
from bot.sources.http import Fetched, Fetcher, Validators
from bot.sources.json_source import parse_json_signal_list
from bot.sources.report import HttpOutcome, PollReport
from bot.store.db import transaction
from bot.store.models import SourceState, StoredSignal, utcnow

BATCH_SIZE = 500

Reader = Callable[[Fetched, datetime], ParsedDocument]


def read_feed(fetched: Fetched, first_seen: datetime) -> ParsedDocument:
    """A fetched RSS, Atom or JSON Feed document."""
    assert fetched.body is not None
    return parse_feed(
        fetched.body,
        first_seen=first_seen,
        url=url_without_secrets(fetched.url),
        content_type=fetched.content_type,
        file=redact_url(fetched.url),
    )


def read_json_signals(fetched: Fetched, first_seen: datetime) -> ParsedDocument:
    """A fetched JSON list of signal objects."""
    assert fetched.body is not None
    return parse_json_signal_list(fetched.body, file=redact_url(fetched.url))


READERS: dict[str, Reader] = {"feed": read_feed, "json": read_json_signals}


def poll_remote(
    sessions: sessionmaker[Session], source: SourceConfig, state: SourceState, fetcher: Fetcher
) -> PollReport:
    """Fetch `source.url` (conditionally once primed) and ingest what is new or changed."""
    assert source.url is not None
    primed = state.primed
    report = PollReport(source=source.name, announced=primed or source.backfill)
    remembered = Validators(state.etag, state.last_modified) if primed else Validators()
    fetched = fetcher.fetch(source.url, remembered)
    if fetched.body is None:
        report.http = HttpOutcome(fetched.status, fetched.validators, unchanged=True)
        return report
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    unchanged = primed and body_hash == state.body_hash
    report.http = HttpOutcome(fetched.status, fetched.validators, body_hash, unchanged)
    if unchanged:
        return report
    document = READERS[source.kind](fetched, utcnow())
    report.warnings += document.warnings
    items = (_for_source(item, source) for item in document.items)
    for batch in _batches(items, BATCH_SIZE):
        with transaction(sessions) as session:
            signals = keep_first_seen_dates(session, source.name, batch)
            report.ingest += ingest(session, signals, announce=report.announced)
        report.items_seen += len(batch)
    return report


def keep_first_seen_dates(session: Session, source: str, items: list[ParsedItem]) -> list[Signal]:
    """Undated entries keep the date they were first stored with, so they never churn."""
    undated = [item.signal.key for item in items if not item.dated]
    if not undated:
        return [item.signal for item in items]
    query = select(StoredSignal.key, StoredSignal.published).where(
        StoredSignal.source == source, StoredSignal.key.in_(undated)
    )
    first_seen = {key: published for key, published in session.execute(query)}
    return [
        replace(item.signal, published=first_seen.get(item.signal.key, item.signal.published))
        if not item.dated
        else item.signal
        for item in items
    ]


def _for_source(item: ParsedItem, source: SourceConfig) -> ParsedItem:
    signal = item.signal.with_defaults(source.defaults).keyed(source.name)
    return ParsedItem(signal, item.dated)


def _batches(items: Iterable[ParsedItem], size: int) -> Iterator[list[ParsedItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
