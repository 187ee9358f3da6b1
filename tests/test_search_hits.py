"""A search hit's brief is the stored brief, field for field, on SQLite and PostgreSQL (hits are
read as columns, not through StoredSignal.to_signal)."""

from __future__ import annotations

from dataclasses import replace

from search_corpus import DAY, brief, stored_corpus_fixture
from sqlalchemy.orm import Session, sessionmaker

from bot.search.grammar import parse_query
from bot.search.store import search
from bot.signal import Section, Signal
from bot.store.db import transaction
from bot.store.signals import get_signal

WITH_EVERYTHING = replace(
    brief(
        "Quokka & <Wombat> release: a model in three parts",
        3,
        entity="Quokka Labs",
        category="PLATFORM RELEASE",
        topic="AI Advances",
        summary="Quokka shipped a model; *mrkdwn* & <tags> stay as typed.",
    ),
    sections=(
        Section("The News", "Quokka's model reads Wombat logs."),
        Section("Why It Matters", "Logs & <metrics>, together."),
        Section("", "A section without a heading."),
    ),
    url="https://example.com/quokka?x=1&y=2",
)
WITHOUT_URL = brief("Quokka pricing cut for the wombat tier", 40, summary="Cheaper quokka.")
BRIEFS = [WITH_EVERYTHING, WITHOUT_URL]

sessions = stored_corpus_fixture(lambda: BRIEFS)


def stored_as(sessions: sessionmaker[Session], signal: Signal) -> Signal:
    with transaction(sessions) as session:
        row = get_signal(session, signal.keyed(signal.source).id)
        assert row is not None
        return row.to_signal()


def test_each_hit_is_the_stored_brief_field_for_field(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        page = search(session, parse_query("quokka"), limit=5, today=DAY.date())
    expected = [stored_as(sessions, signal) for signal in BRIEFS]
    assert [hit.signal for hit in page.hits] == expected
    assert page.hits[0].signal.sections[2] == Section("", "A section without a heading.")
    assert (page.hits[0].signal.url, page.hits[1].signal.url) == (WITH_EVERYTHING.url, None)
