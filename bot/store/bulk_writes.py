"""How the store is set while an archive is imported (`signal-bot ingest`): SQLite only.

FTS5 holds the terms of the rows being inserted in memory and writes them out as a new index
segment whenever they pass its `hashsize` (1 MB by default), so one 2,000-brief transaction
made a dozen small segments, each merged again later. With PENDING_TERMS_BYTES a transaction
makes one segment: about a third less work per brief stored (benchmarks/bench_ingest.py).

FTS5 then merges segments as they come: four of a level into one of the next (`automerge`),
so over an import of N batches every term was rewritten about log4(N) times, most of them
word pairs found in one brief only, and the cost per brief grew with the archive.
During an import it is off (`automerge` 0, and `crisismerge` raised so that FTS5 does not
merge on its own below IMPORT_SEGMENTS segments), and on the way out the import's segments are
merged at once, in steps of MERGE_PAGES (a transaction each, so the write-ahead log stays
small): each term is rewritten about once (the storing process's CPU per brief at 100,000
briefs: 586 µs before, 486 µs after). Searches during the import read more segments; after it,
the index is as automerge would have left it. An interrupted import merges what it committed on
the way out too.

The settings live in the index's config table; on the way out they are set to FTS5's defaults,
which the app never changes otherwise. An import killed midway leaves its settings behind, and
with automerge off every later write would add a segment for searches to read: the next start
of any signal-bot process puts the defaults back (`put_back_fts5_defaults`, from
bot.store.db.upgrade), and FTS5 merges as writes come from then on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, sessionmaker

PENDING_TERMS_BYTES = 64 << 20  # several times what a batch of bot.bulk_ingest adds
# Segments FTS5 lets build up on a level before it merges them itself during an import: 256
# batches are 512,000 briefs, so a million are rewritten about once (two merges of 256, one of
# the rest at the end). Not more: a search meanwhile reads every segment, and FTS5 allows
# 2,000 in all (FTS5_MAX_SEGMENT).
IMPORT_SEGMENTS = 256
MERGE_PAGES = 4096  # pages written per merge step (FTS5 pages are 4,000 bytes)
FTS5_DEFAULTS = {"hashsize": 1 << 20, "automerge": 4, "crisismerge": 16}
FTS5_DEFAULT_HASHSIZE = FTS5_DEFAULTS["hashsize"]
DURING_IMPORT = {"hashsize": PENDING_TERMS_BYTES, "automerge": 0, "crisismerge": IMPORT_SEGMENTS}
_SET = text("INSERT INTO signals_fts(signals_fts, rank) VALUES (:name, :value)")
_MERGE = text("INSERT INTO signals_fts(signals_fts, rank) VALUES ('merge', :pages)")
_CHANGES = text("SELECT total_changes()")
_AUTOMERGE = text("SELECT v FROM signals_fts_config WHERE k = 'automerge'")


@contextmanager
def bulk_writes(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Writes inside are many briefs per transaction; settings are put back on the way out,
    and the index's new segments merged."""
    with sessions.begin() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            _configure(session, DURING_IMPORT)
    if not sqlite:
        yield
        return
    try:
        yield
    finally:
        with sessions.begin() as session:
            _configure(session, FTS5_DEFAULTS)
        merge_segments(sessions)


def merge_segments(sessions: sessionmaker[Session]) -> None:
    """Merge the index's segments as `automerge` would (any level holding four or more), until
    there is nothing left to merge: FTS5 then changes fewer than two rows (its documentation)."""
    while True:
        with sessions.begin() as session:
            before = session.scalar(_CHANGES) or 0
            session.execute(_MERGE, {"pages": MERGE_PAGES})
            if (session.scalar(_CHANGES) or 0) - before < 2:
                return


def put_back_fts5_defaults(connection: Connection) -> None:
    """FTS5's defaults again if an import was killed before it put them back (only an import
    turns automerge off). SQLite only."""
    if connection.scalar(_AUTOMERGE) == 0:
        for name, value in FTS5_DEFAULTS.items():
            connection.execute(_SET, {"name": name, "value": value})


def _configure(session: Session, settings: dict[str, int]) -> None:
    for name, value in settings.items():
        session.execute(_SET, {"name": name, "value": value})
