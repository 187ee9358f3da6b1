"""What the bot knows about Slack's side, shared by every worker through the database:
each channel's send budget (a token bucket) and whether the workspace still accepts the token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.models import Base

WORKSPACE = "default"  # one bot token, one workspace; installed workspaces go by team ID


class ChannelPace(Base):
    """A channel's token bucket: `tokens` at `refilled_at`; nothing is sent before `ready_at`."""

    __tablename__ = "channel_pace"

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime]
    ready_at: Mapped[datetime]


class WorkspaceStatus(Base):
    """Set when Slack refused the token: no worker sends until a check says it works again."""

    __tablename__ = "workspace_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None]


def channel_paces(session: Session, channel_ids: set[str]) -> dict[str, ChannelPace]:
    """The stored buckets of these channels (channels never posted to have none)."""
    query = select(ChannelPace).where(ChannelPace.channel_id.in_(channel_ids))
    return {row.channel_id: row for row in session.scalars(query)}


def _name(team_id: str) -> str:
    return team_id or WORKSPACE


def stopped_reason(session: Session, team_id: str = "") -> str | None:
    """Why sending is stopped for the workspace, or None when it is not."""
    return session.scalar(
        select(WorkspaceStatus.stopped_reason).where(WorkspaceStatus.name == _name(team_id))
    )


def stopped_teams(session: Session) -> dict[str, str]:
    """Every installed workspace (by team ID) that sending is stopped for, and why."""
    query = select(WorkspaceStatus.name, WorkspaceStatus.stopped_reason).where(
        WorkspaceStatus.stopped_reason.is_not(None), WorkspaceStatus.name != WORKSPACE
    )
    return {name: reason for name, reason in session.execute(query) if reason}


def stop_workspace(session: Session, reason: str, *, now: datetime, team_id: str = "") -> None:
    row = session.get(WorkspaceStatus, _name(team_id))
    if row is None:
        row = WorkspaceStatus(name=_name(team_id))
        session.add(row)
    if row.stopped_reason is None:
        row.stopped_at = now
    row.stopped_reason = reason


def resume_workspace(session: Session, team_id: str = "") -> bool:
    """Clear the stop; True if sending was stopped."""
    row = session.get(WorkspaceStatus, _name(team_id))
    if row is None or row.stopped_reason is None:
        return False
    row.stopped_reason, row.stopped_at = None, None
    return True
