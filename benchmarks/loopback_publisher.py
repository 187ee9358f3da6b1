"""A feed publisher on 127.0.0.1 for the benchmarks, run in its own process so that the poller's
CPU time is the poller's alone. It serves /feed/N (RSS with ETag), /big (5,000 entries); POST
/publish/N adds an entry to feed N; GET /stats and POST /stats/reset count requests and bytes."""

from __future__ import annotations

import json
import multiprocessing
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

ENTRIES_PER_FEED = 20
BIG_FEED_ENTRIES = 5_000
LOREM = (
    "<p>Signal services publish briefs on model releases, regulation and security; this "
    "paragraph stands in for the summary a real feed carries, with <b>markup</b> &amp; links "
    '<a href="https://example.org/">like this</a>.</p>'
)


def rss_document(feed: int, version: int, entries: int) -> bytes:
    """Feed `feed` at `version`: its newest `entries` items, each with its own guid."""
    items = "".join(
        f"<item><guid>feed-{feed}-{n}</guid><title>Feed {feed} brief {n}</title>"
        f"<link>https://publisher.example/{feed}/{n}</link>"
        f"<pubDate>Wed, 06 Apr 2022 21:07:47 +0000</pubDate><category>AI</category>"
        f"<description><![CDATA[{LOREM}]]></description></item>"
        for n in range(version + entries - 1, version - 1, -1)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://publisher.example/{feed}</link>"
        f"{items}</channel></rss>"
    ).encode()


class _State:
    def __init__(self) -> None:
        self.versions: dict[int, int] = {}
        self.bodies: dict[tuple[int, int], bytes] = {}
        self.requests = 0
        self.bytes = 0
        self.lock = threading.Lock()
        self.big = rss_document(0, 0, BIG_FEED_ENTRIES)

    def body(self, feed: int) -> tuple[bytes, str]:
        version = self.versions.get(feed, 0)
        key = (feed, version)
        if key not in self.bodies:
            self.bodies[key] = rss_document(feed, version, ENTRIES_PER_FEED)
        return self.bodies[key], f'"{feed}-{version}"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._reply(
                200,
                json.dumps({"requests": self.state.requests, "bytes": self.state.bytes}).encode(),
            )
            return
        with self.state.lock:
            self.state.requests += 1
        if self.path == "/big":
            self._reply(200, self.state.big, count=True)
            return
        body, etag = self.state.body(int(self.path.rsplit("/", 1)[1]))
        if self.headers.get("If-None-Match") == etag:
            self._reply(304, b"", {"ETag": etag}, count=True)
        else:
            self._reply(200, body, {"ETag": etag}, count=True)

    def do_POST(self) -> None:
        if self.path == "/stats/reset":
            with self.state.lock:
                self.state.requests = self.state.bytes = 0
        else:
            feed = int(self.path.rsplit("/", 1)[1])
            with self.state.lock:
                self.state.versions[feed] = self.state.versions.get(feed, 0) + 1
        self._reply(204, b"")

    def _reply(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, count: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
        # Headers counted too: what the wire carries is what a 304 saves.
        header_bytes = sum(len(line) for line in self._headers_buffer) + 2
        self.end_headers()
        self.wfile.write(body)
        if count:
            with self.state.lock:
                self.state.bytes += header_bytes + len(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(connection: Connection) -> None:
    _Handler.state = _State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    connection.send(server.server_port)
    server.serve_forever(poll_interval=0.1)


def start_publisher() -> tuple[multiprocessing.Process, str]:
    """The publisher in a child process, and its base URL."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{parent.recv()}"
