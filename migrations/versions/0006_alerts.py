"""Alerts people can shape: subscription options (digest, tz, format), mutes, digests.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("digest", sa.String(40), nullable=True))
        batch.add_column(sa.Column("tz", sa.String(64), nullable=True))
        batch.add_column(sa.Column("format", sa.String(16), nullable=False, server_default="full"))
        batch.add_column(sa.Column("next_digest_at", UTC_DATETIME, nullable=True))
    op.create_index("ix_subscriptions_next_digest", "subscriptions", ["next_digest_at"])
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("until", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_mutes_channel_until", "mutes", ["channel_id", "until"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("subscriptions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("period_at", UTC_DATETIME, nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("since", UTC_DATETIME, nullable=True),
        sa.Column("tz", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("signal_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rate_limited", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.UniqueConstraint("subscription_id", "period_at", "part", name="uq_digests_period"),
    )
    op.create_index("ix_digests_due", "digests", ["state", "next_attempt_at"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_digest", "digests", ["digest_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_deliveries_subscription", "deliveries", ["subscription_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscription", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_digest", type_="foreignkey")
        batch.drop_column("digest_id")
    op.drop_index("ix_digests_due", table_name="digests")
    op.drop_table("digests")
    op.drop_index("ix_mutes_channel_until", table_name="mutes")
    op.drop_table("mutes")
    op.drop_index("ix_subscriptions_next_digest", table_name="subscriptions")
    with op.batch_alter_table("subscriptions") as batch:
        for column in ("next_digest_at", "format", "tz", "digest"):
            batch.drop_column(column)
