"""Migrations 0004, 0007 and 0012 on a database that already holds briefs: the search columns,
word levels and word pairs are filled in, the index is built, and each can be undone, on SQLite and
PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from search_corpus import HAND_WRITTEN
from sqlalchemy import Engine, insert, table, text
from sqlalchemy import column as column_of

from bot.search.document import search_columns
from bot.search.grammar import parse_query
from bot.search.store import search
from bot.store.db import make_engine, make_session_factory, migrations_dir, transaction, upgrade
from bot.store.models import StoredSignal
from bot.store.signals import _new_row

BRIEFS = [signal.keyed("optyx") for signal in HAND_WRITTEN]
NEW_IN_0004 = {"source_slug", "keyword_text", "search_title", "search_body", "search_facets"}
NEW_IN_0007 = {"search_impacts", "published_day"}
NEW_IN_0012 = {"search_pairs"}


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def insert_as_0003_did(engine: Engine) -> None:
    """Rows as the code before 0004 stored them: without the search columns."""
    before = [
        column
        for column in StoredSignal.__table__.columns
        if column.key not in NEW_IN_0004 | NEW_IN_0007 | NEW_IN_0012 and column.key != "seq"
    ]
    old_table = table("signals", *(column_of(c.key, c.type) for c in before))
    rows = []
    for signal in BRIEFS:
        row = _new_row(signal)
        row.ingested_at = row.revised_at = signal.published
        rows.append({column.key: getattr(row, column.key) for column in before})
    with engine.begin() as connection:
        connection.execute(insert(old_table), rows)


def test_upgrade_fills_existing_rows_and_downgrade_undoes_it(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, "0003")
    insert_as_0003_did(engine)

    upgrade(engine)  # to head: 0004, 0007 and 0012 fill in the new columns and build the index
    sessions = make_session_factory(engine)
    names = ("search_body", "search_impacts", "search_pairs")
    with transaction(sessions) as session:
        rows = session.execute(text(f"SELECT key, {', '.join(names)} FROM signals"))
        stored = {key: tuple(values) for key, *values in rows}
        found = search(session, parse_query("muse spark"))
        phrase = search(session, parse_query('"source llama"'))
    columns = {s.key: search_columns(s) for s in BRIEFS}
    assert stored == {key: tuple(c[name] for name in names) for key, c in columns.items()}
    assert [hit.signal.key for hit in found.hits] == [BRIEFS[0].key]
    assert [hit.signal.key for hit in phrase.hits] == [BRIEFS[0].key]  # "open-source Llama"

    migrate(engine, "0011", down=True)  # levels written as 0007 did, the pairs gone
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT * FROM signals WHERE key = :key"), {"key": BRIEFS[0].key}
        )
        row = rows.mappings().one()
    assert "search_pairs" not in row
    levels = row["search_impacts"].split()
    assert "i8meta" in levels
    assert not [token for token in levels if "_" in token]

    migrate(engine, "0004", down=True)
    with transaction(sessions) as session:  # 0004's external-content index, rebuilt
        assert session.execute(text("SELECT count(*) FROM signals")).scalar() == len(BRIEFS)
    migrate(engine, "0003", down=True)
    with engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM signals LIMIT 1")).keys()
    assert "search_body" not in columns
    upgrade(engine)  # and up again, from the restored 0003 schema
    with transaction(sessions) as session:
        assert search(session, parse_query("zürich")).total == 1
    engine.dispose()


def test_upgrade_logs_the_schema_step_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine, "0012")
    caplog.set_level(logging.INFO, logger="bot.store.db")

    upgrade(engine)
    upgrade(engine)  # nothing left to apply: nothing said

    steps = [r.getMessage() for r in caplog.records if r.name == "bot.store.db"]
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert steps == [f"database schema upgraded from 0012 to {head}"]
