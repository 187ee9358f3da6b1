"""Fetching over HTTP from a misbehaving publisher on loopback, and the backoff arithmetic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from feed_server import FeedServer, Route, http_date, rss

from bot.sources.backoff import MAX_BACKOFF, backoff_delay
from bot.sources.http import USER_AGENT, Fetcher, FetchError, FetchLimits, Validators
from bot.sources.http import parse_retry_after as retry_after

FEED = rss(("a", "Alpha"), ("b", "Beta"))
TWENTY_MB = 20 * 1024 * 1024


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    quick = Fetcher(FetchLimits(connect_timeout=2, read_timeout=1, total_timeout=1.5))
    yield quick
    quick.close()


def test_conditional_get_with_etag_and_last_modified(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/feed", Route(FEED, etag='"v1"', last_modified=http_date(-60)))

    first = fetcher.fetch(server.url("/feed"))
    second = fetcher.fetch(server.url("/feed"), first.validators)

    assert (first.status, first.body) == (200, FEED)
    assert first.validators.etag == '"v1"'
    assert (second.status, second.body) == (304, None)
    assert second.validators == first.validators, "a 304 keeps what we had"
    sent = server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == first.validators.last_modified


def test_requests_name_the_bot_and_accept_gzip(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/feed", Route(FEED, gzip=True))

    fetched = fetcher.fetch(server.url("/feed"))

    assert fetched.body == FEED
    headers = server.requests_to("/feed")[0].headers
    assert headers["user-agent"] == USER_AGENT
    assert "gzip" in headers["accept-encoding"]
    assert server.bytes_sent < len(FEED), "the body travelled compressed"


@pytest.mark.parametrize(("status", "header"), [(429, "120"), (503, None)])
def test_429_and_503_say_how_long_to_wait(
    server: FeedServer, fetcher: Fetcher, status: int, header: str | None
) -> None:
    headers = {"Retry-After": header} if header else {}
    server.route("/feed", Route(b"slow down", status=status, headers=headers))

    with pytest.raises(FetchError) as raised:
        fetcher.fetch(server.url("/feed"))

    assert raised.value.status == status
    assert raised.value.retry_after == (timedelta(seconds=120) if header else None)
    assert str(raised.value).startswith(f"HTTP {status}")


def test_server_errors_and_missing_feeds_fail_cleanly(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/broken", Route(b"oops", status=500))

    with pytest.raises(FetchError, match="HTTP 500 Internal Server Error"):
        fetcher.fetch(server.url("/broken"))
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.fetch(server.url("/nowhere"))


def test_redirects_are_followed_up_to_the_limit(server: FeedServer) -> None:
    server.route("/feed", Route(FEED))
    server.route("/moved", Route(status=301, location="/feed"))
    server.route("/loop", Route(status=302, location="/loop"))
    limited = Fetcher(FetchLimits(max_redirects=3))

    fetched = limited.fetch(server.url("/moved"))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        limited.fetch(server.url("/loop"))

    assert fetched.body == FEED
    assert fetched.url == server.url("/feed")
    assert len(server.requests_to("/loop")) == 4


@pytest.mark.slow
def test_a_body_that_trickles_is_cut_off(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/slow", Route(FEED * 50, trickle=(64, 0.05)))

    with pytest.raises(FetchError, match=r"longer than 1\.5s"):
        fetcher.fetch(server.url("/slow"))


def test_a_server_that_stalls_times_out(server: FeedServer, fetcher: Fetcher) -> None:
    server.route("/stall", Route(FEED, trickle=(len(FEED) // 2, 3.0)))

    with pytest.raises(FetchError, match="timed out"):
        fetcher.fetch(server.url("/stall"))


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "undeclared"])
def test_a_20_mb_body_is_refused(server: FeedServer, send_length: bool) -> None:
    server.route("/huge", Route(generated_size=TWENTY_MB, send_length=send_length))
    fetcher = Fetcher()

    with pytest.raises(FetchError, match="limit"):
        fetcher.fetch(server.url("/huge"))


def test_garbage_is_fetched_as_bytes_for_the_reader_to_refuse(
    server: FeedServer, fetcher: Fetcher
) -> None:
    garbage = os.urandom(4096)
    server.route("/garbage", Route(garbage, content_type="application/octet-stream"))

    assert fetcher.fetch(server.url("/garbage")).body == garbage


def test_unreachable_hosts_and_bad_urls_fail_cleanly(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="cannot reach"):
        fetcher.fetch("http://127.0.0.1:9/feed")
    with pytest.raises(FetchError, match="bad URL"):
        fetcher.fetch("ftp://example.org/feed")


def test_validators_become_conditional_headers() -> None:
    assert Validators().request_headers() == {}
    assert Validators('"x"', "Tue, 01 Jan 2030 00:00:00 GMT").request_headers() == {
        "If-None-Match": '"x"',
        "If-Modified-Since": "Tue, 01 Jan 2030 00:00:00 GMT",
    }


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("Wed, 25 Nov 2026 12:05:00 GMT", timedelta(minutes=5)),
        ("Wed, 25 Nov 2026 11:00:00 GMT", timedelta(0)),
        ("99999999", timedelta(days=1)),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert retry_after(header, now=NOW) == expected


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    minute = timedelta(minutes=1)
    lows = [backoff_delay(n, minute, spread=0.0) for n in range(1, 12)]
    highs = [backoff_delay(n, minute, spread=0.999) for n in range(1, 12)]
    assert lows[:4] == [minute / 2, minute, 2 * minute, 4 * minute]
    assert all(low <= high <= 2 * low for low, high in zip(lows, highs, strict=True))
    assert max(highs) <= MAX_BACKOFF
    assert backoff_delay(1, timedelta(days=1), spread=0.999) <= timedelta(days=1)


def test_retry_after_is_a_floor_for_backoff() -> None:
    wait = backoff_delay(1, timedelta(seconds=30), retry_after=timedelta(minutes=10), spread=0.5)
    assert wait == timedelta(minutes=10)
