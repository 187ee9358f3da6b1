"""Escaping and text filters for Block Kit templates: mrkdwn, cutting, chunking, URLs, dates.

Signal text is untrusted: every value that lands where Slack parses markup passes `mrkdwn`.
Cuts never split an `&…;` entity, and chunks end at paragraph, line or word breaks.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from typing import NoReturn
from urllib.parse import urlsplit

from jinja2 import Undefined
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from bot.signal import as_utc

ELLIPSIS = "…"
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Not allowed in a URL (RFC 3986) and meaningful to Slack's `<url|label>` markup.
URL_FORBIDDEN = frozenset('<>"`{}|\\^')
LONGEST_ENTITY = len("&amp;")
MIN_CHUNK = 2 * LONGEST_ENTITY
SECTION_TEXT = 3000  # Slack's limit for a section's text (limits.SlackLimits.section_text)
URL_LENGTH = 3000


def as_text(value: object) -> str:
    return "" if value is None else str(value)


def mrkdwn(value: object) -> str:
    """Escape `&`, `<`, `>` (exactly those, `&` first) so Slack shows the text as written."""
    return as_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(value: object) -> str:
    """Escape text for a `plain_text` object, the same way as mrkdwn for consistency."""
    return mrkdwn(value)


def _entity_safe_cut(text: str, cut: int) -> int:
    """Move `cut` back to the start of an `&…;` entity it would otherwise split."""
    amp = text.rfind("&", max(0, cut - LONGEST_ENTITY + 1), cut)
    if amp != -1 and text.find(";", amp) >= cut:
        return amp
    return cut


def truncate_chars(value: object, limit: int) -> str:
    """Cut escaped text to at most `limit` characters, ending in "…", never inside an entity."""
    text = as_text(value)
    if len(text) <= limit:
        return text
    cut = _entity_safe_cut(text, max(limit - len(ELLIPSIS), 0))
    return text[:cut].rstrip() + ELLIPSIS


def truncate_words(value: object, limit: int) -> str:
    """Like `truncate_chars`, but ending at a word break when there is one."""
    text = as_text(value)
    if len(text) <= limit:
        return text
    room = max(limit - len(ELLIPSIS), 0)
    space = text.rfind(" ", 0, room + 1)
    cut = space if space > 0 else _entity_safe_cut(text, room)
    return text[:cut].rstrip() + ELLIPSIS


def _best_cut(text: str, limit: int) -> int:
    """Where to end the next chunk: a paragraph or line break in the back half, else the last
    word break; only a word longer than the whole chunk is cut inside."""
    for separator in ("\n\n", "\n"):
        position = text.rfind(separator, 0, limit + len(separator))
        if position >= limit // 2:
            return position
    space = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
    if space > 0:
        return space
    return _entity_safe_cut(text, limit)


def escaped_chunks(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Split already-escaped text at paragraph, line or word breaks into pieces <= `limit`."""
    if limit < MIN_CHUNK:
        raise ValueError(f"chunk limit {limit} is too small (at least {MIN_CHUNK})")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece]


def mrkdwn_chunks(value: object, limit: int = SECTION_TEXT) -> list[str]:
    """Escape text, then split it at paragraph, line or word breaks into pieces <= `limit`."""
    return escaped_chunks(mrkdwn(value), limit)


def highlight(value: object) -> str:
    """Escape a search snippet and turn its hit markers (U+E000 … U+E001) into `*bold*`."""
    return mrkdwn(value).replace(HIGHLIGHT_START, "*").replace(HIGHLIGHT_END, "*")


def slack_date(value: datetime | date) -> str:
    """A date as Slack readers expect it: `Apr 23, 2026` (UTC, whatever the locale)."""
    moment = as_utc(value)
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def _is_url_character(character: str) -> bool:
    if character in URL_FORBIDDEN or character.isspace():
        return False
    return not unicodedata.category(character).startswith("C")


def safe_url(value: object) -> str:
    """The URL if it is a well-formed http(s) URL Slack accepts on a button, else ""."""
    url = as_text(value)
    if not url or len(url) > URL_LENGTH or not all(map(_is_url_character, url)):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in {"http", "https"} and parts.hostname else ""


def _refuse_in_json(value: object) -> NoReturn:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # names the missing variable
    raise TypeError(f"{type(value).__name__} cannot go into JSON")


# What Jinja's `htmlsafe_json_dumps` replaces in the JSON text, and with what.
_HTML_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))


def tojson(value: object) -> str:
    """Jinja's `tojson`, except that an undefined value fails with its own name.

    Most values are strings (a message holds dozens): those skip building a JSON encoder for
    `default` and `sort_keys`, which a string never uses, and get the very same text."""
    if type(value) is not str:
        return htmlsafe_json_dumps(value, default=_refuse_in_json, sort_keys=True)
    text = json.dumps(value)
    for character, escaped in _HTML_SAFE:
        text = text.replace(character, escaped)
    return Markup(text)


FILTERS = {
    "mrkdwn": mrkdwn,
    "plain": plain,
    "mrkdwn_chunks": mrkdwn_chunks,
    "escaped_chunks": escaped_chunks,
    "truncate_chars": truncate_chars,
    "truncate_words": truncate_words,
    "highlight": highlight,
    "slack_date": slack_date,
    "safe_url": safe_url,
    "tojson": tojson,
}
