"""PostgreSQL's indexes over `search_impacts_vector` (word levels and facet tokens).

GIN (`ix_signals_search_impacts`) answers the unordered questions fast: are there more than a
few matches, has some brief this word at this level. With the `rum` extension (Debian
`postgresql-15-rum`) a RUM index (`ix_signals_search_levels`) sits beside it, with
`search_order` (`published_day << 32 | seq`) attached to every posting and postings kept in that
order (`order_by_attach`), so `vector @@ query ORDER BY search_order <=| NEWEST LIMIT k` is an
ordered index scan that stops after k matches: a class of briefs comes newest first without
reading the rest of it. Without the extension (not installed, not built for the running server,
or the role may not create it) there is GIN alone, which hands out matches unordered: the same
results, found by sorting every match of the class. Migration 0011 builds what it can;
`level_index_kind` tells the app which it got; `signal-bot db search-index` builds it again.
"""

from __future__ import annotations

import logging
from typing import Literal
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

INDEX_NAME = "ix_signals_search_levels"
GIN_INDEX_NAME = "ix_signals_search_impacts"
IndexKind = Literal["rum", "gin"]

_RUM_INDEX = (
    f"CREATE INDEX {INDEX_NAME} ON signals USING rum "
    "(search_impacts_vector rum_tsvector_addon_ops, search_order) "
    "WITH (attach = 'search_order', to = 'search_impacts_vector', order_by_attach = 't')"
)
_GIN_INDEX = f"CREATE INDEX {GIN_INDEX_NAME} ON signals USING GIN (search_impacts_vector)"
_KINDS: WeakKeyDictionary[Engine, IndexKind] = WeakKeyDictionary()


def create_level_index(connection: Connection, *, use_rum: bool = True) -> IndexKind:
    """Create the GIN index, and the RUM one when `use_rum` and the extension can be created:
    `rum` when there is an ordered index, else `gin`."""
    connection.execute(text(_GIN_INDEX))
    kind: IndexKind = "rum" if use_rum and _rum_created(connection) else "gin"
    if kind == "rum":
        connection.execute(text(_RUM_INDEX))
    log.info("search: the level index is %s", kind.upper())
    return kind


def drop_level_index(connection: Connection) -> None:
    for name in (INDEX_NAME, GIN_INDEX_NAME):
        connection.execute(text(f"DROP INDEX IF EXISTS {name}"))


def level_index_kind(connection: Connection) -> IndexKind:
    """Which index the database has, remembered per engine (it changes only by migration)."""
    engine = connection.engine
    if engine not in _KINDS:
        access_method = connection.execute(
            text(
                "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                "WHERE c.relname = :name AND c.relnamespace = to_regnamespace(current_schema())"
            ),
            {"name": INDEX_NAME},
        ).scalar()
        _KINDS[engine] = "rum" if access_method == "rum" else "gin"
        if _KINDS[engine] == "gin":
            log.warning(
                "search on PostgreSQL without the rum extension: common words are slower "
                "(install postgresql-15-rum, then run `signal-bot db search-index`)"
            )
    return _KINDS[engine]


def rebuild_level_index(connection: Connection, *, use_rum: bool = True) -> IndexKind:
    """Drop and create the index again: RUM once the extension is installed, or GIN."""
    drop_level_index(connection)
    kind = create_level_index(connection, use_rum=use_rum)
    _KINDS.pop(connection.engine, None)
    return kind


def search_index_kind(connection: Connection) -> str:
    """What answers search here, as /healthz shows it: `fts5`, or PostgreSQL's `rum` or `gin`."""
    if connection.dialect.name != "postgresql":
        return "fts5"
    return level_index_kind(connection)


def _rum_created(connection: Connection) -> bool:
    available = connection.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")
    ).scalar()
    if not available:
        log.warning("search: the rum extension is not installed; the level index is GIN")
        return False
    savepoint = connection.begin_nested()
    try:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
    except DBAPIError as error:
        savepoint.rollback()
        log.warning("search: cannot create the rum extension (%s); the level index is GIN", error)
        return False
    savepoint.commit()
    return True
