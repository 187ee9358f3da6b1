"""Engine, sessions and migrations for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bot.store.bulk_writes import put_back_fts5_defaults

log = logging.getLogger(__name__)
_PACKAGE = Path(__file__).resolve().parent.parent
# The SQLite page cache of each connection of a process that answers searches (`web`, `run`).
# With SQLite's 2 MB, a search at a million briefs reads the same index pages from the OS again,
# one read() each: 0.25 ms of system CPU per search, measured, a twentieth of `/brief`'s CPU.
# Memory grows only with the pages read, so a small archive never fills it.
SERVING_PAGE_CACHE_KIB = 32 * 1024


def migrations_dir() -> Path:
    """Alembic scripts: `bot/migrations` in a wheel, top-level `migrations/` in a checkout."""
    installed = _PACKAGE / "migrations"
    return installed if installed.is_dir() else _PACKAGE.parent / "migrations"


def normalize_url(url: str) -> str:
    """Heroku-style `postgres://` URLs mean psycopg 3 to us."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, *, page_cache_kib: int | None = None) -> Engine:
    """An engine tuned for its dialect (SQLite: WAL, foreign keys, a busy timeout, and with
    `page_cache_kib` that much page cache per connection instead of SQLite's 2 MB)."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        # Ranked search runs the same statements with different words: each must be planned
        # for its own words (psycopg prepares repeated statements, and PostgreSQL then falls
        # back to one generic plan: a GIN scan and sort that reads every match of a common
        # word). No JIT: it spends 50-100 ms compiling plans that finish in a few ms.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"options": "-c jit=off -c plan_cache_mode=force_custom_plan"},
        )
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", partial(_tune_sqlite, page_cache_kib))
    return engine


def _tune_sqlite(page_cache_kib: int | None, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if page_cache_kib:
        cursor.execute(f"PRAGMA cache_size=-{int(page_cache_kib)}")
    cursor.close()


def _is_memory(dbapi_connection: Any) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return not rows or not rows[0][2]


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session, committed on success and rolled back on any error."""
    with sessions.begin() as session:
        yield session


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (`signal-bot db upgrade`), logging the schema's step if
    there was one (Alembic's own lines are left to `--verbose`: bot.logs)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
        if connection.dialect.name == "sqlite":
            put_back_fts5_defaults(connection)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


def is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not reachable" to /healthz
        return False
    return True
