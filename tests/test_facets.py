"""What the archive holds, as pickers and `/signals topics` read it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from slack_requests import recent_brief
from sqlalchemy.orm import Session

from bot.filters import parse_filter
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.facets import (
    distinct_values,
    facet_counts,
    facet_options,
    has_more_values_than,
    matching_count,
)
from bot.store.models import utcnow
from bot.store.signals import upsert_signals

BRIEFS = [
    recent_brief("Muse one", 1, entity="Meta", category="Platform Release", body="muse spark"),
    recent_brief("Muse two", 2, entity="Meta", category="Research"),
    recent_brief("Llama", 3, entity="Meta", topic="Open Models"),
    recent_brief("Copilot", 4, entity="Microsoft", topic="Security"),
    recent_brief("Mistral raise", 5, entity="Mistral AI", category="Funding"),
    recent_brief("Old Mistral", 60, entity="Mistral AI", topic="Finance"),
    recent_brief("Older Mosaic", 70, entity="MosaicML", topic="Finance"),
    recent_brief("Untagged", 6, entity="", topic=""),
]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as writing:
        upsert_signals(writing, BRIEFS)
    with transaction(sessions) as reading:
        yield reading
    engine.dispose()


def since() -> datetime:
    return utcnow() - timedelta(days=30)


def test_counts_over_the_window_most_frequent_first(session: Session) -> None:
    entities = facet_counts(session, "entity", since())
    assert [(f.label, f.count) for f in entities] == [
        ("Meta", 3),
        ("Microsoft", 1),
        ("Mistral AI", 1),
    ]
    topics = [(f.slug, f.count) for f in facet_counts(session, "topic", since())]
    assert topics[0] == ("ai-advances", 3)
    assert "finance" not in dict(topics)


def test_options_list_recent_values_then_older_ones_of_the_archive(session: Session) -> None:
    options = facet_options(session, "entity", "m", since())
    assert [(f.slug, f.count) for f in options] == [
        ("meta", 3),
        ("microsoft", 1),
        ("mistral-ai", 1),
        ("mosaicml", 0),  # older than 30 days: listed last, with its own spelling
    ]
    assert options[-1].label == "MosaicML"
    assert [f.slug for f in facet_options(session, "entity", "ai", since())] == ["mistral-ai"]
    assert facet_options(session, "entity", "zzz", since()) == []


def test_the_loose_index_scan_walks_distinct_values_by_prefix(session: Session) -> None:
    assert distinct_values(session, "entity", limit=10) == [
        ("meta", "Meta"),
        ("microsoft", "Microsoft"),
        ("mistral-ai", "Mistral AI"),
        ("mosaicml", "MosaicML"),
    ]
    assert [slug for slug, _ in distinct_values(session, "entity", "mi", limit=10)] == [
        "microsoft",
        "mistral-ai",
    ]
    assert len(distinct_values(session, "entity", limit=2)) == 2
    assert has_more_values_than(session, "entity", 3)
    assert not has_more_values_than(session, "entity", 4)


@pytest.mark.parametrize(
    "text",
    [
        "entity:meta",
        "topic:ai-advances -entity:meta",
        "keyword:muse",
        "keyword:spark entity:meta category:platform-release",
        "entity:meta entity:mistral-ai",
        "all -keyword:muse",
        "category:research, category:funding",
    ],
)
def test_the_preview_count_is_exactly_the_filter(session: Session, text: str) -> None:
    wanted = parse_filter(text)
    window = since()
    expected = sum(1 for b in BRIEFS if b.published >= window and wanted.matches(b))
    assert matching_count(session, wanted, window) == expected
