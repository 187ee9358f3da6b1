"""`latest` with `keyword:` and `-keyword:` on PostgreSQL: the walk down the newest-first order
may end early, the rest of the archive read in one statement (bot.search.backends.postgres_newest:
the trigram index for a wanted keyword, rows in physical order otherwise). Every page must be what
SignalFilter finds over the whole archive, newest first, wherever the walk ends (at once, inside
the windows, or never), and the same on SQLite, which always walks."""

from __future__ import annotations

from typing import Any

import pytest
from search_corpus import DATABASES, heliograph_archive, latest_titles_paged, stored_corpus_fixture
from sqlalchemy.orm import Session, sessionmaker

from bot.filters import parse_filter
from bot.search import store as search_store
from bot.search.backends import postgres_newest
from bot.search.backends.postgres_newest import RestPlan, kept_share, walk_rows
from bot.search.backends.token_statistics import TokenStatistics
from bot.search.store import latest_page
from bot.signal import Signal
from bot.store.db import transaction


def planted() -> list[Signal]:
    return heliograph_archive(seed=11)


sessions = stored_corpus_fixture(planted)

FILTERS = (
    "keyword:heliograph",  # rare, its trigrams too: the trigram index
    "keyword:heliograph entity:meta",
    'keyword:heliograph keyword:"zeppelin"',  # either keyword
    "keyword:heliograph -keyword:relay",
    "keyword:ph",  # no trigram: rows in physical order
    "-keyword:routine",  # excludes nearly every brief
    "-keyword:heliograph",  # excludes few
    "-keyword:note entity:meta",
)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of 4, 8 and then 16 rows, so the planted corpus spans many of them."""
    monkeypatch.setattr(search_store, "FIRST_SCAN_WINDOW", 4)
    monkeypatch.setattr(search_store, "LAST_SCAN_WINDOW", 16)


@pytest.fixture
def rest_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The planner settings of each read of the rest, as they happen."""
    reads: list[tuple[str, ...]] = []
    read = RestPlan.read

    def spy(plan: RestPlan, session: Session, query: Any) -> list[int]:
        reads.append(plan.settings_off)
        return read(plan, session, query)

    monkeypatch.setattr(RestPlan, "read", spy)
    return reads


def expected(filter_text: str) -> list[str]:
    """Every matching brief, newest first (of one day, the last stored first, as `seq` orders
    them): the whole archive filtered in Python."""
    signal_filter = parse_filter(filter_text)
    stored = [(signal.published, seq, signal) for seq, signal in enumerate(planted())]
    matching = [entry for entry in stored if signal_filter.matches(entry[2])]
    return [signal.title for _, _, signal in sorted(matching, key=lambda e: e[:2], reverse=True)]


def is_postgres(sessions: sessionmaker[Session]) -> bool:
    with transaction(sessions) as session:
        return session.get_bind().dialect.name == "postgresql"


@pytest.mark.parametrize("walk_rows", [0, 4, 12, 10_000])
@pytest.mark.parametrize("filter_text", FILTERS)
def test_every_page_is_exact_wherever_the_walk_ends(
    sessions: sessionmaker[Session],
    filter_text: str,
    walk_rows: int,
    rest_reads: list[tuple[str, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0: the rest at once; 4 and 12: after one or two windows; 10,000: the walk to the end."""
    monkeypatch.setattr(postgres_newest, "WALK_ROWS", walk_rows)
    monkeypatch.setattr(postgres_newest, "kept_share", lambda *_: None)  # walk WALK_ROWS
    for size in (1, 3, 5):
        listed = latest_titles_paged(sessions, filter_text, size, stored=len(planted()))
        assert listed == expected(filter_text), size
    if not is_postgres(sessions):
        assert rest_reads == []  # SQLite walks
    elif walk_rows == 0:
        assert rest_reads  # the rest was read at once, for every page
        by_trigrams = ("enable_indexscan", "enable_seqscan")
        in_physical_order = ("enable_indexscan",)
        trigram_index = filter_text.startswith("keyword:") and filter_text != "keyword:ph"
        assert set(rest_reads) == {by_trigrams if trigram_index else in_physical_order}


@pytest.mark.parametrize("sessions", [DATABASES[1]], indirect=True)  # SQLite walks
@pytest.mark.parametrize("filter_text", FILTERS)
def test_reading_the_rest_counts_every_match(
    sessions: sessionmaker[Session], filter_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the rest is read, every row has been tested: the count is exact (up to 1,000)."""
    monkeypatch.setattr(postgres_newest, "WALK_ROWS", 0)
    monkeypatch.setattr(postgres_newest, "kept_share", lambda *_: None)
    with transaction(sessions) as session:
        page = latest_page(session, parse_filter(filter_text), limit=2)
    assert [hit.signal.title for hit in page.hits] == expected(filter_text)[:2]
    assert (page.total, page.more_than_total) == (len(expected(filter_text)), False)


def statistics(shares: dict[str, float]) -> TokenStatistics:
    """Level-vector statistics listing each word at its top level only."""
    return TokenStatistics(1_000_000.0, {f"{w}_8": share for w, share in shares.items()}, 1e-4)


def test_the_share_kept_follows_the_keywords_words() -> None:
    listed = statistics({"the": 0.99, "model": 0.4, "ransomware": 0.05})
    assert kept_share(frozenset({"rumour"}), frozenset(), listed) == pytest.approx(1e-6)
    assert kept_share(frozenset({"ransomware"}), frozenset(), listed) == pytest.approx(0.05)
    assert kept_share(frozenset(), frozenset({"the"}), listed) == pytest.approx(0.01)
    assert kept_share(frozenset(), frozenset({"rumour"}), listed) == pytest.approx(1.0, rel=1e-3)
    # both words, or either keyword
    assert kept_share(frozenset({"the model"}), frozenset(), listed) == pytest.approx(0.4)
    both = kept_share(frozenset({"model", "ransomware"}), frozenset({"the"}), listed)
    assert both == pytest.approx(0.45 * 0.01)
    # a keyword without a word (`--`): its share is unknown, so a walk is tried first
    assert kept_share(frozenset(), frozenset({"--"}), listed) == pytest.approx(1.0)
    assert kept_share(frozenset({"rumour"}), frozenset(), None) is None


@pytest.mark.parametrize(
    ("keywords", "excluded", "read_at_once"),
    [({"rumour"}, set(), True), ({"model"}, set(), False), (set(), {"the"}, False),
     (set(), {"everywhere"}, True), (set(), {"rumour"}, False)],
)  # fmt: skip
def test_a_sparse_keyword_is_read_at_once_a_dense_one_walked_first(
    keywords: set[str], excluded: set[str], read_at_once: bool
) -> None:
    """Read at once when a walk is expected to test more than WALK_ROWS rows for the page."""
    listed = statistics({"the": 0.99, "model": 0.4, "everywhere": 0.99999})
    share = kept_share(frozenset(keywords), frozenset(excluded), listed)
    assert walk_rows(share, 5) == (0 if read_at_once else postgres_newest.WALK_ROWS)
    assert walk_rows(None, 5) == postgres_newest.WALK_ROWS  # no statistics: walk first
