"""The two full-text indexes behind one interface (bot.store.search_match.FullTextIndex).

Both answer the same question the same way: which rows, newest first by `seq`, match every term
(in the title, or anywhere), have the FILTER values and dates, and pass the extra conditions.
How each gets there is in bot.store.search_sqlite and bot.store.search_postgres.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.store.search_match import FullTextIndex
from bot.store.search_postgres import PostgresIndex
from bot.store.search_sqlite import SqliteIndex


def full_text_index(session: Session) -> FullTextIndex:
    """The index of the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresIndex(session)
    return SqliteIndex(session)
