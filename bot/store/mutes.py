"""Mutes: a channel (or person) hears nothing matching a filter until a moment has passed.

A mute ends by itself: everything reads only mutes whose `until` is still ahead, and
housekeeping deletes the ones long past.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.alert_models import Mute


def add_mute(
    session: Session,
    *,
    channel_id: str,
    canonical_filter: str,
    until: datetime,
    who: str,
    team_id: str = "",
) -> Mute:
    """A new mute, or the existing one of the same filter here, extended to the later end."""
    existing = session.scalar(
        select(Mute).where(
            Mute.channel_id == channel_id, Mute.filter == canonical_filter, Mute.until > until
        )
    )
    if existing is not None:
        return existing
    mute = Mute(
        team_id=team_id, channel_id=channel_id, filter=canonical_filter, until=until, created_by=who
    )
    session.add(mute)
    session.flush()
    return mute


def active_mutes(session: Session, *, now: datetime, channel_id: str | None = None) -> list[Mute]:
    query = select(Mute).where(Mute.until > now).order_by(Mute.until, Mute.id)
    if channel_id is not None:
        query = query.where(Mute.channel_id == channel_id)
    return list(session.scalars(query))


def remove_mutes(
    session: Session, channel_id: str, mute_id: int | None, *, now: datetime
) -> list[Mute]:
    """Ends one mute of this channel (by ID) or all of them; the ones ended."""
    ended = active_mutes(session, now=now, channel_id=channel_id)
    if mute_id is not None:
        ended = [mute for mute in ended if mute.id == mute_id]
    for mute in ended:
        session.delete(mute)
    return ended


def delete_expired(session: Session, *, now: datetime) -> int:
    result = session.execute(delete(Mute).where(Mute.until <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
