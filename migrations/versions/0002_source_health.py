"""Source health and HTTP memory: kind, next poll, failing streak, last status, warning, body hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
NEW_COLUMNS = (
    ("kind", sa.String(16)),
    ("next_poll_at", UTC_DATETIME),
    ("failing_since", UTC_DATETIME),
    ("last_status", sa.Integer()),
    ("last_warning", sa.Text()),
    ("body_hash", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        for name, column_type in NEW_COLUMNS:
            batch.add_column(sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
