"""What each source remembers across restarts: whether it is primed, its health, its files."""

from __future__ import annotations

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


def record_success(state: SourceState, *, seen: int, new: int) -> None:
    now = utcnow()
    state.primed = True
    state.last_poll_at = now
    state.last_success_at = now
    state.items_seen = seen
    state.items_new = new
    state.consecutive_failures = 0


def record_failure(state: SourceState, error: str) -> None:
    now = utcnow()
    state.last_poll_at = now
    state.last_error = error
    state.last_error_at = now
    state.consecutive_failures += 1


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
