"""Fetching over HTTP from a misbehaving publisher on loopback, and the backoff arithmetic."""

from __future__ import annotations

import gzip
import os
import ssl
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import pytest
import trustme
from feed_server import FeedServer, Route, gzip_bomb, http_date, rss

from bot.sources.addresses import resolve
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
    shipped = Fetcher()  # its own timeouts: short ones would fail a loopback feed on a busy machine
    yield shipped
    shipped.close()


@pytest.fixture
def impatient() -> Iterator[Fetcher]:
    """For the tests of the time limits: the server is made to miss them by far."""
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
def test_a_body_that_trickles_is_cut_off(server: FeedServer, impatient: Fetcher) -> None:
    server.route("/slow", Route(FEED * 50, trickle=(64, 0.05)))  # about 25 s in all

    with pytest.raises(FetchError, match=r"longer than 1\.5s"):
        impatient.fetch(server.url("/slow"))


def test_a_server_that_stalls_times_out(server: FeedServer, impatient: Fetcher) -> None:
    # Half the body, then nothing until the test is over.
    server.route("/stall", Route(FEED, trickle=(len(FEED) // 2, 600.0)))

    with pytest.raises(FetchError, match="timed out"):
        impatient.fetch(server.url("/stall"))


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "undeclared"])
def test_a_20_mb_body_is_refused(server: FeedServer, send_length: bool) -> None:
    server.route("/huge", Route(generated_size=TWENTY_MB, send_length=send_length))
    fetcher = Fetcher()

    with pytest.raises(FetchError, match="limit"):
        fetcher.fetch(server.url("/huge"))


def test_a_gzip_bomb_stops_at_the_cap_with_memory_bounded_by_it(server: FeedServer) -> None:
    cap = 1024 * 1024
    bomb = gzip_bomb(256 * cap)  # 256 kB on the wire, 256 MB inflated
    server.route("/bomb", Route(bomb, headers={"Content-Encoding": "gzip"}))
    fetcher = Fetcher(FetchLimits(max_bytes=cap))

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="over the 1048576-byte limit"):
            fetcher.fetch(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        fetcher.close()

    assert len(bomb) < cap, "the wire size alone would pass the cap"
    assert peak < 4 * cap, f"peak {peak} bytes while reading a body capped at {cap}"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_under_the_cap_arrive_whole(server: FeedServer, encoding: str) -> None:
    big = FEED * 2000  # well over one decompression piece
    body = gzip.compress(big) if encoding == "gzip" else zlib.compress(big)
    server.route("/feed", Route(body, headers={"Content-Encoding": encoding}))
    fetcher = Fetcher()

    assert fetcher.fetch(server.url("/feed")).body == big
    fetcher.close()


def test_a_corrupt_or_unasked_for_encoding_is_a_clear_error(
    server: FeedServer, fetcher: Fetcher
) -> None:
    server.route("/corrupt", Route(b"not gzip", headers={"Content-Encoding": "gzip"}))
    server.route("/brotli", Route(b"\x0b\x02\x80", headers={"Content-Encoding": "br"}))

    with pytest.raises(FetchError, match="undecodable response body: the gzip body is corrupt"):
        fetcher.fetch(server.url("/corrupt"))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        fetcher.fetch(server.url("/brotli"))


# Every test runs on 127.0.0.1; to play a public feed, the origin's name "resolves" to a
# public address. Redirect targets are checked as the real resolver would see them.
PUBLIC_HOST = "feeds.example"
PUBLIC_ADDRESS = "93.184.215.14"


def public_origin(host: str) -> list[str]:
    return [PUBLIC_ADDRESS] if host == PUBLIC_HOST else resolve(host)


@pytest.fixture
def public_server(server: FeedServer) -> Iterator[tuple[FeedServer, Fetcher]]:
    """The feed server, reached as `http://feeds.example:PORT` (its public address on loopback)."""
    mapped = Fetcher(resolver=public_origin, network=PublicAddressOnLoopback())
    yield server, mapped
    mapped.close()


HOSTILE_TARGETS = {
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "loopback": "http://127.0.0.1:{port}/internal",
    "localhost name": "http://localhost:{port}/internal",
    "private": "http://10.0.0.8/admin",
    "ipv6 loopback": "http://[::1]:{port}/internal",
    "ipv4-mapped ipv6": "http://[::ffff:169.254.169.254]/latest/",
    "unspecified": "http://0.0.0.0:{port}/internal",
}


@pytest.mark.parametrize("target", HOSTILE_TARGETS.values(), ids=HOSTILE_TARGETS.keys())
def test_a_public_feed_cannot_redirect_to_an_internal_address(
    public_server: tuple[FeedServer, Fetcher], target: str
) -> None:
    server, fetcher = public_server
    port = server.port
    server.route("/feed", Route(status=302, location=target.format(port=port)))
    server.route("/internal", Route(b"secrets of the intranet"))

    with pytest.raises(FetchError, match=r"refused a redirect to .* is not a public address"):
        fetcher.fetch(f"http://{PUBLIC_HOST}:{port}/feed")

    assert len(server.requests_to("/feed")) == 1
    assert server.requests_to("/internal") == [], "the internal address was never asked"


def test_a_public_feed_may_redirect_to_another_public_one(
    public_server: tuple[FeedServer, Fetcher],
) -> None:
    server, fetcher = public_server
    port = server.port
    server.route("/old", Route(status=301, location=f"http://{PUBLIC_HOST}:{port}/feed"))
    server.route("/feed", Route(FEED))

    assert fetcher.fetch(f"http://{PUBLIC_HOST}:{port}/old").body == FEED


def test_a_public_name_that_answers_loopback_at_connect_time_is_never_connected_to(
    server: FeedServer,
) -> None:
    """DNS rebinding: the name is public when the source is looked at, loopback when a
    connection would be made. The address connected to is the one checked, so nothing is."""
    answers = iter([[PUBLIC_ADDRESS], ["127.0.0.1"]])
    network = PublicAddressOnLoopback()
    rebinding = Fetcher(resolver=lambda host: next(answers), network=network)
    port = server.port
    server.route("/feed", Route(b"secrets of the intranet"))

    with pytest.raises(FetchError, match=r"refused to connect to .*127\.0\.0\.1 \(loopback\)"):
        rebinding.fetch(f"http://{PUBLIC_HOST}:{port}/feed")
    rebinding.close()

    assert network.connected == []
    assert server.requests_to("/feed") == []


def test_a_public_feed_is_fetched_from_the_address_that_was_checked(
    public_server: tuple[FeedServer, Fetcher],
) -> None:
    server, fetcher = public_server
    port = server.port
    server.route("/feed", Route(FEED))

    assert fetcher.fetch(f"http://{PUBLIC_HOST}:{port}/feed").body == FEED
    assert server.requests_to("/feed")[0].headers["host"] == f"{PUBLIC_HOST}:{port}"


def test_behind_a_proxy_from_the_environment_redirect_targets_are_checked_before_asking(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set, the proxy (here the feed server) resolves names; a public feed is
    fetched through it, and a redirect to an internal address is refused before it is asked."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url("/").rstrip("/"))
    proxied = Fetcher(resolver=public_origin)
    port = server.port
    origin = f"http://{PUBLIC_HOST}:{port}"
    server.route(f"{origin}/feed", Route(FEED))  # a proxy is asked for the whole URL
    server.route(f"{origin}/moved", Route(status=302, location="http://10.0.0.8/admin"))

    assert proxied.fetch(f"{origin}/feed").body == FEED
    with pytest.raises(FetchError, match=r"refused a redirect to .*10\.0\.0\.8 \(private\)"):
        proxied.fetch(f"{origin}/moved")
    proxied.close()

    assert server.requests_to("http://10.0.0.8/admin") == []


def test_a_public_https_feed_is_verified_by_its_name_at_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes to the address checked, yet TLS still names the host: SNI and the
    certificate check are for `feeds.example` (a certificate for that name only), and a
    certificate for another name is refused."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # httpx trusts this CA
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for name, fetches in ((PUBLIC_HOST, True), ("elsewhere.example", False)):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(name).configure_cert(context)
        with FeedServer(tls=context) as server:
            server.route("/feed", Route(FEED))
            fetcher = Fetcher(resolver=public_origin, network=PublicAddressOnLoopback())
            url = f"https://{PUBLIC_HOST}:{server.port}/feed"
            if fetches:
                assert fetcher.fetch(url).body == FEED
            else:
                with pytest.raises(FetchError, match=r"cannot reach.*CERTIFICATE_VERIFY_FAILED"):
                    fetcher.fetch(url)
            fetcher.close()


def test_a_source_configured_on_an_internal_address_may_redirect_within(
    server: FeedServer, fetcher: Fetcher
) -> None:
    port = server.port
    server.route("/feed", Route(status=302, location=f"http://localhost:{port}/internal"))
    server.route("/internal", Route(FEED))

    assert fetcher.fetch(server.url("/feed")).body == FEED


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


class PublicAddressOnLoopback(httpcore.SyncBackend):
    """Connections to PUBLIC_ADDRESS reach 127.0.0.1 instead (as a NAT would), and every address
    connected to is recorded: a test plays a public feed without leaving the machine."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    def connect_tcp(  # type: ignore[override]
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        self.connected.append(host)
        target = "127.0.0.1" if host == PUBLIC_ADDRESS else host
        return super().connect_tcp(target, port, *args, **kwargs)
