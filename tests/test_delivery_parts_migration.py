"""Migration 0005 on a database with deliveries: old rows become `full` with no parts stored,
and it can be undone, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text
from test_search_migration import migrate

from bot.store.db import make_engine

PART_COLUMNS = {"format", "part_ts", "fallback_reason"}


def test_existing_deliveries_are_full_and_downgrade_drops_the_columns(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, "0004")
    now = datetime(2026, 4, 23, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO signals (id, source, key, title, published, entity, category, topic,"
                " entity_slug, category_slug, topic_slug, summary, sections, body_text,"
                " source_slug, keyword_text, search_title, search_body, search_facets,"
                " content_hash, revision, ingested_at, revised_at) VALUES ('s1', 'optyx', 'k',"
                " 'T', :now, '', '', '', '', '', '', '', '[]', '', 'optyx', '', '', '', '',"
                " 'h', 1, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (signal_id, channel_id, state, attempts, rate_limited,"
                " next_attempt_at, message_ts, posted_revision, created_at) VALUES"
                " ('s1', 'C1', 'sent', 1, 0, :now, '1.000001', 1, :now)"
            ),
            {"now": now},
        )

    migrate(engine, "0005")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT format, part_ts, fallback_reason FROM deliveries"))
        assert row.one() == ("full", None, None)

    migrate(engine, "0004", down=True)
    columns = {column["name"] for column in inspect(engine).get_columns("deliveries")}
    assert not PART_COLUMNS & columns
    engine.dispose()
