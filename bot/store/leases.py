"""Leases: a named right that one process holds until it expires, kept in the database.

Two kinds are used: `poll`, held by the one worker that polls sources and reconciles dead
claims, and `worker:<id>`, each delivering process's sign of life. Works the same on SQLite and
PostgreSQL: taking a lease is one conditional UPDATE (or an INSERT that yields on conflict).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.models import Base

PRESENCE_PREFIX = "worker:"


class Lease(Base):
    """Who holds `name`, and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


def acquire(session: Session, name: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
    """Take or renew `name` for `holder`; False while another holder's lease runs."""
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    new_lease = dict(name=name, holder=holder, expires_at=now + ttl)
    inserted = session.scalar(
        _insert_ignoring_conflict(session).values(**new_lease).returning(Lease.name)
    )
    return inserted is not None


def _insert_ignoring_conflict(session: Session) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Lease).on_conflict_do_nothing(index_elements=["name"])
    return sqlite.insert(Lease).on_conflict_do_nothing(index_elements=["name"])


def release(session: Session, name: str, holder: str) -> None:
    """Give `name` up at once (a clean shutdown), if `holder` still holds it."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def holder_of(session: Session, name: str, *, now: datetime) -> str | None:
    """Who holds `name` right now, if anyone."""
    return session.scalar(select(Lease.holder).where(Lease.name == name, Lease.expires_at >= now))


def presence_name(worker_id: str) -> str:
    return PRESENCE_PREFIX + worker_id


def live_workers(session: Session, *, now: datetime) -> set[str]:
    """The workers whose presence lease has not expired."""
    query = select(Lease.holder).where(
        Lease.name.startswith(PRESENCE_PREFIX, autoescape=True), Lease.expires_at >= now
    )
    return set(session.scalars(query))


def count_live_workers(session: Session, *, now: datetime) -> int:
    query = select(func.count()).where(
        Lease.name.startswith(PRESENCE_PREFIX, autoescape=True), Lease.expires_at >= now
    )
    return int(session.scalar(query) or 0)


def forget_expired(session: Session, *, before: datetime) -> int:
    """Drop presence leases of workers long gone."""
    result = session.execute(
        delete(Lease).where(
            Lease.name.startswith(PRESENCE_PREFIX, autoescape=True), Lease.expires_at < before
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
