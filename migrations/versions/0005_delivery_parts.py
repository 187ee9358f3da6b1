"""Deliveries in parts: a brief's post and its threaded continuations, the format, fallbacks.

`format` (full | compact) chooses how the brief is split; `part_ts` holds the ts of each posted
part (the post first), so a part is posted once across retries and crashes and a revision can
edit, add or delete replies; `fallback_reason` records why Slack refused the rendering and a
short fallback went out instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("format", sa.String(16), nullable=False, server_default="full"))
        batch.add_column(sa.Column("part_ts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("fallback_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("fallback_reason")
        batch.drop_column("part_ts")
        batch.drop_column("format")
