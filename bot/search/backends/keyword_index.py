"""PostgreSQL's trigram index over `keyword_text`, for `keyword:` (migration 0014).

`keyword:` means "the folded keyword is a substring of the brief's keyword text" (SignalFilter),
a `LIKE '%…%'` in SQL (bot.search.conditions). With `pg_trgm` a GIN index of the text's
trigrams answers it: a bitmap of the briefs holding every trigram of the keyword, whose text is
then checked by the same LIKE, so the matches are the same; without it each brief's TOASTed text
is read and tested. `pg_trgm` ships with PostgreSQL (contrib) and is a trusted extension, so it
is there wherever the server is; where it cannot be created, search works without the index.
A keyword shorter than three characters has no trigram: the planner then tests rows as before.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

KEYWORD_INDEX_NAME = "ix_signals_keyword_trigrams"
_KEYWORD_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {KEYWORD_INDEX_NAME} ON signals "
    "USING GIN (keyword_text gin_trgm_ops)"
)


def create_keyword_index(connection: Connection) -> bool:
    """Create the trigram index when `pg_trgm` can be created: whether there is one."""
    savepoint = connection.begin_nested()
    try:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as error:
        savepoint.rollback()
        log.warning("search: cannot create the pg_trgm extension (%s); keyword: reads rows", error)
        return False
    savepoint.commit()
    connection.execute(text(_KEYWORD_INDEX))
    return True


def drop_keyword_index(connection: Connection) -> None:
    connection.execute(text(f"DROP INDEX IF EXISTS {KEYWORD_INDEX_NAME}"))
