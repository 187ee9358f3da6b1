"""Initial schema: signals with a full-text index, subscriptions, the delivery outbox, sources.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
FTS_COLUMNS = "title, summary, body_text, entity, category, topic"


def upgrade() -> None:
    _create_signals()
    _create_subscriptions()
    _create_deliveries()
    _create_sources()
    if op.get_bind().dialect.name == "sqlite":
        _create_sqlite_fts()
    elif op.get_bind().dialect.name == "postgresql":
        _create_postgres_fts()


def _create_signals() -> None:
    op.create_table(
        "signals",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("id", sa.String(16), nullable=False, unique=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published", UTC_DATETIME, nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("entity_slug", sa.String(200), nullable=False),
        sa.Column("category_slug", sa.String(200), nullable=False),
        sa.Column("topic_slug", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("ingested_at", UTC_DATETIME, nullable=False),
        sa.Column("revised_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("source", "key", name="uq_signals_source_key"),
    )
    op.create_index("ix_signals_published", "signals", ["published"])
    op.create_index("ix_signals_topic_slug", "signals", ["topic_slug"])
    op.create_index("ix_signals_entity_slug", "signals", ["entity_slug"])


def _create_subscriptions() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("channel_name", sa.String(200), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("channel_id", "filter", name="uq_subscriptions_channel"),
    )


def _create_deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "signal_id",
            sa.String(16),
            sa.ForeignKey("signals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("subscriptions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("posted_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.UniqueConstraint("signal_id", "channel_id", name="uq_deliveries_signal_channel"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])


def _create_sources() -> None:
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("primed", sa.Boolean(), nullable=False),
        sa.Column("last_poll_at", UTC_DATETIME, nullable=True),
        sa.Column("last_success_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTC_DATETIME, nullable=True),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("items_new", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
    )
    op.create_table(
        "source_files",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("path", sa.Text(), primary_key=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )


def _create_sqlite_fts() -> None:
    # External-content FTS5 over `signals`, kept in step by triggers in the same transaction.
    op.execute(
        f"CREATE VIRTUAL TABLE signals_fts USING fts5({FTS_COLUMNS}, content='signals', "
        "content_rowid='seq', tokenize='unicode61 remove_diacritics 2')"
    )
    new_values = ", ".join(f"new.{c.strip()}" for c in FTS_COLUMNS.split(","))
    old_values = ", ".join(f"old.{c.strip()}" for c in FTS_COLUMNS.split(","))
    insert_new = f"INSERT INTO signals_fts(rowid, {FTS_COLUMNS}) VALUES (new.seq, {new_values});"
    delete_old = (
        f"INSERT INTO signals_fts(signals_fts, rowid, {FTS_COLUMNS}) "
        f"VALUES ('delete', old.seq, {old_values});"
    )
    op.execute(f"CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN {insert_new} END")
    op.execute(f"CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN {delete_old} END")
    op.execute(
        "CREATE TRIGGER signals_fts_update AFTER UPDATE ON signals "
        f"BEGIN {delete_old} {insert_new} END"
    )


def _create_postgres_fts() -> None:
    op.execute(
        """
        ALTER TABLE signals ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A')
            || setweight(to_tsvector('english', entity || ' ' || topic || ' ' || category), 'B')
            || setweight(to_tsvector('english', summary), 'B')
            || setweight(to_tsvector('english', body_text), 'C')
        ) STORED
        """
    )
    op.execute("CREATE INDEX ix_signals_search ON signals USING GIN (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS signals_fts")
    for table in ("deliveries", "subscriptions", "source_files", "source_state", "signals"):
        op.drop_table(table)
