"""Fetching feeds and JSON endpoints over HTTP: conditional, bounded, and polite.

FetchError (a SignalBotError) covers every way a fetch fails; `retry_after` is set when the
server asked us to wait (429/503 with Retry-After), `status` when it answered at all.

Redirects are followed here, hop by hop: a source on a public address may not redirect to an
internal one (addresses.py). Its fetches go through a client whose connections are made by
addresses.PublicOnly, which checks the very address it connects to, so a name answering one
thing to a check and another to the connection (DNS rebinding) gets nowhere. Behind an HTTP
proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) the proxy resolves names, so
each redirect's target is checked before it is asked for instead. Bodies are decompressed here
too, a bounded piece at a time (decoding.py), so the size cap counts the bytes that reach memory.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from bot import __version__
from bot.errors import SignalBotError
from bot.redaction import redact_url
from bot.signal import as_utc
from bot.sources.addresses import (
    InternalAddressRefused,
    PublicOnly,
    Resolver,
    internal_address,
    resolve,
)
from bot.sources.decoding import ACCEPTED_ENCODINGS, BoundedDecoder, DecodingError

USER_AGENT = f"signal-bot/{__version__} (Slack signal feed poller; httpx/{httpx.__version__})"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
WAIT_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER = timedelta(days=1)


class FetchError(SignalBotError):
    """A fetch that produced no usable body; the text says why in one line."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long and how much one fetch may take."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 90.0
    max_bytes: int = 16 * 1024 * 1024
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server gave us to ask "has it changed?" next time."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer: `body` is None when the server said 304 Not Modified."""

    status: int
    body: bytes | None
    validators: Validators
    content_type: str
    url: str


class Fetcher:
    """Pooled HTTP clients per process, shared by every source's polls: one for sources on a
    public address (connecting to public addresses only), one for the others.

    `resolver` answers for host names; `network` (tests) is what public connections are made
    through once their address is checked."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        resolver: Resolver = resolve,
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.resolver = resolver
        self._proxied = _environment_names_a_proxy()
        self._client = self._new_client(None)
        self._public_client = (
            self._client
            if self._proxied
            else self._new_client(_public_only_transport(PublicOnly(resolver, network)))
        )

    def _new_client(self, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout),
            follow_redirects=False,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPTED_ENCODINGS,
            },
            transport=transport,
        )

    def fetch(self, url: str, validators: Validators | None = None) -> Fetched:
        """GET `url`, conditionally when `validators` are given; raises FetchError."""
        headers = (validators or Validators()).request_headers()
        try:
            request = self._client.build_request("GET", url, headers=headers)
            may_go_internal = internal_address(request.url.host, self.resolver) is not None
            client = self._client if may_go_internal else self._public_client
            for hop in range(self.limits.max_redirects + 1):
                try:
                    response = client.send(request, stream=True)
                except InternalAddressRefused as refused:
                    raise FetchError(_refusal(request.url, refused.internal, hop)) from None
                try:
                    if response.next_request is None:
                        return self._answer(response, validators or Validators())
                    request = response.next_request
                finally:
                    response.close()
                if self._proxied and not may_go_internal:
                    self._refuse_internal(request.url)
            raise FetchError(f"more than {self.limits.max_redirects} redirects")
        except httpx.TimeoutException as error:
            raise FetchError(f"timed out ({type(error).__name__})") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise FetchError(f"bad URL {redact_url(url)!r}: {error}") from None
        except httpx.TransportError as error:
            raise FetchError(f"cannot reach the server: {error or type(error).__name__}") from None

    def close(self) -> None:
        self._client.close()
        self._public_client.close()

    def _refuse_internal(self, target: httpx.URL) -> None:
        """Behind a proxy: refuse a redirect whose target is internal as resolved here."""
        internal = internal_address(target.host, self.resolver)
        if internal is not None:
            raise FetchError(_refusal(target, internal, hop=1))

    def _answer(self, response: httpx.Response, sent: Validators) -> Fetched:
        status = response.status_code
        if status == 304:
            return Fetched(304, None, _validators(response, sent), "", str(response.url))
        if status in WAIT_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
            raise FetchError(_status_text(response), status=status, retry_after=wait)
        if status >= 300:
            raise FetchError(_status_text(response), status=status)
        body = self._read_body(response)
        content_type = response.headers.get("Content-Type", "")
        return Fetched(
            status, body, _validators(response, Validators()), content_type, str(response.url)
        )

    def _read_body(self, response: httpx.Response) -> bytes:
        limit = self.limits.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"body of {int(declared)} bytes is over the {limit}-byte limit")
        deadline = time.monotonic() + self.limits.total_timeout
        chunks: list[bytes] = []
        size = 0
        try:
            decoder = BoundedDecoder(response.headers.get("Content-Encoding", ""))
            for raw in response.iter_raw():
                for piece in decoder.feed(raw):
                    size += len(piece)
                    if size > limit:
                        raise FetchError(f"body is over the {limit}-byte limit (decompressed)")
                    chunks.append(piece)
                if time.monotonic() > deadline:
                    raise FetchError(f"body took longer than {self.limits.total_timeout:g}s")
            decoder.finish()
        except DecodingError as error:
            raise FetchError(f"undecodable response body: {error}") from None
        return b"".join(chunks)


def _public_only_transport(backend: PublicOnly) -> httpx.HTTPTransport:
    """httpx's transport, connecting through `backend`. httpx takes no network backend (only
    httpcore's pool does), so its pool is replaced by one built as httpx builds it without a
    proxy, with the backend: TLS, limits and HTTP/1.1 as before."""
    transport = httpx.HTTPTransport()
    limits = httpx.Limits()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


def _environment_names_a_proxy() -> bool:
    """Whether httpx will send requests through a proxy named in the environment."""
    return any(scheme in urllib.request.getproxies() for scheme in ("http", "https", "all"))


def _refusal(target: httpx.URL, internal: str, hop: int) -> str:
    what = "a redirect to" if hop else "to connect to"
    return (
        f"refused {what} {redact_url(str(target))}: {internal} is not a public address, "
        "and this source's own URL is on a public one"
    )


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date -> how long to wait (capped at a day)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = as_utc(parsedate_to_datetime(value)) - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def _validators(response: httpx.Response, fallback: Validators) -> Validators:
    return Validators(
        etag=response.headers.get("ETag") or fallback.etag,
        last_modified=response.headers.get("Last-Modified") or fallback.last_modified,
    )


def _status_text(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()
