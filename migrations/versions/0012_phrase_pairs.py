"""Phrases by word pairs: each two tokens in a row of a brief's body become one index token.

`search_pairs` holds them (`__model_of`, bot.search.document), so a phrase is one token lookup
(two words) or its pairs in a row (more), not a position check over every brief holding all of
its words. `search_impacts` is written word first (`model_7`, was `i7model`), so SQLite's prefix
indexes find a prefix's words in it; the body's words then leave SQLite's FTS5 table, which
indexes the title (positions for title phrases), facets, levels and pairs, and no column sizes
(nothing reads them). PostgreSQL gains a GIN index over the pairs, and reads the levels (with
the facet tokens, as 0011) and the pairs as lexemes as they are (`array_to_tsvector`), since its
parser would split `model_7` in two; the level index of 0011 is built again over them.
Existing rows are filled in here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.search.backends.level_index import create_level_index, drop_level_index
from bot.search.document import impacts, pairs

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FTS_COLUMNS = ("search_title", "search_facets", "search_impacts", "search_pairs")
FTS_OPTIONS = "tokenize=\"ascii tokenchars '_'\", prefix='2 3', columnsize=0"
OLD_FTS_COLUMNS = ("search_title", "search_body", "search_facets", "search_impacts")
OLD_FTS_OPTIONS = "tokenize='ascii', prefix='2 3'"
ROWID = "({row}.published_day * 4294967296 + {row}.seq)"
BACKFILL_BATCH = 2000
# Lexemes as they are, without positions; `array_remove` drops the empty string of an empty list.
LEXEMES = "array_to_tsvector(array_remove(string_to_array({text}, ' '), ''))"
LEVELS_AND_FACETS = "search_impacts || ' ' || search_facets"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(
        "signals", sa.Column("search_pairs", sa.Text(), nullable=False, server_default="")
    )
    # Indexes go before the backfill, which would otherwise update them row by row.
    if dialect == "sqlite":
        _drop_fts5()
    elif dialect == "postgresql":
        _drop_postgres_impacts()
    _backfill(_new_columns)
    if dialect == "sqlite":
        create_fts5(FTS_COLUMNS, FTS_OPTIONS)
    elif dialect == "postgresql":
        _add_postgres_vector("search_impacts_vector", LEXEMES.format(text=LEVELS_AND_FACETS))
        create_level_index(op.get_bind())
        _add_postgres_vector("search_pairs_vector", LEXEMES.format(text="search_pairs"))
        op.execute(
            "CREATE INDEX ix_signals_search_pairs ON signals USING GIN (search_pairs_vector)"
        )
        op.execute("ANALYZE signals")


def _new_columns(title: str, body: str) -> dict[str, str]:
    return {"search_impacts": impacts(title, body), "search_pairs": pairs(body)}


def _drop_fts5() -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS signals_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS signals_fts")


def _drop_postgres_impacts() -> None:
    drop_level_index(op.get_bind())
    op.execute("ALTER TABLE signals DROP COLUMN IF EXISTS search_impacts_vector")


def _add_postgres_vector(column: str, expression: str) -> None:
    op.execute(
        f"ALTER TABLE signals ADD COLUMN {column} tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    # As migration 0007: enough statistics to tell a rare token from a common one.
    op.execute(f"ALTER TABLE signals ALTER COLUMN {column} SET STATISTICS 1000")


def create_fts5(columns: Sequence[str], options: str) -> None:
    """The contentless FTS5 table over `columns`, its triggers, and every brief indexed."""
    listed = ", ".join(columns)
    op.execute(f"CREATE VIRTUAL TABLE signals_fts USING fts5({listed}, content='', {options})")
    new_values = ", ".join(f"new.{column}" for column in columns)
    old_values = ", ".join(f"old.{column}" for column in columns)
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


# --- filling the columns of existing rows -------------------------------------------------------

_SIGNALS = sa.table(
    "signals",
    *(sa.column(name) for name in ("seq", "search_title", "search_body")),
    *(sa.column(name) for name in ("search_impacts", "search_pairs")),
)


def _backfill(columns_of: Callable[[str, str], dict[str, str]]) -> None:
    """Set the columns `columns_of(search_title, search_body)` gives for every row: levels and
    pairs derive from the index text alone (bot.search.document), not from the Signal."""
    connection = op.get_bind()
    names = list(columns_of("", ""))
    statement = (
        sa.update(_SIGNALS)
        .where(_SIGNALS.c.seq == sa.bindparam("row_seq"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )
    for batch in _batches(connection):
        updates = []
        for row in batch:
            values = columns_of(row.search_title, row.search_body)
            updates.append({"row_seq": row.seq, **{f"new_{n}": values[n] for n in names}})
        connection.execute(statement, updates)


def _batches(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any]]]:
    last_seq = 0
    while True:
        rows = connection.execute(
            sa.select(_SIGNALS.c.seq, _SIGNALS.c.search_title, _SIGNALS.c.search_body)
            .where(_SIGNALS.c.seq > last_seq)
            .order_by(_SIGNALS.c.seq)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last_seq = rows[-1].seq


# --- back to 0011 -------------------------------------------------------------------------------


def _old_impacts(title: str, body: str) -> dict[str, str]:
    """Migration 0007's form, `i7model`."""
    levels = (token.rpartition("_") for token in impacts(title, body).split())
    return {"search_impacts": " ".join(f"i{level}{word}" for word, _, level in levels)}


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _drop_fts5()
    elif dialect == "postgresql":
        _drop_postgres_impacts()
        op.execute("DROP INDEX IF EXISTS ix_signals_search_pairs")
        op.execute("ALTER TABLE signals DROP COLUMN IF EXISTS search_pairs_vector")
    # Not batch mode: rebuilding `signals` on SQLite would cascade-delete its deliveries.
    op.drop_column("signals", "search_pairs")
    _backfill(_old_impacts)
    if dialect == "sqlite":
        create_fts5(OLD_FTS_COLUMNS, OLD_FTS_OPTIONS)
    elif dialect == "postgresql":
        _add_postgres_vector(
            "search_impacts_vector",
            f"strip(to_tsvector('simple'::regconfig, {LEVELS_AND_FACETS}))",
        )
        create_level_index(op.get_bind())
