"""JSON signal objects (CONTRACT.md, "A JSON signal object"): one object or a list of them."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from bot.errors import ParseError
from bot.signal import Section, Signal, as_utc
from bot.sources.brief_format import read_utf8_text
from bot.sources.json_text import valid_json_strings

MAX_JSON_SIGNAL_BYTES = 32 * 1024 * 1024

_JSON_WHITESPACE = " \t\n\r"
_WHITESPACE = re.compile(r"\s")  # exactly the characters str.isspace() accepts


class SectionIn(BaseModel):
    """One `{"heading", "body"}` pair of a JSON signal."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    heading: str = Field(min_length=1)
    body: str


class SignalIn(BaseModel):
    """A JSON signal object as publishers send it; `to_signal()` normalizes it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    title: str = Field(min_length=1)
    published: datetime
    key: str = ""
    entity: str = ""
    category: str = ""
    topic: str = ""
    summary: str = ""
    url: str | None = None
    sections: list[SectionIn] = Field(default_factory=list)

    @field_validator("key", "entity", "category", "topic", "summary", mode="before")
    @classmethod
    def _null_as_empty(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("sections", mode="before")
    @classmethod
    def _null_as_no_sections(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("published", mode="before")
    @classmethod
    def _iso_8601(cls, value: object) -> datetime:
        return _parse_published(value)

    @field_validator("url", mode="before")
    @classmethod
    def _http_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and not _is_http_url(value.strip()):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value

    def to_signal(self) -> Signal:
        """This object as a Signal (source left empty for the caller to set)."""
        return Signal(
            title=self.title,
            published=self.published,
            key=self.key,
            entity=self.entity,
            category=self.category,
            topic=self.topic,
            summary=self.summary,
            sections=tuple(Section(section.heading, section.body) for section in self.sections),
            url=self.url,
        )


def _payload_shape(value: Any) -> str:
    return "list" if isinstance(value, list) else "object"


# Tagged so an error names only the shape that was sent; error locations start with the tag
# ("object" or "list"). signals_from_payload gives locations without it.
SIGNAL_PAYLOAD: TypeAdapter[SignalIn | list[SignalIn]] = TypeAdapter(
    Annotated[
        Annotated[SignalIn, Tag("object")] | Annotated[list[SignalIn], Tag("list")],
        Discriminator(_payload_shape),
    ]
)
_ONE_SIGNAL = TypeAdapter(SignalIn)
_SIGNAL_LIST = TypeAdapter(list[SignalIn])


def signals_from_payload(obj: object) -> list[Signal]:
    """Signals from decoded JSON (one object or a list); raises pydantic.ValidationError.
    A string UTF-8 cannot hold (a lone surrogate) is stored with U+FFFD in its place."""
    try:
        return _validated(obj)
    except ValidationError as error:
        if not any(problem["type"] == "string_unicode" for problem in error.errors()):
            raise
    return _validated(valid_json_strings(obj))  # rare: so checked only after the fact


def _validated(obj: object) -> list[Signal]:
    if isinstance(obj, list):
        return [item.to_signal() for item in _SIGNAL_LIST.validate_python(obj)]
    return [_ONE_SIGNAL.validate_python(obj).to_signal()]


def parse_json_signals(text: str, *, file: str = "<input>") -> list[Signal]:
    """Signals from JSON text; ParseError naming `file`, the line and the field path."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ParseError("empty file", file=file, line=1)
    payload = _decode_json(text, file)
    try:
        return signals_from_payload(payload)
    except ValidationError as error:
        raise _validation_parse_error(error, text, file) from None


def read_json_signal_file(path: Path) -> list[Signal]:
    """Read and parse the JSON signal file at `path` (UTF-8, BOM allowed)."""
    return parse_json_signals(read_utf8_text(path, max_bytes=MAX_JSON_SIGNAL_BYTES), file=str(path))


def format_error_location(location: tuple[int | str, ...]) -> str:
    """`(2, "sections", 0, "heading")` -> `[2].sections[0].heading`."""
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else part)
    return "".join(parts)


def _parse_published(value: object) -> datetime:
    """An ISO 8601 date or datetime as aware UTC (no offset = UTC); numbers are refused."""
    if isinstance(value, date):
        return as_utc(value)
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date or datetime string")
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or datetime (e.g. 2026-04-23 or "
            "2026-04-23T09:30:00Z)"
        ) from None


def _is_http_url(value: str) -> bool:
    if _WHITESPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def _decode_json(text: str, file: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"invalid JSON: {error.msg}", file=file, line=error.lineno) from None
    except RecursionError:
        raise ParseError("invalid JSON: nested too deeply", file=file, line=1) from None


def _validation_parse_error(error: ValidationError, text: str, file: str) -> ParseError:
    problems = error.errors()
    first = problems[0]
    location = format_error_location(tuple(first["loc"]))
    message = first["msg"].removeprefix("Value error, ")
    reason = f"{location}: {message}" if location else message
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more)"
    return ParseError(reason, file=file, line=_line_of_item(text, first["loc"]))


def _line_of_item(text: str, location: tuple[int | str, ...]) -> int:
    """Line where the offending top-level object starts (the payload's first line otherwise)."""
    offsets = _top_level_offsets(text)
    index = location[0] if location and isinstance(location[0], int) else 0
    offset = offsets[index] if index < len(offsets) else 0
    return text.count("\n", 0, offset) + 1


def _top_level_offsets(text: str) -> list[int]:
    """Start offsets of the top-level value, or of each item when it is a list."""
    decoder = json.JSONDecoder()
    start = _skip_whitespace(text, 0)
    if not text.startswith("[", start):
        return [start]
    offsets: list[int] = []
    position = _skip_whitespace(text, start + 1)
    while position < len(text) and text[position] != "]":
        offsets.append(position)
        _, end = decoder.raw_decode(text, position)
        position = _skip_whitespace(text, end)
        if text.startswith(",", position):
            position = _skip_whitespace(text, position + 1)
    return offsets


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _JSON_WHITESPACE:
        position += 1
    return position
