"""Signal sources: each kind turns something outside into Signals and ingests them.

`poll_source` is the one entry point: it skips a source that is backing off, dispatches by
kind, and records the outcome (health, next poll, HTTP validators) in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.config import SourceConfig
from bot.errors import SignalBotError
from bot.redaction import redact
from bot.signal import valid_text
from bot.sources.backoff import backoff_delay
from bot.sources.folder import poll_folder
from bot.sources.http import Fetcher, FetchError
from bot.sources.remote import poll_remote
from bot.sources.report import PollReport
from bot.store import source_state as state_store
from bot.store.db import transaction
from bot.store.models import SourceState, utcnow

__all__ = ["PollReport", "poll_source", "shared_fetcher"]

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 1000


@cache
def shared_fetcher() -> Fetcher:
    """The process's HTTP client for sources (connection pooling across polls)."""
    return Fetcher()


def poll_source(
    sessions: sessionmaker[Session],
    source: SourceConfig,
    *,
    fetcher: Fetcher | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> PollReport:
    """Poll one source and record its health; a failure is recorded, never raised. `clock`
    decides whether the source is backing off and when it polls next."""
    with transaction(sessions) as session:
        state = state_store.source_state(session, source.name)
    if state_store.is_backing_off(state, clock()):
        return PollReport(source=source.name, skipped=True)
    try:
        report = _poll(sessions, source, state, fetcher or shared_fetcher())
    except Exception as error:  # a poll must never take the scheduler down
        return _record_failure(sessions, source, error, clock)
    _record_success(sessions, source, report, clock)
    if report.ingest.stored:
        log.info(
            "source %s: %d new, %d revised, %d deliveries queued",
            source.name,
            len(report.ingest.new),
            len(report.ingest.revised),
            report.ingest.queued,
        )
    return report


def _poll(
    sessions: sessionmaker[Session], source: SourceConfig, state: SourceState, fetcher: Fetcher
) -> PollReport:
    if source.kind == "folder":
        return poll_folder(sessions, source)
    return poll_remote(sessions, source, state, fetcher)


def _record_success(
    sessions: sessionmaker[Session],
    source: SourceConfig,
    report: PollReport,
    clock: Callable[[], datetime],
) -> None:
    warning = valid_text(redact("; ".join(report.warnings)))[:MAX_ERROR_CHARS] or None
    if warning:
        log.warning("source %s: %s", source.name, warning)
    with transaction(sessions) as session:
        state = state_store.source_state(session, source.name)
        state.kind = source.kind
        state_store.record_success(
            state,
            seen=None if report.unchanged else report.items_seen,
            new=len(report.ingest.new),
            next_poll_at=clock() + source.interval,
            warning=warning,
        )
        if report.http is not None:
            state_store.record_http(
                state,
                status=report.http.status,
                etag=report.http.validators.etag,
                last_modified=report.http.validators.last_modified,
                body_hash=report.http.body_hash,
            )


def _record_failure(
    sessions: sessionmaker[Session],
    source: SourceConfig,
    error: Exception,
    clock: Callable[[], datetime],
) -> PollReport:
    reason = _describe(error)
    metrics.source_poll_errors.labels(source.name).inc()
    with transaction(sessions) as session:
        state = state_store.source_state(session, source.name)
        state.kind = source.kind
        retry_after = error.retry_after if isinstance(error, FetchError) else None
        delay = backoff_delay(
            state.consecutive_failures + 1, source.interval, retry_after=retry_after
        )
        state_store.record_failure(state, reason, next_poll_at=clock() + delay)
        if isinstance(error, FetchError):
            state.last_status = error.status
        failures = state.consecutive_failures
    log.warning(
        "source %s: poll failed (%d in a row, next try in %ds): %s",
        source.name,
        failures,
        delay.total_seconds(),
        reason,
        exc_info=not isinstance(error, SignalBotError | OSError),  # a bug: keep the traceback
    )
    return PollReport(source=source.name, errors=[reason])


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if not isinstance(error, SignalBotError | OSError):
        text = f"{type(error).__name__}: {text}"
    return valid_text(redact(" ".join(text.split())))[:MAX_ERROR_CHARS]
