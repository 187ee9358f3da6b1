"""The `feed` source's reader: RSS 0.9x/1.0/2.0 and Atom (feedparser), and JSON Feed.

Malformed feeds are common; feedparser recovers most of them (bozo). A feed is rejected only
when nothing could be read from it, and the error says why in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from xml.sax import SAXParseException

import feedparser

from bot.errors import ParseError
from bot.sources.document import ParsedDocument, ParsedItem
from bot.sources.feed_entries import (
    EntryFields,
    absolute_http_url,
    entry_to_item,
    first_text,
    struct_to_datetime,
)
from bot.sources.json_feed import decode_json, is_json_feed, parse_json_feed

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# A character reference to a surrogate (U+D800..U+DFFF) names no character: XML forbids it, and
# feedparser's lenient parser, which reads a feed the strict one gave up on, crashes on it.
_SURROGATE_REFERENCE = re.compile(
    rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7][0-9]{3}));"
)
_SURROGATES = range(0xD800, 0xE000)
# Harmless bozo reasons: the entries came out right.
_BENIGN_BOZO = ("CharacterEncodingOverride",)


def parse_feed(
    body: bytes,
    *,
    first_seen: datetime,
    url: str | None = None,
    content_type: str = "",
    file: str = "<feed>",
) -> ParsedDocument:
    """The entries of an RSS, Atom or JSON Feed document, its format told from the content."""
    if not body.strip():
        raise ParseError("empty document", file=file)
    if _looks_like_json(body):
        payload = decode_json(body, file=file)
        if not is_json_feed(payload):
            raise ParseError("JSON, but not a JSON Feed (no jsonfeed.org version)", file=file)
        assert isinstance(payload, dict)
        return parse_json_feed(payload, url=url, first_seen=first_seen, file=file)
    return parse_xml_feed(
        body, first_seen=first_seen, url=url, content_type=content_type, file=file
    )


def parse_xml_feed(
    body: bytes, *, first_seen: datetime, url: str | None, content_type: str, file: str
) -> ParsedDocument:
    """RSS or Atom through feedparser; ParseError when no entry could be recovered."""
    parsed = feedparser.parse(
        _without_surrogate_references(body),
        response_headers=_headers(content_type),
        sanitize_html=False,
    )
    entries = parsed.entries
    problem, line = _bozo(parsed)
    if not entries:
        if parsed.get("version") and problem:
            raise ParseError(f"broken feed, no entry readable: {problem}", file=file, line=line)
        if not parsed.get("version"):
            reason = f" ({problem})" if problem else ""
            raise ParseError(f"not an RSS, Atom or JSON feed{reason}", file=file, line=line)
    warnings = []
    if problem and not problem.startswith(_BENIGN_BOZO):
        warnings.append(f"malformed feed, {len(entries)} entries recovered: {problem}")
    base = _base_url(url, parsed.feed)
    return ParsedDocument(_items(entries, base, first_seen), len(entries), warnings)


def _without_surrogate_references(body: bytes) -> bytes:
    """The feed with each reference to a surrogate as `&#xFFFD;`, the replacement character."""
    if b"&#" not in body:
        return body
    return _SURROGATE_REFERENCE.sub(_replacement_reference, body)


def _replacement_reference(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    number = int(hexadecimal, 16) if hexadecimal else int(decimal)
    return b"&#xFFFD;" if number in _SURROGATES else match[0]


def _items(entries: list[Any], base: str | None, first_seen: datetime) -> Iterator[ParsedItem]:
    for entry in entries:
        yield entry_to_item(entry_fields(entry), base_url=base, first_seen=first_seen)


def entry_fields(entry: Any) -> EntryFields:
    """What a feedparser entry says, in the format-neutral shape."""
    # dict.get skips FeedParserDict's deprecated updated -> published fallback (and its warning).
    field = partial(dict.get, entry)
    content = field("content") or []
    first_content = content[0] if content else {}
    return EntryFields(
        id=first_text([field("id")]),
        title=first_text([field("title")]),
        title_is_html=_is_html(field("title_detail")),
        link=first_text([field("link"), _alternate_link(field("links"))]),
        summary=first_text([field("summary")]),
        summary_is_html=_is_html(field("summary_detail"), default=True),
        content=first_text([first_content.get("value")]),
        content_is_html=_is_html(first_content, default=True),
        dates=tuple(
            (first_text([field(name)]), struct_to_datetime(field(f"{name}_parsed")))
            for name in ("published", "updated", "created")
        ),
        tags=tuple(first_text([tag.get("label"), tag.get("term")]) for tag in field("tags") or ()),
    )


def _alternate_link(links: Any) -> str:
    for link in links or ():
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return ""


def _is_html(detail: Any, *, default: bool = False) -> bool:
    if not detail or not detail.get("type"):
        return default
    return str(detail["type"]).lower() in HTML_TYPES


def _headers(content_type: str) -> dict[str, str]:
    # Only a declared charset is worth passing on: without one, feedparser reads the XML
    # declaration and BOM, which publishers get right more often than their web servers.
    return {"content-type": content_type} if "charset=" in content_type.lower() else {}


def _base_url(url: str | None, feed: Any) -> str | None:
    for candidate in (url, feed.get("link")):
        if isinstance(candidate, str) and absolute_http_url(candidate, None):
            return candidate
    return None


def _bozo(parsed: Any) -> tuple[str, int]:
    """What feedparser found wrong, and the line, from its XML error when it has one."""
    if not parsed.get("bozo"):
        return "", 1
    error = parsed.get("bozo_exception")
    if isinstance(error, SAXParseException):
        return f"{error.getMessage()} (line {error.getLineNumber()})", error.getLineNumber() or 1
    return (f"{type(error).__name__}: {error}" if error else "malformed"), 1


def _looks_like_json(body: bytes) -> bool:
    return body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")
