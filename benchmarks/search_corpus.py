"""The benchmark corpus: N generated briefs stored exactly as the app stores them, cached in /tmp.

Rows come from the app's own code (`bot.store.signals._new_row`, which derives the search
columns), and the file is kept under CACHE_DIR, named after everything that shapes it, so a second
run starts at once. Storage order is shuffled against dates (chunks in a random order, rows
shuffled within each), as a backfill of old briefs would leave it: `seq` says nothing of age.
`postgres_copy` loads the same rows, same `seq`s, into a PostgreSQL database.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brief_generator import BriefGenerator
from sqlalchemy import Connection, insert

from bot.store.db import make_engine, upgrade
from bot.store.models import StoredSignal
from bot.store.signals import _new_row

CACHE_DIR = Path(os.environ.get("SIGNAL_BOT_BENCH_CACHE", "/tmp/signal-bot-bench"))
CHUNK = 5_000
FINGERPRINT_SEED = 99
STORED_AT = datetime(2026, 11, 27, tzinfo=UTC)


@dataclass(frozen=True)
class Corpus:
    """A built corpus: where it is and what it cost to build (None when it came from the cache)."""

    path: Path
    briefs: int
    load_seconds: float | None
    index_seconds: float | None


def corpus(briefs: int, seed: int, *, log: Any = print) -> Corpus:
    """The corpus of `briefs` briefs for `seed`, built unless cached."""
    path = CACHE_DIR / f"briefs-{briefs}-{seed}-{_fingerprint()}.db"
    if path.exists():
        log(f"corpus: cached at {path}")
        # Migrations added since it was built do not touch its signals (same fingerprint).
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        return Corpus(path, briefs, None, None)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{building}")
    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as connection:
        triggers = _drop_triggers(connection)
    for done, rows in enumerate(_generated_rows(briefs, seed), start=1):
        with engine.begin() as connection:
            connection.execute(insert(StoredSignal.__table__), rows)
        if done % 20 == 0:
            log(f"corpus: {min(done * CHUNK, briefs):,} of {briefs:,} briefs stored")
    with engine.begin() as connection:
        for sql in triggers:
            connection.exec_driver_sql(sql)
    load_seconds = time.perf_counter() - started
    engine.dispose()
    log("corpus: building the full-text index")
    index_seconds = rebuild_index(building)
    building.rename(path)
    return Corpus(path, briefs, load_seconds, index_seconds)


def _drop_triggers(connection: Connection) -> list[str]:
    """Drop the FTS triggers: a bulk load indexes once at the end ('rebuild'), not row by row."""
    triggers = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'signals'"
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    return [sql for _, sql in triggers]


def rebuild_index(path: Path) -> float:
    """Build the full-text index from scratch (what migration 0007 does), in seconds."""
    listed = "search_title, search_body, search_facets, search_impacts"
    with closing(sqlite3.connect(path)) as connection:
        started = time.perf_counter()
        connection.execute("DELETE FROM signals_fts")
        connection.execute(
            f"INSERT INTO signals_fts(rowid, {listed}) "
            f"SELECT published_day * 4294967296 + seq, {listed} FROM signals"
        )
        connection.execute("INSERT INTO signals_fts(signals_fts) VALUES ('optimize')")
        connection.commit()
        elapsed = time.perf_counter() - started
        # Everything into the database file: it is renamed next, and its WAL would not follow.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return elapsed


def index_bytes(path: Path) -> tuple[int, int]:
    """(bytes of the FTS5 index, bytes of the whole database file)."""
    with closing(sqlite3.connect(path)) as connection:
        (data,) = connection.execute(
            "SELECT coalesce(sum(length(block)), 0) FROM signals_fts_data"
        ).fetchone()
        (idx,) = connection.execute("SELECT count(*) * 24 FROM signals_fts_idx").fetchone()
    return data + idx, path.stat().st_size


def _generated_rows(briefs: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    chunks = [
        (start, min(start + CHUNK, briefs), seed, briefs) for start in range(0, briefs, CHUNK)
    ]
    random.Random(seed).shuffle(chunks)
    with multiprocessing.Pool(max(1, (os.cpu_count() or 2))) as pool:
        yield from pool.imap(_rows_of_chunk, chunks)


def _rows_of_chunk(chunk: tuple[int, int, int, int]) -> list[dict[str, Any]]:
    start, stop, seed, total = chunk
    generator = _generator(seed, total)
    rows = [_row_values(signal) for signal in generator.briefs(start, stop)]
    random.Random(seed + start).shuffle(rows)
    return rows


_GENERATORS: dict[tuple[int, int], BriefGenerator] = {}


def _generator(seed: int, total: int) -> BriefGenerator:
    if (seed, total) not in _GENERATORS:
        _GENERATORS[(seed, total)] = BriefGenerator(seed, total)
    return _GENERATORS[(seed, total)]


def _row_values(signal: Any) -> dict[str, Any]:
    row = _new_row(signal)
    row.ingested_at = row.revised_at = STORED_AT
    columns = StoredSignal.__table__.columns
    return {column.key: getattr(row, column.key) for column in columns if column.key != "seq"}


def _fingerprint() -> str:
    """Changes when the generated briefs, what is stored for them, or the signals schema does."""
    digest = hashlib.sha256()
    for row in _rows_of_chunk((0, 200, FINGERPRINT_SEED, 200)):
        digest.update(repr(sorted(row.items())).encode())
    engine = make_engine("sqlite://")
    upgrade(engine)
    with engine.connect() as connection:
        schema = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name LIKE 'signals%' ORDER BY name"
        ).all()
    engine.dispose()
    digest.update(repr(schema).encode())
    # Not the migration head: a migration that leaves the signals tables alone (a new table, a
    # PostgreSQL-only index) is applied to a cached corpus instead of forcing a rebuild of hours.
    return digest.hexdigest()[:12]


COPIED_COLUMNS = tuple(column.key for column in StoredSignal.__table__.columns)


def postgres_copy(built: Corpus, database_url: str, *, log: Any = print) -> float:
    """Copy the corpus into an empty, migrated PostgreSQL database (COPY), in seconds."""
    import psycopg

    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    listed = ", ".join(COPIED_COLUMNS)
    with psycopg.connect(dsn) as target, closing(sqlite3.connect(built.path)) as source:
        if target.execute("SELECT count(*) FROM signals").fetchone() != (0,):
            log("postgres: signals already loaded")
            return 0.0
        target.execute("SET timezone = 'UTC'")  # SQLite holds naive UTC times
        target.execute("SET maintenance_work_mem = '512MB'")
        # Indexes are built once after the load (as a restore does), not row by row.
        indexes = target.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'signals' "
            "AND indexname NOT IN ('signals_pkey', 'signals_id_key', 'uq_signals_source_key')"
        ).fetchall()
        for name, _ in indexes:
            target.execute(f"DROP INDEX {name}")
        rows = source.execute(f"SELECT {listed} FROM signals ORDER BY seq")
        with target.cursor().copy(f"COPY signals ({listed}) FROM STDIN") as copy:
            for done, row in enumerate(rows, start=1):
                copy.write_row(row)
                if done % 100_000 == 0:
                    log(f"postgres: {done:,} of {built.briefs:,} briefs copied")
        target.execute("SELECT setval('signals_seq_seq', (SELECT max(seq) FROM signals))")
        for _, definition in indexes:
            target.execute(definition)
        target.commit()
        target.autocommit = True
        target.execute("VACUUM ANALYZE signals")
    return time.perf_counter() - started
