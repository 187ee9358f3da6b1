"""How the store is set while an archive is imported (`signal-bot ingest`): SQLite only.

FTS5 holds the terms of the rows being inserted in memory and writes them out as a new index
segment whenever they pass its `hashsize` (1 MB by default), so one 2,000-brief transaction
made a dozen small segments, each merged again later. With PENDING_TERMS_BYTES a transaction
makes one segment: about a third less work per brief stored (benchmarks/bench_ingest.py).
`hashsize` lives in the index's config table, so it is put back afterwards; an import killed
midway leaves it larger, which costs writers only memory, bounded by what one transaction adds.
The index's shape (columns, prefixes, merging) is left as the migrations made it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import transaction

PENDING_TERMS_BYTES = 64 << 20  # several times what a batch of bot.bulk_ingest adds
FTS5_DEFAULT_HASHSIZE = 1 << 20
_SET_HASHSIZE = text("INSERT INTO signals_fts(signals_fts, rank) VALUES ('hashsize', :size)")
_HASHSIZE = text("SELECT v FROM signals_fts_config WHERE k = 'hashsize'")


@contextmanager
def bulk_writes(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Writes inside are many briefs per transaction; settings are put back on the way out."""
    with transaction(sessions) as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            before = session.scalar(_HASHSIZE) or FTS5_DEFAULT_HASHSIZE
            session.execute(_SET_HASHSIZE, {"size": PENDING_TERMS_BYTES})
    if not sqlite:
        yield
        return
    try:
        yield
    finally:
        with transaction(sessions) as session:
            session.execute(_SET_HASHSIZE, {"size": before})
