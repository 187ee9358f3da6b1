"""Exact ranked search: word levels in the index, and the index ordered by day.

`search_impacts` holds every word of a brief with its level (bot.search.document) and
`published_day` the brief's day. SQLite's FTS5 table becomes contentless, with a rowid of
`published_day << 32 | seq`, so posting lists run newest day first; PostgreSQL gains a GIN index
over the levels and a (published_day, seq) index. Facets no longer carry day tokens (a date range
is a rowid range now). Existing rows are filled in here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.search.document import search_columns
from bot.signal import Section, Signal

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
FTS_COLUMNS = ("search_title", "search_body", "search_facets", "search_impacts")
OLD_FTS_COLUMNS = ("search_title", "search_body", "search_facets")
REFILLED = ("search_facets", "search_impacts", "published_day")
BACKFILL_BATCH = 2000
ROWID = "({row}.published_day * 4294967296 + {row}.seq)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(
        "signals", sa.Column("search_impacts", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "signals", sa.Column("published_day", sa.Integer(), nullable=False, server_default="0")
    )
    _backfill()
    op.create_index("ix_signals_day_seq", "signals", ["published_day", "seq"])
    if dialect == "sqlite":
        _drop_fts5()
        _create_contentless_fts5()
    elif dialect == "postgresql":
        # Without positions (strip): small enough to test row by row in an ordered index scan.
        op.execute(
            "ALTER TABLE signals ADD COLUMN search_impacts_vector tsvector GENERATED ALWAYS AS ("
            "strip(to_tsvector('simple'::regconfig, search_impacts))) STORED"
        )
        op.execute(
            "CREATE INDEX ix_signals_search_impacts ON signals USING GIN (search_impacts_vector)"
        )
        # 10,000 statistics entries (0004) cost up to 12 ms of planning per statement, and
        # ranked search plans many small ones: 1,000 still tell rare words from common ones.
        for column in ("search_vector", "search_title_vector", "search_impacts_vector"):
            op.execute(f"ALTER TABLE signals ALTER COLUMN {column} SET STATISTICS 1000")


def _drop_fts5() -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS signals_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS signals_fts")


def _create_contentless_fts5() -> None:
    # Contentless: the text lives in `signals`; the triggers pass the old values to delete.
    listed = ", ".join(FTS_COLUMNS)
    op.execute(
        f"CREATE VIRTUAL TABLE signals_fts USING fts5({listed}, content='', "
        "tokenize='ascii', prefix='2 3')"
    )
    new_values = ", ".join(f"new.{column}" for column in FTS_COLUMNS)
    old_values = ", ".join(f"old.{column}" for column in FTS_COLUMNS)
    insert_new = (
        f"INSERT INTO signals_fts(rowid, {listed}) "
        f"VALUES ({ROWID.format(row='new')}, {new_values});"
    )
    delete_old = (
        f"INSERT INTO signals_fts(signals_fts, rowid, {listed}) "
        f"VALUES ('delete', {ROWID.format(row='old')}, {old_values});"
    )
    op.execute(f"CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN {insert_new} END")
    op.execute(f"CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN {delete_old} END")
    op.execute(
        f"CREATE TRIGGER signals_fts_update AFTER UPDATE OF {listed}, published_day ON signals "
        f"BEGIN {delete_old} {insert_new} END"
    )
    op.execute(
        f"INSERT INTO signals_fts(rowid, {listed}) "
        f"SELECT {ROWID.format(row='signals')}, {listed} FROM signals"
    )


# --- filling the new columns of existing rows ---------------------------------------------------

_SIGNALS = sa.table(
    "signals",
    *(sa.column(name) for name in ("seq", "source", "key", "title", "entity", "category")),
    *(sa.column(name) for name in ("topic", "summary", "url", *REFILLED)),
    sa.column("published", UTC_DATETIME),
    sa.column("sections", sa.JSON()),
)


def _backfill() -> None:
    connection = op.get_bind()
    statement = (
        sa.update(_SIGNALS)
        .where(_SIGNALS.c.seq == sa.bindparam("row_seq"))
        .values({name: sa.bindparam(f"new_{name}") for name in REFILLED})
    )
    for batch in _batches(connection):
        updates = []
        for row in batch:
            columns = search_columns(_signal_of(row))
            updates.append({"row_seq": row.seq, **{f"new_{n}": columns[n] for n in REFILLED}})
        connection.execute(statement, updates)


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


# --- back to 0004 -------------------------------------------------------------------------------


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _drop_fts5()
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_signals_search_impacts")
        op.execute("ALTER TABLE signals DROP COLUMN IF EXISTS search_impacts_vector")
    op.drop_index("ix_signals_day_seq", table_name="signals")
    # Not batch mode: rebuilding `signals` on SQLite would cascade-delete its deliveries.
    op.drop_column("signals", "published_day")
    op.drop_column("signals", "search_impacts")
    if dialect == "sqlite":
        _create_external_fts5()


def _create_external_fts5() -> None:
    """Migration 0004's FTS5 table (day facets, which 0004 stored, are not restored)."""
    listed = ", ".join(OLD_FTS_COLUMNS)
    op.execute(
        f"CREATE VIRTUAL TABLE signals_fts USING fts5({listed}, content='signals', "
        "content_rowid='seq', tokenize='ascii', prefix='2 3')"
    )
    new_values = ", ".join(f"new.{column}" for column in OLD_FTS_COLUMNS)
    old_values = ", ".join(f"old.{column}" for column in OLD_FTS_COLUMNS)
    insert_new = f"INSERT INTO signals_fts(rowid, {listed}) VALUES (new.seq, {new_values});"
    delete_old = (
        f"INSERT INTO signals_fts(signals_fts, rowid, {listed}) "
        f"VALUES ('delete', old.seq, {old_values});"
    )
    op.execute(f"CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN {insert_new} END")
    op.execute(f"CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN {delete_old} END")
    op.execute(
        f"CREATE TRIGGER signals_fts_update AFTER UPDATE OF {listed} ON signals "
        f"BEGIN {delete_old} {insert_new} END"
    )
    op.execute("INSERT INTO signals_fts(signals_fts) VALUES ('rebuild')")
