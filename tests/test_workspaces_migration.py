"""Migration 0009 on a database that already has an outbox: each row gets its subscription's
team, slack-sdk's stores get their tables, and it can be undone, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import inspect, text
from test_search_migration import migrate

from bot.installs import SignedStateStore, WorkspaceInstallations
from bot.store.db import make_engine, make_session_factory, upgrade

NOW = datetime(2026, 4, 23, tzinfo=UTC).isoformat()


def test_rows_learn_their_team_and_the_stores_work(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO signals (id, source, key, title, published, entity, category, topic,"
                " entity_slug, category_slug, topic_slug, summary, sections, body_text, url,"
                " content_hash, revision, ingested_at, revised_at, source_slug, keyword_text,"
                " search_title, search_body, search_facets) VALUES ('s1', 'optyx', 'k1', 'T',"
                " :now, '', '', '', '', '', '', '', '[]', '', NULL, 'h', 1, :now, :now, 'optyx',"
                " '', '', '', '')"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO subscriptions (id, team_id, channel_id, channel_name, filter,"
                " created_by, created_at) VALUES (1, 'TALPHA', 'C1', '', 'all', '', :now),"
                " (2, '', 'C2', '', 'all', '', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (signal_id, channel_id, subscription_id, state, attempts,"
                " rate_limited, next_attempt_at, posted_revision, created_at) VALUES"
                " ('s1', 'C1', 1, 'pending', 0, 0, :now, 0, :now),"
                " ('s1', 'C2', 2, 'pending', 0, 0, :now, 0, :now),"
                " ('s1', 'C3', NULL, 'pending', 0, 0, :now, 0, :now)"
            ),
            {"now": NOW},
        )

    upgrade(engine)
    with engine.connect() as connection:
        teams = dict(connection.execute(text("SELECT channel_id, team_id FROM deliveries")).all())
    assert teams == {"C1": "TALPHA", "C2": "", "C3": ""}
    installations = WorkspaceInstallations("1.2", engine, make_session_factory(engine))
    installations.save(Installation(app_id="A1", team_id="TALPHA", bot_token="xoxb-a", user_id="U"))
    bot = installations.find_bot(enterprise_id=None, team_id="TALPHA")
    assert bot is not None
    assert bot.bot_token == "xoxb-a"
    states = SignedStateStore("secret", engine)
    state = states.issue()
    assert states.consume(state)
    assert not states.consume(state), "a state is good once"

    migrate(engine, "0008", down=True)
    tables = inspect(engine).get_table_names()
    assert not {"slack_installations", "slack_bots", "slack_oauth_states"} & set(tables)
    assert "team_id" not in {c["name"] for c in inspect(engine).get_columns("deliveries")}
    upgrade(engine)
    engine.dispose()


def test_digests_learn_their_team_and_keep_their_briefs(database_url: str) -> None:
    """0013: each digest row gets its subscription's team; the briefs it lists stay linked to
    it (SQLite adds the column in place: no table copy that would null their digest_id)."""
    engine = make_engine(database_url)
    migrate(engine, "0012")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO signals (id, source, key, title, published, entity, category, topic,"
                " entity_slug, category_slug, topic_slug, summary, sections, body_text, url,"
                " content_hash, revision, ingested_at, revised_at, source_slug, keyword_text,"
                " search_title, search_body, search_facets) VALUES ('s1', 'optyx', 'k1', 'T',"
                " :now, '', '', '', '', '', '', '', '[]', '', NULL, 'h', 1, :now, :now, 'optyx',"
                " '', '', '', '')"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO subscriptions (id, team_id, channel_id, channel_name, filter,"
                " created_by, created_at, format) VALUES"
                " (1, 'TALPHA', 'C1', '', 'all', '', :now, 'full'),"
                " (2, '', 'C2', '', 'all', '', :now, 'full')"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO digests (id, subscription_id, channel_id, period_at, part, parts, tz,"
                " signal_ids, state, attempts, rate_limited, next_attempt_at, created_at) VALUES"
                " (1, 1, 'C1', :now, 1, 1, 'UTC', '[\"s1\"]', 'pending', 0, 0, :now, :now),"
                " (2, 2, 'C2', :now, 1, 1, 'UTC', '[\"s1\"]', 'pending', 0, 0, :now, :now),"
                " (3, NULL, 'C3', :now, 1, 1, 'UTC', '[\"s1\"]', 'pending', 0, 0, :now, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (signal_id, channel_id, subscription_id, state, attempts,"
                " rate_limited, next_attempt_at, posted_revision, created_at, team_id, digest_id)"
                " VALUES ('s1', 'C1', 1, 'digested', 0, 0, :now, 0, :now, 'TALPHA', 1)"
            ),
            {"now": NOW},
        )

    upgrade(engine)
    with engine.connect() as connection:
        teams = dict(connection.execute(text("SELECT channel_id, team_id FROM digests")).all())
        linked = connection.scalar(text("SELECT digest_id FROM deliveries"))
    assert teams == {"C1": "TALPHA", "C2": "", "C3": ""}
    assert linked == 1

    migrate(engine, "0012", down=True)
    assert "team_id" not in {c["name"] for c in inspect(engine).get_columns("digests")}
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT digest_id FROM deliveries")) == 1
    upgrade(engine)
    engine.dispose()
