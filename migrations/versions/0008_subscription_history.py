"""Who changed which subscription or mute, when, from what to what (`/signals history`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscription_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False, server_default="subscription"),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    )
    op.create_index("ix_subscription_changes_channel", "subscription_changes", ["channel_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_subscription_changes_channel", table_name="subscription_changes")
    op.drop_table("subscription_changes")
