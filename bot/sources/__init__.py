"""Signal sources: each kind turns something outside into Signals and ingests them."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from bot.config import SourceConfig
from bot.sources.folder import PollReport, poll_folder
from bot.store import source_state as state_store
from bot.store.db import transaction

log = logging.getLogger(__name__)


def poll_source(sessions: sessionmaker[Session], source: SourceConfig) -> PollReport:
    """Poll one source and record its health; a failure is recorded, never raised."""
    try:
        report = _poll(sessions, source)
    except Exception as error:  # a poll must never take the scheduler down
        log.warning("source %s: poll failed: %s", source.name, error)
        with transaction(sessions) as session:
            state_store.record_failure(state_store.source_state(session, source.name), str(error))
        return PollReport(source=source.name, errors=[str(error)])
    with transaction(sessions) as session:
        state = state_store.source_state(session, source.name)
        state_store.record_success(state, seen=report.files_read, new=len(report.ingest.new))
    if report.ingest.stored:
        log.info(
            "source %s: %d new, %d revised, %d deliveries queued",
            source.name,
            len(report.ingest.new),
            len(report.ingest.revised),
            report.ingest.queued,
        )
    return report


def _poll(sessions: sessionmaker[Session], source: SourceConfig) -> PollReport:
    if source.kind == "folder":
        return poll_folder(sessions, source)
    raise NotImplementedError(f"source kind {source.kind!r} is not supported yet")
