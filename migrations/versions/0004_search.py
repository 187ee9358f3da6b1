"""Search at scale: one tokenization for SQLite and PostgreSQL, facets, keyword text, shares.

The index no longer reads the brief's own text: `search_title`, `search_body` and `search_facets`
hold tokens made by bot.search.tokens (see bot.search.document), which SQLite's FTS5 (`ascii`
tokenizer, prefix indexes for 2 and 3 characters) and PostgreSQL (`simple` configuration, one
GIN index for the whole brief, one for its title) index as they are. Existing rows are filled in
here. FILTER indexes become (field, published).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.search.document import search_columns
from bot.search.tokens import MAX_TOKEN_LENGTH
from bot.signal import Section, Signal

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
SEARCH_COLUMNS = ("search_title", "search_body", "search_facets")
NEW_COLUMNS = (
    ("source_slug", sa.String(200)),
    ("keyword_text", sa.Text()),
    *((name, sa.Text()) for name in SEARCH_COLUMNS),
)
FACET_INDEXES = {
    "ix_signals_topic_published": ["topic_slug", "published"],
    "ix_signals_entity_published": ["entity_slug", "published"],
    "ix_signals_category_published": ["category_slug", "published"],
    "ix_signals_source_published": ["source_slug", "published"],
}
OLD_INDEXES = {"ix_signals_topic_slug": ["topic_slug"], "ix_signals_entity_slug": ["entity_slug"]}
OLD_FTS_COLUMNS = ("title", "summary", "body_text", "entity", "category", "topic")
# A token longer than any the tokenizer makes: it spaces title from body, then is deleted.
GAP = "g" * (MAX_TOKEN_LENGTH + 1)
BACKFILL_BATCH = 2000


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_old_full_text(dialect)
    for name, column_type in NEW_COLUMNS:
        op.add_column("signals", sa.Column(name, column_type, nullable=False, server_default=""))
    _backfill()
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="signals")
    for name, columns in FACET_INDEXES.items():
        op.create_index(name, "signals", columns)
    if dialect == "sqlite":
        _create_fts5(SEARCH_COLUMNS, "tokenize='ascii', prefix='2 3'")
    elif dialect == "postgresql":
        _create_postgres_vector()
    _create_shared_briefs()


def _drop_old_full_text(dialect: str) -> None:
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS signals_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS signals_fts")
    elif dialect == "postgresql":
        for index in ("ix_signals_search", "ix_signals_search_title"):
            op.execute(f"DROP INDEX IF EXISTS {index}")
        for column in ("search_vector", "search_title_vector"):
            op.execute(f"ALTER TABLE signals DROP COLUMN IF EXISTS {column}")


def _create_fts5(columns: Sequence[str], options: str) -> None:
    # External content over `signals`, kept in step by triggers in the same transaction.
    listed = ", ".join(columns)
    op.execute(
        f"CREATE VIRTUAL TABLE signals_fts USING fts5({listed}, content='signals', "
        f"content_rowid='seq', {options})"
    )
    new_values = ", ".join(f"new.{column}" for column in columns)
    old_values = ", ".join(f"old.{column}" for column in columns)
    insert_new = f"INSERT INTO signals_fts(rowid, {listed}) VALUES (new.seq, {new_values});"
    delete_old = (
        f"INSERT INTO signals_fts(signals_fts, rowid, {listed}) "
        f"VALUES ('delete', old.seq, {old_values});"
    )
    op.execute(f"CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN {insert_new} END")
    op.execute(f"CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN {delete_old} END")
    # Only a change to indexed text touches the index (not revised_at and the like).
    op.execute(
        f"CREATE TRIGGER signals_fts_update AFTER UPDATE OF {listed} ON signals "
        f"BEGIN {delete_old} {insert_new} END"
    )
    op.execute("INSERT INTO signals_fts(signals_fts) VALUES ('rebuild')")


def _create_postgres_vector() -> None:
    op.execute(
        f"""
        ALTER TABLE signals ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
            ts_delete(
                to_tsvector('simple'::regconfig, search_title || ' {GAP}')
                || to_tsvector('simple'::regconfig, search_body),
                '{GAP}'::text
            )
        ) STORED
        """
    )
    # The title on its own, so that a title search reads only the postings of titles.
    op.execute(
        "ALTER TABLE signals ADD COLUMN search_title_vector tsvector GENERATED ALWAYS AS ("
        "to_tsvector('simple'::regconfig, search_title)) STORED"
    )
    for column, index in (
        ("search_vector", "ix_signals_search"),
        ("search_title_vector", "ix_signals_search_title"),
    ):
        op.execute(f"CREATE INDEX {index} ON signals USING GIN ({column})")
        # Enough lexeme statistics for the planner to tell a rare word from a common one.
        op.execute(f"ALTER TABLE signals ALTER COLUMN {column} SET STATISTICS 10000")


def _create_shared_briefs() -> None:
    op.create_table(
        "shared_briefs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "signal_id",
            sa.String(16),
            sa.ForeignKey("signals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("shared_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.UniqueConstraint("signal_id", "channel_id", name="uq_shared_briefs_signal_channel"),
    )


# --- filling the new columns of existing rows ---------------------------------------------------

_SIGNALS = sa.table(
    "signals",
    *(sa.column(name) for name in ("seq", "source", "key", "title", "entity", "category")),
    *(sa.column(name) for name in ("topic", "summary", "url")),
    sa.column("published", UTC_DATETIME),
    sa.column("sections", sa.JSON()),
    *(sa.column(name) for name, _ in NEW_COLUMNS),
)


def _backfill() -> None:
    connection = op.get_bind()
    for batch in _batches(connection):
        updates = [
            {"row_seq": row.seq, **_prefixed(search_columns(_signal_of(row)))} for row in batch
        ]
        statement = (
            sa.update(_SIGNALS)
            .where(_SIGNALS.c.seq == sa.bindparam("row_seq"))
            .values({name: sa.bindparam(f"new_{name}") for name, _ in NEW_COLUMNS})
        )
        connection.execute(statement, updates)


def _prefixed(values: dict[str, object]) -> dict[str, object]:
    # Only the columns this revision adds: search_columns grew more in later ones.
    added = {name for name, _ in NEW_COLUMNS}
    return {f"new_{name}": value for name, value in values.items() if name in added}


def _batches(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any]]]:
    last_seq = 0
    while True:
        rows = connection.execute(
            sa.select(_SIGNALS)
            .where(_SIGNALS.c.seq > last_seq)
            .order_by(_SIGNALS.c.seq)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last_seq = rows[-1].seq


def _signal_of(row: sa.Row[Any]) -> Signal:
    sections = json.loads(row.sections) if isinstance(row.sections, str) else row.sections
    published = row.published
    published = published.replace(tzinfo=UTC) if published.tzinfo is None else published
    return Signal(
        title=row.title,
        published=published,
        key=row.key,
        source=row.source,
        entity=row.entity,
        category=row.category,
        topic=row.topic,
        summary=row.summary,
        sections=tuple(Section(heading, body) for heading, body in sections or []),
        url=row.url,
    )


# --- back to 0003 -------------------------------------------------------------------------------


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("shared_briefs")
    _drop_old_full_text(dialect)
    for name in FACET_INDEXES:
        op.drop_index(name, table_name="signals")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "signals", columns)
    for name, _ in NEW_COLUMNS:
        # Not batch mode: rebuilding `signals` on SQLite would cascade-delete its deliveries.
        op.drop_column("signals", name)
    if dialect == "sqlite":
        _create_fts5(OLD_FTS_COLUMNS, "tokenize='unicode61 remove_diacritics 2'")
    elif dialect == "postgresql":
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
