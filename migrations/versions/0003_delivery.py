"""Delivery you can trust: claim owners, 429 counts, posted-field digests, channel pacing,
worker leases and the workspace's token state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("rate_limited", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("posted_fields", sa.JSON(), nullable=True))
    op.create_index("ix_deliveries_channel", "deliveries", ["channel_id", "state"])
    op.create_table(
        "channel_pace",
        sa.Column("channel_id", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", UTC_DATETIME, nullable=False),
        sa.Column("ready_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "workspace_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("stopped_reason", sa.Text(), nullable=True),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
    )


def downgrade() -> None:
    for table in ("workspace_status", "leases", "channel_pace"):
        op.drop_table(table)
    op.drop_index("ix_deliveries_channel", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("posted_fields", "claimed_by", "rate_limited"):
            batch.drop_column(column)
