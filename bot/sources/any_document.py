"""`signal-bot ingest PATH|URL`: a brief, JSON signals or a feed, told apart by content."""

from __future__ import annotations

from pathlib import Path

from bot.redaction import redact_url, url_without_secrets
from bot.sources.brief_format import decode_utf8, parse_brief
from bot.sources.document import ParsedItem
from bot.sources.feed import parse_feed
from bot.sources.http import Fetcher
from bot.sources.json_feed import decode_json, is_json_feed
from bot.sources.json_signals import parse_json_signals
from bot.store.models import utcnow


def read_location(location: str, fetcher: Fetcher) -> list[ParsedItem]:
    """The items at a file path or an http(s) URL; ParseError, FetchError or OSError if none."""
    if location.strip().lower().startswith(("http://", "https://")):
        fetched = fetcher.fetch(location.strip())
        assert fetched.body is not None  # no validators were sent, so no 304
        return items_from_document(
            fetched.body,
            name=redact_url(location.strip()),
            url=url_without_secrets(fetched.url),
            content_type=fetched.content_type,
        )
    # No size cap for a local file: an archive too big to read at once is streamed instead
    # (bot.sources.stream); the cap is for bodies that come over the network.
    return items_from_document(Path(location).read_bytes(), name=location)


def items_from_document(
    body: bytes, *, name: str, url: str | None = None, content_type: str = ""
) -> list[ParsedItem]:
    """Signals of a brief, a JSON signal file or an RSS/Atom/JSON feed, told by content."""
    head = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    now = utcnow()
    if head in (b"{", b"["):
        if is_json_feed(decode_json(body, file=name)):
            return list(parse_feed(body, first_seen=now, url=url, file=name).items)
        signals = parse_json_signals(decode_utf8(body, file=name), file=name)
        return [ParsedItem(signal) for signal in signals]
    if head == b"<":
        document = parse_feed(body, first_seen=now, url=url, content_type=content_type, file=name)
        return list(document.items)
    return [ParsedItem(parse_brief(decode_utf8(body, file=name), file=name))]
