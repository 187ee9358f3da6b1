"""SQLAlchemy mappings. Alembic (migrations/) owns the schema; these describe it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.signal import Section, Signal


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_user_id(target: str) -> bool:
    """Slack user IDs start with U (or W on Enterprise Grid); conversations with C, G or D."""
    return target[:1] in ("U", "W")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


# The columns a Signal is made of again (its sections stored as [heading, body] pairs).
SIGNAL_COLUMNS = (
    "title", "published", "key", "source", "entity", "category", "topic", "summary", "sections",
    "url",
)  # fmt: skip


def signal_of_columns(values: Mapping[str, Any]) -> Signal:
    """The Signal a stored row holds, from its SIGNAL_COLUMNS (other values are ignored)."""
    fields = {name: values[name] for name in SIGNAL_COLUMNS}
    fields["sections"] = tuple(Section(heading, body) for heading, body in values["sections"])
    return Signal(**fields)


class StoredSignal(Base):
    """A signal as stored: the latest revision of one (source, key)."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("source", "key", name="uq_signals_source_key"),
        Index("ix_signals_published", "published"),
        # FILTER fields, newest first within each value (`latest entity:Meta`).
        Index("ix_signals_topic_published", "topic_slug", "published"),
        Index("ix_signals_entity_published", "entity_slug", "published"),
        Index("ix_signals_category_published", "category_slug", "published"),
        Index("ix_signals_source_published", "source_slug", "published"),
        # Ranked search reads matches newest day first (bot.search.backends.postgres).
        Index("ix_signals_day_seq", "published_day", "seq"),
    )

    # An integer rowid keeps SQLite's FTS5 index (keyed by rowid) stable across VACUUM.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(16), unique=True)
    source: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    published: Mapped[datetime]
    entity: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str] = mapped_column(Text, default="")
    entity_slug: Mapped[str] = mapped_column(String(200), default="")
    category_slug: Mapped[str] = mapped_column(String(200), default="")
    topic_slug: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    sections: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # The sections flattened (kept for older readers; search uses the columns below).
    body_text: Mapped[str] = mapped_column(Text, default="")
    # Derived for search and filters by bot.search.document.search_columns.
    source_slug: Mapped[str] = mapped_column(String(200), default="")
    keyword_text: Mapped[str] = mapped_column(Text, default="")
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_body: Mapped[str] = mapped_column(Text, default="")
    search_facets: Mapped[str] = mapped_column(Text, default="")
    search_impacts: Mapped[str] = mapped_column(Text, default="")
    search_pairs: Mapped[str] = mapped_column(Text, default="")
    published_day: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    revised_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_signal(self) -> Signal:
        return signal_of_columns({name: getattr(self, name) for name in SIGNAL_COLUMNS})


class Subscription(Base):
    """A channel's standing order for briefs matching one FILTER."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel_id", "filter", name="uq_subscriptions_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(64))
    channel_name: Mapped[str] = mapped_column(String(200), default="")
    filter: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Options (bot.alerts.options): None = post at once; else a schedule like `daily@08:00`.
    digest: Mapped[str | None] = mapped_column(String(40))
    tz: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16), default="full")
    # When the next digest is due (UTC); set only for digest subscriptions.
    next_digest_at: Mapped[datetime | None]

    @property
    def state(self) -> str:
        return "paused" if self.paused_reason else "active"

    @property
    def personal(self) -> bool:
        """A person's own subscription: `channel_id` holds their user ID, delivered by DM."""
        return is_user_id(self.channel_id)


class SubscriptionChange(Base):
    """One change to a subscription or mute: the history `/signals history` and audits show."""

    __tablename__ = "subscription_changes"
    __table_args__ = (Index("ix_subscription_changes_channel", "channel_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(64))
    # A Slack user ID, or who acted outside Slack: `cli`, `import`, `signal-bot`.
    actor: Mapped[str] = mapped_column(String(64))
    # subscribed | unsubscribed | edited | paused | resumed | muted | unmuted
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(16), default="subscription")  # or "mute"
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # The subscription as a person would type it (FILTER and options), before and after.
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """The outbox: one row per (signal, channel), written with the signal in one transaction."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("signal_id", "channel_id", name="uq_deliveries_signal_channel"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_channel", "channel_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    # The workspace it goes to, from the subscription: its token and rate are used ("" = the
    # single bot token's workspace).
    team_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    # pending | edit -> sending | editing -> sent | failed | paused (bot/store/outbox.py);
    # muted (a mute held it back) and digest -> digested (listed in a digest) are never posted.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # 429s are counted apart from failures: Slack said when to come back, but not forever.
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    # The worker that claimed the row: if it is no longer alive, the claim is reconciled.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_revision: Mapped[int] = mapped_column(Integer, default=0)
    # A digest per field of what was posted, so a revision note can say what changed.
    posted_fields: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # full | compact (bot.render.BRIEF_FORMATS): how the brief is split into post and replies.
    format: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    # The ts of each posted part, the post first: each part is posted once, and revised in place.
    part_ts: Mapped[list[str] | None] = mapped_column(JSON)
    # Why Slack refused the rendering, when a short fallback was sent instead.
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"))

    signal: Mapped[StoredSignal] = relationship(lazy="joined")


class SourceState(Base):
    """What a source remembers across restarts, and its health."""

    __tablename__ = "source_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    primed: Mapped[bool] = mapped_column(default=False)
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    # Backoff pushes this past the next scheduler tick; polls before it are skipped.
    next_poll_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    # A problem that did not stop the poll (a malformed feed recovered, items skipped).
    last_warning: Mapped[str | None] = mapped_column(Text)
    # sha256 of the last body ingested: an unchanged body is not parsed again.
    body_hash: Mapped[str | None] = mapped_column(String(64))


class SourceFile(Base):
    """A file a folder source has read: unchanged files are not parsed again."""

    __tablename__ = "source_files"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
