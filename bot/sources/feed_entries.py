"""One feed entry (RSS, Atom or JSON Feed item) -> one signal, whatever the entry lacks."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urljoin, urlsplit

from bot.signal import Signal, as_utc
from bot.sources.document import ParsedItem
from bot.sources.html_text import first_words, html_to_text, lede, tidy_text

MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 2800
MAX_KEY_CHARS = 2000
UNTITLED = "Untitled"
# Aggregators that wrap every link in a redirect: (host suffix, path) -> the real target's param.
_REDIRECT_WRAPPERS = {("google.com", "/url"): ("url", "q")}
_SLASHED_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")
# Month abbreviations publishers use in RFC 822 dates that are not English (pt, es, fr, de, it).
_MONTH_ALIASES = {
    alias: month
    for month, aliases in {
        "Jan": ("ene", "janv", "gen"),
        "Feb": ("fev", "fév", "févr", "febr"),
        "Mar": ("mär", "mars", "marz"),
        "Apr": ("abr", "avr", "apri"),
        "May": ("mai", "mayo", "mag"),
        "Jun": ("juin", "giu"),
        "Jul": ("juil", "lug"),
        "Aug": ("ago", "août", "aout"),
        "Sep": ("set", "sept"),
        "Oct": ("out", "okt", "ott"),
        "Nov": ("novi",),
        "Dec": ("dez", "dic", "déc", "dezember"),
    }.items()
    for alias in aliases
}


@dataclass(frozen=True, slots=True)
class EntryFields:
    """What a feed entry says, format-neutral, before any fallback is applied."""

    id: str = ""
    title: str = ""
    title_is_html: bool = False
    link: str = ""
    summary: str = ""
    summary_is_html: bool = True
    content: str = ""
    content_is_html: bool = True
    # (as written, as feedparser read it) for published, then updated, then created.
    dates: tuple[tuple[str, datetime | None], ...] = ()
    tags: tuple[str, ...] = ()


def entry_to_item(fields: EntryFields, *, base_url: str | None, first_seen: datetime) -> ParsedItem:
    """The signal of one entry: id, else link, else a hash is its key; missing dates and
    titles are filled sensibly (an undated entry is dated when first seen)."""
    summary = _summary(fields)
    url = absolute_http_url(fields.link, base_url)
    title = _title(fields, summary, url)
    published = _published(fields)
    key = fields.id.strip()[:MAX_KEY_CHARS] or (url or "")
    if not key and published is None:
        key = "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    signal = Signal(
        title=title,
        published=published or first_seen,
        key=key,
        category=next((tag for tag in (tidy_text(t) for t in fields.tags) if tag), "")[:200],
        summary=summary,
        url=url,
    )
    return ParsedItem(signal, dated=published is not None)


def absolute_http_url(link: str, base_url: str | None) -> str | None:
    """`link` resolved against the feed's URL, unwrapped from redirectors; None unless http(s)."""
    link = link.strip()
    if not link:
        return None
    if base_url:
        link = urljoin(base_url, link)
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    if any(character.isspace() for character in link):
        return None
    return _unwrapped(link, parts.hostname.lower(), parts.path, parts.query)


def struct_to_datetime(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's `*_parsed` (already UTC) as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def first_text(values: Iterable[object]) -> str:
    """The first value that is a non-blank string."""
    return next((v for v in values if isinstance(v, str) and v.strip()), "")


def _unwrapped(link: str, host: str, path: str, query: str) -> str:
    for (suffix, wrapper_path), params in _REDIRECT_WRAPPERS.items():
        if (host == suffix or host.endswith("." + suffix)) and path == wrapper_path:
            values = parse_qs(query)
            target = next((values[p][0] for p in params if values.get(p)), "")
            if target.startswith(("http://", "https://")):
                return target
    return link


def _summary(fields: EntryFields) -> str:
    candidates = (
        (fields.summary, fields.summary_is_html),
        (fields.content, fields.content_is_html),
    )
    for value, is_html in candidates:
        text = (html_to_text(value) if is_html else tidy_text(value)) if value else ""
        if text:
            return lede(text, MAX_SUMMARY_CHARS)
    return ""


def _title(fields: EntryFields, summary: str, url: str | None) -> str:
    title = html_to_text(fields.title) if fields.title_is_html else fields.title
    title = " ".join(title.split())
    if title:
        return first_words(title, MAX_TITLE_CHARS)
    if summary:
        return first_words(summary, 100)
    return url or UNTITLED


def _published(fields: EntryFields) -> datetime | None:
    for raw, parsed in fields.dates:
        moment = parse_date_text(raw) or parsed
        if moment is not None:
            return moment
    return None


def parse_date_text(raw: str) -> datetime | None:
    """ISO 8601, RFC 822 (also with non-English day and month names) or `Y/M/D h:m`; naive
    times are taken as UTC. None for anything else."""
    raw = " ".join(raw.split())
    if not raw:
        return None
    try:
        return as_utc(datetime.fromisoformat(raw))
    except ValueError:
        pass
    slashed = _SLASHED_DATE.fullmatch(raw)
    if slashed:
        return _from_numbers([int(part or 0) for part in slashed.groups()])
    try:
        return as_utc(parsedate_to_datetime(_english_rfc822(raw)))
    except (TypeError, ValueError, IndexError):
        return None


def _from_numbers(parts: list[int]) -> datetime | None:
    year, month, day, hour, minute, second = parts
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _english_rfc822(raw: str) -> str:
    words = raw.split(" ")
    if words and words[0].rstrip(",").isalpha() and len(words) > 4:
        words = words[1:]  # the day name, in whatever language: the date says it all
    return " ".join(_MONTH_ALIASES.get(word.lower().rstrip("."), word) for word in words)
