"""The test doubles' HTTP server: a client hanging up is silent, a handler's own error fails the
test, and stopping leaves no thread behind (a thread printing a traceback after its test is over
was behind an intermittent pytest INTERNALERROR on Python 3.11; see loopback_server)."""

from __future__ import annotations

import contextlib
import threading

import httpx
import pytest
from feed_server import FeedServer, Route


def test_a_client_hanging_up_mid_body_is_silent_and_stop_leaves_no_thread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = set(threading.enumerate())
    with FeedServer() as server:
        server.route("/huge", Route(generated_size=64 * 1024 * 1024))
        server.route("/small", Route(body=b"<rss/>"))
        with httpx.Client() as client, client.stream("GET", server.url("/huge")) as response:
            next(response.iter_bytes())  # a little, then hang up
        idle = httpx.Client()  # keeps its connection open, as a pooled client does
        assert idle.get(server.url("/small")).content == b"<rss/>"

    assert set(threading.enumerate()) <= before
    assert capsys.readouterr() == ("", "")
    idle.close()


def test_an_error_inside_a_handler_fails_at_stop() -> None:
    server = FeedServer()
    server.route("/broken", Route(headers={"X-Bad": "☃"}))  # not Latin-1: send_header raises

    with (
        pytest.raises(AssertionError, match="UnicodeEncodeError"),
        server,
        contextlib.suppress(httpx.HTTPError),
    ):
        httpx.get(server.url("/broken"))
