"""A feed publisher on 127.0.0.1 that misbehaves on demand: ETags and 304s, 429s with
Retry-After, 500s, redirects, gzip, slow and huge bodies, garbage. Every request is recorded."""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Self

from loopback_server import LoopbackServer

CHUNK = 64 * 1024


@dataclass
class Route:
    """How one path answers. `body` may be replaced between requests to publish a new version."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    gzip: bool = False
    # Bytes per write and the pause between writes, for slow bodies.
    trickle: tuple[int, float] | None = None
    # A body of this many bytes, generated, without holding it in memory.
    generated_size: int | None = None
    send_length: bool = True


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """`with FeedServer() as server: server.route("/feed", Route(...)); server.url("/feed")`."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: serve HTTPS with this server-side context (url() still says http)."""
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._server = _Server(self)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)

    @property
    def port(self) -> int:
        return self._server.port

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.port}{path}"

    def route(self, path: str, route: Route) -> Route:
        self.routes[path] = route
        return route

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def count_bytes(self, sent: int) -> None:
        with self._lock:
            self.bytes_sent += sent


class _Server(LoopbackServer):
    def __init__(self, feeds: FeedServer) -> None:
        super().__init__(_Handler)
        self.feeds = feeds


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        feeds = self.server.feeds
        route = feeds.routes.get(self.path.partition("?")[0])
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
        feeds.record(request)
        if route is None:
            sent = self._send(404, {}, b"no such feed")
        elif _not_modified(route, request.headers):
            sent = self._send(304, _validators(route), b"")
        elif route.location:
            sent = self._send(route.status, {"Location": route.location}, b"")
        elif route.generated_size is not None:
            sent = self._send_generated(route)
        else:
            sent = self._send_route(route, request.headers)
        feeds.count_bytes(sent)

    def _send_route(self, route: Route, request_headers: dict[str, str]) -> int:
        body = route.body
        headers = {"Content-Type": route.content_type, **_validators(route), **route.headers}
        if route.gzip and "gzip" in request_headers.get("accept-encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.trickle:
            return self._send_slowly(route, headers, body)
        return self._send(route.status, headers, body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> int:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return len(body)

    def _send_slowly(self, route: Route, headers: dict[str, str], body: bytes) -> int:
        assert route.trickle is not None
        size, pause = route.trickle
        self.send_response(route.status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        sent = 0
        try:
            for start in range(0, len(body), size):
                self.wfile.write(body[start : start + size])
                self.wfile.flush()
                sent += size
                if self.server.stopping.wait(pause):
                    break  # the test is over
        except OSError:
            pass  # the client gave up, as it should
        return sent

    def _send_generated(self, route: Route) -> int:
        assert route.generated_size is not None
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.send_length:
            self.send_header("Content-Length", str(route.generated_size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        block, sent = b"<!-- padding -->" * (CHUNK // 16), 0
        try:
            while sent < route.generated_size:
                self.wfile.write(block)
                sent += len(block)
        except OSError:
            pass  # the client stopped reading at its limit
        self.close_connection = True
        return sent

    def log_message(self, format: str, *args: object) -> None:
        pass


def _validators(route: Route) -> dict[str, str]:
    headers = {}
    if route.etag:
        headers["ETag"] = route.etag
    if route.last_modified:
        headers["Last-Modified"] = route.last_modified
    return headers


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    if route.etag and headers.get("if-none-match") == route.etag:
        return True
    return bool(route.last_modified and headers.get("if-modified-since") == route.last_modified)


def http_date(seconds_from_now: float = 0) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


def rss(*items: tuple[str, str], title: str = "Loopback feed") -> bytes:
    """An RSS 2.0 document with (guid, title) items, newest first."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{item_title}</title>"
        f"<link>https://example.org/{guid}</link>"
        f"<pubDate>Wed, 06 Apr 2022 21:07:47 +0000</pubDate>"
        f"<description>&lt;p&gt;About {item_title}&lt;/p&gt;</description></item>"
        for guid, item_title in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{entries}</channel></rss>"
    ).encode()


def gzip_bomb(decompressed_size: int) -> bytes:
    """A gzip body of zeros that inflates to `decompressed_size` bytes (about 1,000 times its
    own size), made without holding the inflated bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(CHUNK)
    parts = [compressor.compress(block) for _ in range(decompressed_size // CHUNK)]
    return b"".join(parts) + compressor.flush()
