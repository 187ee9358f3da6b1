"""Polling `feed` and `json` sources over loopback HTTP into real databases: priming, conditional
GET, backoff, batches, and every corpus feed served as a publisher would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import START
from feed_server import FeedServer, Route, rss
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from test_sources_feed import CORPUS_FILES, EXPECTED_ENTRIES, REJECTED

from bot.config import SourceConfig
from bot.deliver.clock import ManualClock
from bot.sources import poll_source, remote
from bot.sources.http import Fetcher
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.models import Delivery, SourceState, StoredSignal
from bot.store.subscriptions import ChannelRef, add_subscription

Sessions = sessionmaker[Session]
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Sessions:
    return make_session_factory(engine)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    shipped = Fetcher()  # its own timeouts: short ones would fail a loopback feed on a busy machine
    yield shipped
    shipped.close()


def feed_source(
    server: FeedServer, path: str, name: str = "news", **options: object
) -> SourceConfig:
    kind = options.pop("kind", "feed")
    return SourceConfig(
        name=name,
        kind=kind,
        url=server.url(path),
        interval="5m",
        **options,  # type: ignore[arg-type]
    )


def subscribe_all(sessions: Sessions, channel: str = "C_ALL") -> None:
    with transaction(sessions) as session:
        add_subscription(session, ChannelRef(channel_id=channel), "all")


def queued(sessions: Sessions) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def state_of(sessions: Sessions, name: str) -> SourceState:
    with transaction(sessions) as session:
        state = session.get(SourceState, name)
        assert state is not None
        return state


def stored(sessions: Sessions, source: str) -> list[StoredSignal]:
    with transaction(sessions) as session:
        query = select(StoredSignal).where(StoredSignal.source == source)
        return list(session.scalars(query.order_by(StoredSignal.key)))


def end_backoff(sessions: Sessions, name: str, clock: ManualClock) -> None:
    """What time does for a backing-off source: the clock reaches its next poll."""
    next_poll_at = state_of(sessions, name).next_poll_at
    assert next_poll_at is not None
    clock.advance((next_poll_at - clock.now()).total_seconds())


def test_first_poll_primes_then_only_new_entries_are_queued(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher
) -> None:
    subscribe_all(sessions)
    route = server.route("/feed", Route(rss(("a", "Alpha"), ("b", "Beta")), etag='"1"'))
    source = feed_source(server, "/feed", defaults={"topic": "AI Advances"})

    primed = poll_source(sessions, source, fetcher=fetcher)
    route.body, route.etag = rss(("c", "Gamma"), ("a", "Alpha"), ("b", "Beta")), '"2"'
    second = poll_source(sessions, source, fetcher=fetcher)

    assert (len(primed.ingest.new), primed.announced, primed.ingest.queued) == (2, False, 0)
    assert (len(second.ingest.new), second.ingest.unchanged, second.ingest.queued) == (1, 2, 1)
    assert queued(sessions) == 1
    rows = stored(sessions, "news")
    assert [row.key for row in rows] == ["a", "b", "c"]
    assert {row.topic for row in rows} == {"AI Advances"}, "defaults fill the topic"
    assert rows[0].summary == "About Alpha"


def test_backfill_queues_what_the_first_poll_finds(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher
) -> None:
    subscribe_all(sessions)
    server.route("/feed", Route(rss(("a", "Alpha"), ("b", "Beta"))))

    report = poll_source(sessions, feed_source(server, "/feed", backfill=True), fetcher=fetcher)

    assert report.ingest.queued == 2


def test_an_unchanged_feed_costs_one_conditional_request_and_no_writes(
    sessions: Sessions, engine: Engine, server: FeedServer, fetcher: Fetcher
) -> None:
    server.route("/feed", Route(rss(("a", "Alpha")), etag='"1"', last_modified="Tue, 01 Jan 2030"))
    source = feed_source(server, "/feed")
    poll_source(sessions, source, fetcher=fetcher)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    report = poll_source(sessions, source, fetcher=fetcher)

    assert report.unchanged
    assert report.http is not None
    assert report.http.status == 304
    assert len(server.requests_to("/feed")) == 2
    assert server.requests_to("/feed")[1].headers["if-none-match"] == '"1"'
    writes = [s for s in statements if s.lstrip().upper().startswith(WRITES)]
    assert len(writes) == 1, writes
    assert writes[0].lstrip().upper().startswith("UPDATE SOURCE_STATE"), "only the health row"
    assert state_of(sessions, "news").last_status == 304


def test_the_same_body_without_validators_is_not_parsed_again(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/feed", Route(rss(("a", "Alpha"))))
    source = feed_source(server, "/feed")
    poll_source(sessions, source, fetcher=fetcher)
    monkeypatch.setitem(remote.READERS, "feed", _refuse_to_parse)

    report = poll_source(sessions, source, fetcher=fetcher)

    assert report.unchanged
    assert state_of(sessions, "news").consecutive_failures == 0


def _refuse_to_parse(*_: object) -> object:
    raise AssertionError("an unchanged body was parsed")


def test_a_failing_source_backs_off_and_shows_its_error_while_others_deliver(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher, clock: ManualClock
) -> None:
    subscribe_all(sessions)
    good_route = server.route("/good", Route(rss(("a", "Alpha"))))
    server.route("/bad", Route(b"oops", status=500))
    good, bad = feed_source(server, "/good", "good"), feed_source(server, "/bad", "bad")
    for source in (good, bad):
        poll_source(sessions, source, fetcher=fetcher, clock=clock.now)

    good_route.body = rss(("b", "Beta"), ("a", "Alpha"))
    clock.advance(1)
    skipped = poll_source(sessions, bad, fetcher=fetcher, clock=clock.now)
    delivered = poll_source(sessions, good, fetcher=fetcher, clock=clock.now)

    assert skipped.skipped
    assert len(server.requests_to("/bad")) == 1, "backing off: no request"
    assert delivered.ingest.queued == 1
    failing = state_of(sessions, "bad")
    assert failing.last_error == "HTTP 500 Internal Server Error"
    assert failing.consecutive_failures == 1
    assert failing.failing_since is not None
    assert failing.next_poll_at is not None
    assert failing.next_poll_at >= START + timedelta(minutes=2.5), "half of the 5 minutes, at least"

    clock.advance(-1 + (failing.next_poll_at - clock.now()).total_seconds())
    assert poll_source(sessions, bad, fetcher=fetcher, clock=clock.now).skipped, "a second early"
    end_backoff(sessions, "bad", clock)
    poll_source(sessions, bad, fetcher=fetcher, clock=clock.now)
    assert state_of(sessions, "bad").consecutive_failures == 2
    assert len(server.requests_to("/bad")) == 2


def test_retry_after_is_honoured_and_recovery_clears_the_failure(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher, clock: ManualClock
) -> None:
    route = server.route("/feed", Route(b"", status=429, headers={"Retry-After": "3600"}))
    source = feed_source(server, "/feed")

    poll_source(sessions, source, fetcher=fetcher, clock=clock.now)
    waiting = state_of(sessions, "news")
    end_backoff(sessions, "news", clock)
    route.status, route.headers, route.body = 200, {}, rss(("a", "Alpha"))
    recovered = poll_source(sessions, source, fetcher=fetcher, clock=clock.now)

    assert waiting.next_poll_at is not None
    assert waiting.next_poll_at - START == timedelta(hours=1)
    assert waiting.last_status == 429
    assert len(recovered.ingest.new) == 1
    healthy = state_of(sessions, "news")
    assert (healthy.consecutive_failures, healthy.failing_since, healthy.primed) == (0, None, True)


def test_a_big_feed_is_stored_in_batches(
    sessions: Sessions,
    engine: Engine,
    server: FeedServer,
    fetcher: Fetcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote, "BATCH_SIZE", 100)
    server.route("/big", Route(rss(*((f"id-{n}", f"Entry {n}") for n in range(350)))))
    commits: list[int] = []
    event.listen(engine, "commit", lambda *_: commits.append(1))

    report = poll_source(sessions, feed_source(server, "/big"), fetcher=fetcher)

    assert (report.items_seen, len(report.ingest.new)) == (350, 350)
    assert len(commits) >= 4 + 1, "four batches, then the health row"
    assert len(stored(sessions, "news")) == 350


def test_undated_entries_keep_the_date_they_were_first_seen(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher
) -> None:
    undated = b"<item><title>No date here</title><description>Timeless</description></item>"
    route = server.route(
        "/feed", Route(rss(("a", "Alpha")).replace(b"</channel>", undated + b"</channel>"))
    )
    source = feed_source(server, "/feed")

    poll_source(sessions, source, fetcher=fetcher)
    first_seen = {row.title: row.published for row in stored(sessions, "news")}
    route.body = route.body.replace(b"Alpha", b"Alpha, updated")
    second = poll_source(sessions, source, fetcher=fetcher)

    assert second.ingest.unchanged == 1
    assert len(second.ingest.revised) == 1
    assert {row.title: row.published for row in stored(sessions, "news")}["No date here"] == (
        first_seen["No date here"]
    )


def test_a_json_source_skips_bad_objects_and_says_where(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher
) -> None:
    objects = [
        {"title": "Good one", "published": "2026-04-23", "key": "g1"},
        {"title": "Bad date", "published": "someday", "key": "b1"},
        {"title": "Good two", "published": "2026-04-24T10:00:00+02:00", "key": "g2"},
    ]
    server.route(
        "/signals.json", Route(json.dumps(objects).encode(), content_type="application/json")
    )
    source = feed_source(server, "/signals.json", "api", kind="json")

    report = poll_source(sessions, source, fetcher=fetcher)

    assert [row.key for row in stored(sessions, "api")] == ["g1", "g2"]
    assert "[1].published" in (state_of(sessions, "api").last_warning or "")
    assert report.warnings


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'[{"title": ""}]', "no valid signal object: [0].title"),
        (b"{not json", "invalid JSON"),
    ],
)
def test_a_json_source_with_nothing_valid_fails_with_the_reason(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher, body: bytes, error: str
) -> None:
    server.route("/signals.json", Route(body, content_type="application/json"))

    report = poll_source(
        sessions, feed_source(server, "/signals.json", "api", kind="json"), fetcher=fetcher
    )

    assert error in report.errors[0]
    assert error in (state_of(sessions, "api").last_error or "")


def test_every_corpus_feed_served_over_http_ingests_or_fails_cleanly(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    for path in CORPUS_FILES:
        server.route(
            f"/corpus/{path.name}", Route(path.read_bytes(), content_type="application/xml")
        )

    for path in CORPUS_FILES:
        name = path.stem.lower().replace(".", "-")[:100]
        report = poll_source(
            sessions, feed_source(server, f"/corpus/{path.name}", name), fetcher=fetcher
        )
        state = state_of(sessions, name)
        if path.name in REJECTED:
            assert report.errors
            assert REJECTED[path.name] in (state.last_error or "")
            assert state.consecutive_failures == 1
        else:
            assert not report.errors, report.errors
            assert len(report.ingest.new) == EXPECTED_ENTRIES[path.name], path.name
            assert state.primed
            assert state.items_seen == EXPECTED_ENTRIES[path.name]


def test_garbage_from_a_feed_url_is_a_recorded_failure(
    sessions: Sessions, server: FeedServer, fetcher: Fetcher
) -> None:
    server.route("/garbage", Route(bytes(range(256)) * 8, content_type="text/html"))

    report = poll_source(sessions, feed_source(server, "/garbage"), fetcher=fetcher)

    assert "not an RSS, Atom or JSON feed" in report.errors[0]
    assert state_of(sessions, "news").last_error == report.errors[0]
