"""PostgreSQL search reads each class of briefs newest first from one index (bot.search.backends.
postgres): FILTER values join the level vector as facet tokens, a `search_order` key
(`published_day << 32 | seq`, SQLite's FTS5 rowid) orders briefs, and the level vector is
indexed by GIN and, where the `rum` extension can be created, by RUM with that key attached (an
ordered index scan): bot.search.backends.level_index. Nothing changes on SQLite.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-27
"""

from alembic import op

from bot.search.backends.level_index import create_level_index, drop_level_index

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

ORDER_KEY = "published_day::bigint * 4294967296 + seq"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_signals_search_impacts")
    # One ALTER TABLE, so the table is rewritten once.
    op.execute(
        "ALTER TABLE signals DROP COLUMN search_impacts_vector, "
        "ADD COLUMN search_impacts_vector tsvector GENERATED ALWAYS AS ("
        "strip(to_tsvector('simple'::regconfig, search_impacts || ' ' || search_facets))) STORED, "
        f"ADD COLUMN search_order bigint GENERATED ALWAYS AS ({ORDER_KEY}) STORED"
    )
    op.execute("ALTER TABLE signals ALTER COLUMN search_impacts_vector SET STATISTICS 1000")
    create_level_index(op.get_bind())
    # The planner's word statistics of the new vector: without them it guesses every word alike.
    op.execute("ANALYZE signals")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    drop_level_index(op.get_bind())
    op.execute(
        "ALTER TABLE signals DROP COLUMN search_order, DROP COLUMN search_impacts_vector, "
        "ADD COLUMN search_impacts_vector tsvector GENERATED ALWAYS AS ("
        "strip(to_tsvector('simple'::regconfig, search_impacts))) STORED"
    )
    op.execute(
        "CREATE INDEX ix_signals_search_impacts ON signals USING GIN (search_impacts_vector)"
    )
    op.execute("ALTER TABLE signals ALTER COLUMN search_impacts_vector SET STATISTICS 1000")
