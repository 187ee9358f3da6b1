"""Fetching feeds and JSON endpoints over HTTP: conditional, bounded, and polite.

FetchError (a SignalBotError) covers every way a fetch fails; `retry_after` is set when the
server asked us to wait (429/503 with Retry-After), `status` when it answered at all.

Redirects are followed here, hop by hop, so each target can be checked: a source on a public
address may not redirect to an internal one (addresses.py). Bodies are decompressed here too,
a bounded piece at a time (decoding.py), so the size cap counts the bytes that reach memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from bot import __version__
from bot.errors import SignalBotError
from bot.redaction import redact_url
from bot.signal import as_utc
from bot.sources.addresses import Resolver, internal_address, resolve
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
    """One pooled HTTP client per process, shared by every source's polls."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.resolver = resolver
        self._client = httpx.Client(
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
            for _ in range(self.limits.max_redirects + 1):
                response = self._client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        return self._answer(response, validators or Validators())
                    request = response.next_request
                finally:
                    response.close()
                if not may_go_internal:
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

    def _refuse_internal(self, target: httpx.URL) -> None:
        internal = internal_address(target.host, self.resolver)
        if internal is not None:
            raise FetchError(
                f"refused a redirect to {redact_url(str(target))}: {internal} is not a public "
                "address, and this source's own URL is on a public one"
            )

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
