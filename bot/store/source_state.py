"""What each source remembers across restarts: whether it is primed, its health, its files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.models import SourceFile, SourceState, utcnow


def source_state(session: Session, name: str) -> SourceState:
    """The state row of a source, created on first use."""
    state = session.get(SourceState, name)
    if state is None:
        state = SourceState(
            name=name, primed=False, items_seen=0, items_new=0, consecutive_failures=0
        )
        session.add(state)
        session.flush()
    return state


def all_source_states(session: Session) -> list[SourceState]:
    return list(session.scalars(select(SourceState).order_by(SourceState.name)))


def record_success(
    state: SourceState,
    *,
    seen: int | None,
    new: int,
    next_poll_at: datetime | None = None,
    warning: str | None = None,
) -> None:
    """A poll that worked; `seen` None keeps the last count (nothing was read: 304)."""
    now = utcnow()
    state.primed = True
    state.last_poll_at = now
    state.last_success_at = now
    if seen is not None:
        state.items_seen = seen
    state.items_new = new
    state.consecutive_failures = 0
    state.failing_since = None
    state.next_poll_at = next_poll_at
    state.last_warning = warning


def record_failure(state: SourceState, error: str, *, next_poll_at: datetime | None = None) -> None:
    """A poll that failed: the error, the start of the failing streak, when to try again."""
    now = utcnow()
    state.last_poll_at = now
    state.last_error = error
    state.last_error_at = now
    state.consecutive_failures += 1
    if state.failing_since is None:
        state.failing_since = now
    state.next_poll_at = next_poll_at


def record_http(
    state: SourceState,
    *,
    status: int | None,
    etag: str | None = None,
    last_modified: str | None = None,
    body_hash: str | None = None,
) -> None:
    """What the server answered and what to ask it next time (on success only)."""
    state.last_status = status
    state.etag = etag
    state.last_modified = last_modified
    if body_hash is not None:
        state.body_hash = body_hash


def is_backing_off(state: SourceState, now: datetime) -> bool:
    """A failing source is left alone until its backoff has passed."""
    return bool(state.consecutive_failures and state.next_poll_at and now < state.next_poll_at)


def known_files(session: Session, source: str) -> dict[str, SourceFile]:
    rows = session.scalars(select(SourceFile).where(SourceFile.source == source))
    return {row.path: row for row in rows}


def remember_file(
    session: Session, source: str, path: str, *, mtime_ns: int, size: int, error: str | None
) -> None:
    session.merge(SourceFile(source=source, path=path, mtime_ns=mtime_ns, size=size, error=error))


def forget_files(session: Session, source: str, paths: list[str]) -> None:
    if paths:
        session.execute(
            delete(SourceFile).where(SourceFile.source == source, SourceFile.path.in_(paths))
        )


def file_errors(session: Session, source: str) -> list[SourceFile]:
    query = select(SourceFile).where(SourceFile.source == source, SourceFile.error.is_not(None))
    return list(session.scalars(query.order_by(SourceFile.path)))
