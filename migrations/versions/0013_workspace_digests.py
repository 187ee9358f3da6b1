"""Digests go out per workspace: each digest row knows its team, like deliveries (0009).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite this is a plain ADD COLUMN: a table copy would drop `digests`, and with foreign
    # keys on that would null every deliveries.digest_id pointing at it (ON DELETE SET NULL).
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("team_id", sa.String(32), nullable=False, server_default=""))
    op.execute(
        "UPDATE digests SET team_id = COALESCE((SELECT subscriptions.team_id FROM "
        "subscriptions WHERE subscriptions.id = digests.subscription_id), '')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # in place (SQLite 3.35+), for the same reason
        op.execute("ALTER TABLE digests DROP COLUMN team_id")
        return
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("team_id")
