"""`latest` and QUERYs without free text over the whole archive, on SQLite and PostgreSQL: a
`keyword:` (a substring, tested per row) is tested window by window down the newest-first order,
so a match older than any window is still found, and paging is exact to the last match."""

from __future__ import annotations

import pytest
from search_corpus import (
    HELIOGRAPH_NEWER,
    heliograph_archive,
    latest_titles_paged,
    stored_corpus_fixture,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.filters import parse_filter
from bot.search import store as search_store
from bot.search.store import latest_page
from bot.signal import Signal
from bot.store.db import transaction


def planted() -> list[Signal]:
    return heliograph_archive(seed=7)


sessions = stored_corpus_fixture(planted)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of 4, 8 and then 16 rows, so the planted corpus spans many of them."""
    monkeypatch.setattr(search_store, "FIRST_SCAN_WINDOW", 4)
    monkeypatch.setattr(search_store, "LAST_SCAN_WINDOW", 16)


def expected(filter_text: str) -> list[str]:
    """Every matching brief, newest first: the whole archive filtered in Python."""
    signal_filter = parse_filter(filter_text)
    matching = [signal for signal in planted() if signal_filter.matches(signal)]
    return [signal.title for signal in sorted(matching, key=lambda s: s.published, reverse=True)]


@pytest.mark.parametrize("filter_text", ["keyword:heliograph", "keyword:heliograph entity:meta"])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_every_page_is_exact_to_the_last_match_beyond_the_first_windows(
    sessions: sessionmaker[Session], filter_text: str, size: int
) -> None:
    listed = latest_titles_paged(sessions, filter_text, size, stored=len(planted()))
    assert listed == expected(filter_text)


def test_a_match_older_than_every_window_is_found(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        page = latest_page(session, parse_filter("keyword:heliograph"), limit=2)
    assert [hit.signal.title for hit in page.hits] == expected("keyword:heliograph")[:2]
    assert page.hits[1].signal.title.startswith("Archive piece")
    assert page.more_than_total  # the walk stopped once the page was full: "at least"


def test_the_count_is_exact_once_the_archive_is_exhausted(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        page = latest_page(session, parse_filter("-keyword:heliograph"), limit=200)
        nothing = latest_page(session, parse_filter("keyword:zeppelin"), limit=5)
    assert (page.total, page.more_than_total) == (HELIOGRAPH_NEWER, False)
    assert (nothing.hits, nothing.total, nothing.more_than_total) == ([], 0, False)
