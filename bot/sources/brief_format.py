"""Read the brief text format (CONTRACT.md, "The brief text format") into a Signal.

A brief reads, top to bottom: optional navigation line(s), the date line, the entity line, the
category line, the title, the lede, titled sections, an optional footer and an optional metadata
line of `[KEY: value]` pairs. Anything that cannot be read raises ParseError(file=, line=).
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import ParseError
from bot.signal import Section, Signal, as_utc, valid_text

MAX_BRIEF_BYTES = 2 * 1024 * 1024
MAX_LEADING_LINES = 2
MAX_NAVIGATION_CHARS = 80
MAX_LABEL_CHARS = 80
MAX_TITLE_CHARS = 300
MAX_HEADING_CHARS = 100
MAX_METADATA_CHARS = 4000
MAX_FOOTER_PREFIX_WORDS = 3

_LINE_BREAK = re.compile(r"\r\n?")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What a text decoder leaves behind when it was fed bytes that are not text.
_SUSPICIOUS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")

_FLAGS = re.ASCII | re.IGNORECASE  # ASCII: keeps "ſ" from matching "s" and "٢" from matching \d
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>[0-9]{4})"
_PREFIX = (
    r"(?:(?:published|posted|updated|date)\s*:?\s*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
)
_TRAILER = r"(?:[^A-Za-z0-9].*)?"
_MONTH_FIRST_DATE = re.compile(rf"{_PREFIX}{_MONTH}\s*{_DAY},?\s+{_YEAR}{_TRAILER}", _FLAGS)
_DAY_FIRST_DATE = re.compile(rf"{_PREFIX}{_DAY}\s+{_MONTH},?\s+{_YEAR}{_TRAILER}", _FLAGS)
_ISO_DATE = re.compile(
    rf"{_PREFIX}(?P<iso>[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?)"
    rf"{_TRAILER}",
    _FLAGS,
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

_NAVIGATION = re.compile(r"(?:[←<«‹]\s*)?(?:back\b.*|home|menu|live signals)", re.IGNORECASE)
_FOOTER_PHRASE = re.compile(
    rf"(?:(?:\S+\s+){{0,{MAX_FOOTER_PREFIX_WORDS}}}intelligence engine"
    r"|automated analysis"
    r"|view (?:the )?(?:full )?(?:intelligence )?(?:model|analysis|brief|report|source|signal)s?"
    r"|back to (?:live )?signals"
    r"|(?:powered|generated) by (?:\S+\s+){0,3}\S+"
    r"|share(?: this)?(?: brief| signal)?)"
    r"[\s.:→>»›]*",
    re.IGNORECASE,
)
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", ",", ";")
_CLOSING_MARKS = "\"'”’»)]」』"

_META_KEY = r"[A-Za-z][A-Za-z0-9_ -]*?"
_META_VALUE = r"(?:[^\[\]]|\[[^\[\]]*\])*"
_META_PAIR = re.compile(rf"\[\s*(?P<key>{_META_KEY})\s*:(?P<value>{_META_VALUE})\]")
_META_RUN = re.compile(rf"(?:\[\s*{_META_KEY}\s*:{_META_VALUE}\]\s*)+$")
_KNOWN_META_KEYS = frozenset({"ORIGIN_NODE", "SYS_TIMESTAMP", "REF", "URL", "LINK"})


@dataclass(frozen=True, slots=True)
class _Metadata:
    """What the trailing `[KEY: value]` line said."""

    topic: str = ""
    key: str = ""
    url: str | None = None
    published: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Header:
    """The lines above the lede; `title_index` is the 0-based line of the title."""

    published: datetime
    entity: str
    category: str
    title: str
    title_index: int


def parse_brief(text: str, *, file: str = "<input>") -> Signal:
    """Read one brief in the text format; raise ParseError naming `file` and the line."""
    lines = _normalized_lines(text, file)
    content, metadata = _split_metadata(lines, file)
    header = _read_header(content, metadata.published, file)
    paragraphs = _strip_footer(_paragraphs(content[header.title_index + 1 :]))
    summary, sections = _lede_and_sections(paragraphs)
    return Signal(
        title=header.title,
        published=header.published,
        key=metadata.key,
        entity=header.entity,
        category=header.category,
        topic=metadata.topic,
        summary=summary,
        sections=sections,
        url=metadata.url,
    )


def read_brief_file(path: Path) -> Signal:
    """Read and parse the brief at `path` (UTF-8, BOM allowed)."""
    return parse_brief(read_utf8_text(path, max_bytes=MAX_BRIEF_BYTES), file=str(path))


def read_utf8_text(path: Path, *, max_bytes: int) -> str:
    """The file's text; ParseError if it is larger than `max_bytes` or not UTF-8."""
    with path.open("rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ParseError(f"file is larger than {max_bytes} bytes", file=str(path), line=1)
    return decode_utf8(data, file=str(path))


def decode_utf8(data: bytes, *, file: str = "<input>") -> str:
    """Decode UTF-8 (a leading BOM is dropped); ParseError at the line of the first bad byte."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        line = _line_of_byte_offset(data, error.start)
        reason = f"not valid UTF-8 text (byte 0x{bad:02x} at offset {error.start})"
        raise ParseError(reason, file=file, line=line) from None


def _line_of_byte_offset(data: bytes, offset: int) -> int:
    prefix = data[:offset]
    breaks = prefix.count(b"\n") + prefix.count(b"\r") - prefix.count(b"\r\n")
    return breaks + 1


# --- text clean-up and garbage detection -------------------------------------------------------


def _normalized_lines(text: str, file: str) -> list[str]:
    """Lines with uniform line breaks, stripped, invisible characters dropped; rejects garbage."""
    text = _LINE_BREAK.sub("\n", text.removeprefix("\ufeff"))
    if _reject_binary(text, file):
        text = valid_text(text)
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    lines = [_clean_line(line) for line in text.split("\n")]
    if not any(lines):
        raise ParseError("empty file", file=file, line=1)
    _reject_json(text, lines, file)
    return lines


def _clean_line(line: str) -> str:
    return line.strip().strip(_INVISIBLE).strip()


def _reject_binary(text: str, file: str) -> bool:
    """Raise ParseError for text that is not a brief; else True if it holds a lone surrogate
    (text decoded with surrogateescape: UTF-8 cannot hold it, so it cannot be stored as is)."""
    suspicious = _SUSPICIOUS.findall(text)
    # A careless publisher may leave a stray U+FFFD; random bytes leave them everywhere.
    if len(suspicious) > max(8, len(text) // 100):
        first = _SUSPICIOUS.search(text)
        line = _line_of(text, first.start()) if first else 1
        raise ParseError("binary or garbled content, not a brief", file=file, line=line)
    if (nul := text.find("\x00")) >= 0:
        raise ParseError("binary content (NUL byte)", file=file, line=_line_of(text, nul))
    return any("\ud800" <= character <= "\udfff" for character in suspicious)


def _reject_json(text: str, lines: list[str], file: str) -> None:
    stripped = text.lstrip()
    if stripped.startswith("{") or (stripped.startswith("[") and _is_json(stripped)):
        line = next(index for index, line in enumerate(lines) if line) + 1
        raise ParseError("this is JSON, not a brief", file=file, line=line)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --- metadata line --------------------------------------------------------------------------


def _split_metadata(lines: list[str], file: str) -> tuple[list[str], _Metadata]:
    """The lines without the trailing metadata line, and what that line said."""
    last_index = max(index for index, line in enumerate(lines) if line)
    last_line = lines[last_index]
    run = _META_RUN.search(last_line) if len(last_line) <= MAX_METADATA_CHARS else None
    if run is None:
        return lines, _Metadata()
    pairs = _metadata_pairs(run.group())
    glued_text = last_line[: run.start()].strip()
    # Text before the pairs is only a glued-on metadata line if the pairs are really ours.
    if glued_text and not _KNOWN_META_KEYS & {key for key, _ in pairs}:
        return lines, _Metadata()
    content = [*lines[:last_index], glued_text]
    return content, _metadata_from_pairs(pairs, file=file, line=last_index + 1)


def _metadata_pairs(run: str) -> list[tuple[str, str]]:
    return [
        (_metadata_key(match["key"]), " ".join(match["value"].split()))
        for match in _META_PAIR.finditer(run)
    ]


def _metadata_key(raw: str) -> str:
    return re.sub(r"[\s-]+", "_", raw.strip()).upper()


def _metadata_from_pairs(pairs: list[tuple[str, str]], *, file: str, line: int) -> _Metadata:
    values = {key: value for key, value in pairs if value}
    published = None
    if "SYS_TIMESTAMP" in values:
        published = _parse_timestamp(values["SYS_TIMESTAMP"])
        if published is None:
            reason = f"malformed SYS_TIMESTAMP {values['SYS_TIMESTAMP']!r}; expected YYYY-MM-DD"
            raise ParseError(reason, file=file, line=line)
    return _Metadata(
        topic=values.get("ORIGIN_NODE", ""),
        key=values.get("REF", ""),
        url=_http_url(values.get("URL") or values.get("LINK") or ""),
        published=published,
    )


def _parse_timestamp(value: str) -> datetime | None:
    try:
        return _date_from_line(value) or as_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return None


def _http_url(value: str) -> str | None:
    """`value` if it is an absolute http(s) URL, else None (anything else is never linked)."""
    if not value or any(character.isspace() for character in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in {"http", "https"} and parts.hostname else None


# --- header: navigation, date, entity, category, title ---------------------------------------


def _read_header(lines: list[str], fallback_date: datetime | None, file: str) -> _Header:
    filled = [index for index, line in enumerate(lines) if line]
    position, published = _locate_date(lines, filled, file)
    if published is None:
        if fallback_date is None:
            reason = "no date: expected a date line such as 'Apr 23, 2026' or '2026-04-23'"
            raise ParseError(reason, file=file, line=_expected_line(filled, position))
        published = fallback_date
    entity, position = _take_short_line(lines, filled, position, "entity", file)
    category, position = _take_short_line(lines, filled, position, "category", file)
    title, position = _take_short_line(lines, filled, position, "title", file)
    if _is_footer_phrase(title):
        raise ParseError("no title (found the footer)", file=file, line=filled[position - 1] + 1)
    return _Header(published, entity, category, title, title_index=filled[position - 1])


def _locate_date(lines: list[str], filled: list[int], file: str) -> tuple[int, datetime | None]:
    """Position (in `filled`) after the date line and its date; without one, after navigation."""
    for position, index in enumerate(filled[: MAX_LEADING_LINES + 1]):
        line = lines[index]
        try:
            published = _date_from_line(line)
        except (ValueError, OverflowError) as error:
            raise ParseError(f"invalid date {line!r}: {error}", file=file, line=index + 1) from None
        if published is not None:
            return position + 1, published
        if len(line) > MAX_NAVIGATION_CHARS:
            break
    return _count_navigation_lines(lines, filled), None


def _count_navigation_lines(lines: list[str], filled: list[int]) -> int:
    count = 0
    for index in filled[:MAX_LEADING_LINES]:
        if len(lines[index]) > MAX_NAVIGATION_CHARS or not _NAVIGATION.fullmatch(lines[index]):
            break
        count += 1
    return count


def _date_from_line(line: str) -> datetime | None:
    """The date a date line shows, None if it is no date line; ValueError if it is impossible."""
    if len(line) > MAX_NAVIGATION_CHARS:
        return None
    if match := _ISO_DATE.fullmatch(line):
        return as_utc(datetime.fromisoformat(match["iso"]))
    match = _MONTH_FIRST_DATE.fullmatch(line) or _DAY_FIRST_DATE.fullmatch(line)
    if match is None:
        return None
    month = _MONTHS[match["month"][:3].lower()]
    return as_utc(datetime(int(match["year"]), month, int(match["day"])))


def _take_short_line(
    lines: list[str], filled: list[int], position: int, what: str, file: str
) -> tuple[str, int]:
    """The `what` line at `position` (short, with letters or digits) and the next position."""
    if position >= len(filled):
        raise ParseError(f"no {what} line", file=file, line=_expected_line(filled, position))
    index = filled[position]
    text = " ".join(lines[index].split())
    limit = MAX_TITLE_CHARS if what == "title" else MAX_LABEL_CHARS
    if len(text) > limit:
        reason = f"the {what} line is {len(text)} characters long (at most {limit} expected)"
        raise ParseError(reason, file=file, line=index + 1)
    if not any(character.isalnum() for character in text):
        raise ParseError(f"the {what} line has no letters or digits", file=file, line=index + 1)
    return text, position + 1


def _expected_line(filled: list[int], position: int) -> int:
    """1-based line where the thing at `position` was expected (just after what came before)."""
    if position < len(filled):
        return filled[position] + 1
    return filled[position - 1] + 2 if position > 0 else 1


# --- body: lede, sections, footer ----------------------------------------------------------


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _is_heading(paragraph: list[str]) -> bool:
    """A single short line that does not end like a sentence."""
    if len(paragraph) != 1 or len(paragraph[0]) > MAX_HEADING_CHARS:
        return False
    text = paragraph[0]
    has_letters = any(character.isalpha() for character in text)
    return has_letters and not text.rstrip(_CLOSING_MARKS).endswith(_SENTENCE_END)


def _is_footer_phrase(line: str) -> bool:
    return len(line) <= MAX_HEADING_CHARS and _FOOTER_PHRASE.fullmatch(line) is not None


def _strip_footer(paragraphs: list[list[str]]) -> list[list[str]]:
    """Drop the trailing footer: known phrases, and short lines with no body after them."""
    kept = list(paragraphs)
    while kept:
        last = kept[-1]
        # The first paragraph is the lede: only a known footer phrase may take it away.
        may_be_generic = len(kept) > 1 and _is_heading(last)
        if may_be_generic or all(_is_footer_phrase(line) for line in last):
            kept.pop()
            continue
        kept[-1] = _without_trailing_footer_phrases(last)
        break
    return kept


def _without_trailing_footer_phrases(paragraph: list[str]) -> list[str]:
    end = len(paragraph)
    while end > 1 and _is_footer_phrase(paragraph[end - 1]):
        end -= 1
    return paragraph[:end]


def _lede_and_sections(paragraphs: list[list[str]]) -> tuple[str, tuple[Section, ...]]:
    """The lede (paragraphs before the first heading) and the titled sections after it."""
    starts_with_section = (
        len(paragraphs) > 1 and _is_heading(paragraphs[0]) and not _is_heading(paragraphs[1])
    )
    lede_end = 0 if starts_with_section else _first_heading_after_lede(paragraphs)
    summary = "\n\n".join(_paragraph_text(paragraph) for paragraph in paragraphs[:lede_end])
    return summary, _sections(paragraphs[lede_end:])


def _first_heading_after_lede(paragraphs: list[list[str]]) -> int:
    for position in range(1, len(paragraphs)):
        if _is_heading(paragraphs[position]):
            return position
    return len(paragraphs)


def _sections(paragraphs: list[list[str]]) -> tuple[Section, ...]:
    """Each heading with its body paragraphs ('' if none); `paragraphs` starts with a heading."""
    headed: list[tuple[str, list[str]]] = []
    for paragraph in paragraphs:
        if _is_heading(paragraph) or not headed:
            headed.append((" ".join(paragraph[0].split()), []))
        else:
            headed[-1][1].append(_paragraph_text(paragraph))
    return tuple(Section(heading, "\n\n".join(bodies)) for heading, bodies in headed)


def _paragraph_text(paragraph: list[str]) -> str:
    return "\n".join(paragraph)
