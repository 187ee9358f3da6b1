"""JSON Feed 1.0 / 1.1 (jsonfeed.org), which feedparser does not read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bot.errors import ParseError
from bot.sources.document import ParsedDocument, ParsedItem
from bot.sources.feed_entries import EntryFields, absolute_http_url, entry_to_item, first_text
from bot.sources.json_text import loads_valid_json

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
DATE_FIELDS = ("date_published", "date_modified")


def is_json_feed(payload: object) -> bool:
    """A JSON object that declares a jsonfeed.org version."""
    if not isinstance(payload, dict):
        return False
    version = payload.get("version")
    return isinstance(version, str) and version.startswith(JSON_FEED_VERSION_PREFIX)


def parse_json_feed(
    payload: dict[str, Any], *, url: str | None, first_seen: datetime, file: str
) -> ParsedDocument:
    """The items of a decoded JSON Feed; ParseError when `items` is not a list."""
    items = payload.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed without an `items` list", file=file)
    base = _base_url(payload, url)
    entries = [item for item in items if isinstance(item, dict)]
    warnings = []
    if len(entries) < len(items):
        warnings.append(f"{len(items) - len(entries)} item(s) are not objects and were skipped")
    return ParsedDocument(_items(entries, base, first_seen), len(entries), warnings)


def decode_json(body: bytes, *, file: str) -> object:
    """JSON from bytes (UTF-8, BOM allowed); ParseError naming the line on bad JSON."""
    try:
        return loads_valid_json(body.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 (byte offset {error.start})", file=file) from None
    except json.JSONDecodeError as error:
        raise ParseError(f"invalid JSON: {error.msg}", file=file, line=error.lineno) from None
    except RecursionError:
        raise ParseError("invalid JSON: nested too deeply", file=file) from None


def _items(
    entries: list[dict[str, Any]], base: str | None, first_seen: datetime
) -> Iterator[ParsedItem]:
    for entry in entries:
        yield entry_to_item(_fields(entry), base_url=base, first_seen=first_seen)


def _fields(item: dict[str, Any]) -> EntryFields:
    identifier = item.get("id")
    content_html = first_text([item.get("content_html")])
    return EntryFields(
        id=str(identifier) if isinstance(identifier, str | int) else "",
        title=first_text([item.get("title")]),
        link=first_text([item.get("url"), item.get("external_url")]),
        summary=first_text([item.get("summary")]),
        summary_is_html=False,
        content=content_html or first_text([item.get("content_text")]),
        content_is_html=bool(content_html),
        dates=tuple((first_text([item.get(name)]), None) for name in DATE_FIELDS),
        tags=tuple(tag for tag in item.get("tags") or () if isinstance(tag, str)),
    )


def _base_url(payload: dict[str, Any], url: str | None) -> str | None:
    for candidate in (url, payload.get("feed_url"), payload.get("home_page_url")):
        if isinstance(candidate, str) and absolute_http_url(candidate, None):
            return candidate
    return None
