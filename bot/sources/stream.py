"""Archives of any size, read one signal at a time: a JSON array, NDJSON, or a folder of files.

Reading comes in two steps, so that the second can run in other processes (bot.bulk_ingest):
`unread_items(path, kind)` cuts the archive into `Unread` items (an NDJSON line, an array
element, a folder's file), each with the line (or file) it came from and how many bytes are
behind it (for a progress bar); `read_item` turns one into `Streamed` records, each a signal or
the error that kept one from being read. `stream_signals` does both. Memory holds one
READ_CHUNK of text and the item being decoded, whatever the size of the file.

Which format a file is comes from its name or its first character: `.ndjson` and `.jsonl` are
NDJSON (one object a line); `[` is a JSON array; `{` is NDJSON when a whole object on the first
line has anything after it (one JSON document cannot go on past its object, so a broken second
line is NDJSON's bad line, not a broken document), else one document.
A malformed item is reported and skipped; JSON that breaks the array itself ends the stream
with an error there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from bot.errors import ParseError
from bot.signal import Signal
from bot.sources.any_document import items_from_document
from bot.sources.json_signals import format_error_location, signals_from_payload

READ_CHUNK = 1 << 20
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
# An element still undecoded after this many characters is broken, not cut off by the window.
MAX_ITEM_CHARS = 16 << 20
FOLDER_SUFFIXES = (".txt", ".json", ".xml", ".rss", ".atom")
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Unread:
    """One item of an archive, cut out but not read: a line of JSON text, an array element
    (decoded, as finding its end decodes it), a folder's file, or why the archive broke there."""

    where: str
    position: int
    text: str | None = None
    element: object = None
    file: Path | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Streamed:
    """One item of an archive: its signal, or why it could not be read; where it was."""

    where: str
    signal: Signal | None = None
    error: str = ""
    position: int = 0


def stream_kind(path: Path) -> str:
    """`folder`, `array`, `ndjson` or `document` (a single brief, JSON signal or feed)."""
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in NDJSON_SUFFIXES:
        return "ndjson"
    with path.open(encoding="utf-8-sig", errors="replace") as stream:
        head = stream.read(READ_CHUNK).lstrip(_SPACE)
    if head.startswith("["):
        return "array"
    if head.startswith("{"):
        first_line, _, rest = head.partition("\n")
        if rest.strip(_SPACE) and _is_json_object(first_line):
            return "ndjson"
    return "document"


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def stream_signals(path: Path, kind: str) -> Iterator[Streamed]:
    """The signals of an archive of kind `array`, `ndjson` or `folder` (stream_kind)."""
    for unread in unread_items(path, kind):
        yield from read_item(unread)


def unread_items(path: Path, kind: str) -> Iterator[Unread]:
    """The items of an archive of kind `array`, `ndjson` or `folder`, in order, not yet read."""
    cutters = {"array": unread_array, "ndjson": unread_ndjson, "folder": unread_folder}
    return cutters[kind](path)


def read_item(unread: Unread) -> list[Streamed]:
    """What one item holds: a signal or an error (a folder's file may hold several signals)."""
    if unread.error:
        return [Streamed(unread.where, error=unread.error, position=unread.position)]
    if unread.file is not None:
        return _read_file(unread.file, unread.position)
    payload = _decoded(unread.text) if unread.text is not None else unread.element
    return [_item(unread.where, payload, unread.position)]


def stream_folder(path: Path) -> Iterator[Streamed]:
    """Every brief, JSON signal file or feed file in a folder (not its subfolders), by name."""
    return stream_signals(path, "folder")


def unread_folder(path: Path) -> Iterator[Unread]:
    files = sorted(
        child for child in path.iterdir() if child.is_file() and child.suffix in FOLDER_SUFFIXES
    )
    for number, child in enumerate(files, start=1):
        yield Unread(str(child), number, file=child)


def _read_file(path: Path, position: int) -> list[Streamed]:
    try:
        items = items_from_document(path.read_bytes(), name=str(path))
    except (ParseError, OSError) as error:
        return [Streamed(str(path), error=str(error), position=position)]
    return [Streamed(str(path), signal=item.signal, position=position) for item in items]


def stream_ndjson(path: Path) -> Iterator[Streamed]:
    """One signal per non-blank line."""
    return stream_signals(path, "ndjson")


def unread_ndjson(path: Path) -> Iterator[Unread]:
    position = 0
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            position += len(raw)
            line = raw.decode("utf-8", errors="replace").removeprefix("\ufeff").strip()
            if line:
                yield Unread(f"{path}:{number}", position, text=line)


def _decoded(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        return ParseError(f"not JSON: {error.msg} (column {error.colno})")


def _item(where: str, payload: object, position: int) -> Streamed:
    if isinstance(payload, ParseError):
        return Streamed(where, error=payload.reason, position=position)
    if not isinstance(payload, dict):
        return Streamed(where, error="expected a JSON object", position=position)
    try:
        (signal,) = signals_from_payload(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = format_error_location(tuple(first["loc"])) or "(the object)"
        return Streamed(where, error=f"{field}: {first['msg']}", position=position)
    return Streamed(where, signal=signal, position=position)


def stream_array(path: Path) -> Iterator[Streamed]:
    """The objects of a JSON array, each named by the line it starts on."""
    return stream_signals(path, "array")


def unread_array(path: Path) -> Iterator[Unread]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
        reader = _ArrayReader(stream)
        yield from reader.items(str(path))


class _ArrayReader:
    """Decodes a JSON array element by element from a bounded window of the text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self.at = 0  # where the next element (or `,` / `]`) starts in `text`
        self.line = 1  # the line `at` is on
        self.consumed = 0  # characters dropped from the front of `text`
        self.ended = False

    def items(self, name: str) -> Iterator[Unread]:
        if self._next_char() != "[":
            yield Unread(f"{name}:{self.line}", 0, error="expected a JSON array")
            return
        self._advance(1)
        expect_item = True
        while True:
            char = self._next_char()
            if char == "]" or (char == "" and self.ended):
                if char == "":
                    problem = "the array is not closed"
                    yield Unread(f"{name}:{self.line}", self._position, error=problem)
                return
            if char == "," and not expect_item:
                self._advance(1)
                expect_item = True
                continue
            start_line = self.line
            try:
                payload = self._decode()
            except json.JSONDecodeError as error:
                problem = f"not JSON: {error.msg}; stopped here"
                yield Unread(f"{name}:{start_line}", self._position, error=problem)
                return
            expect_item = False
            yield Unread(f"{name}:{start_line}", self._position, element=payload)

    @property
    def _position(self) -> int:
        return self.consumed + self.at

    def _next_char(self) -> str:
        """The next character that is not whitespace, reading more text when needed."""
        while True:
            stripped = len(self.text) - len(self.text[self.at :].lstrip(_SPACE))
            self._advance(stripped - self.at)
            if self.at < len(self.text) or not self._read_more():
                return self.text[self.at : self.at + 1]

    def _decode(self) -> object:
        while True:
            try:
                payload, end = _DECODER.raw_decode(self.text, self.at)
            except json.JSONDecodeError:
                if len(self.text) - self.at < MAX_ITEM_CHARS and self._read_more():
                    continue  # the element may just be cut off by the window
                raise
            if end == len(self.text) and self._read_more():
                continue  # a number at the window's edge may go on
            self._advance(end - self.at)
            return payload

    def _advance(self, count: int) -> None:
        self.line += self.text.count("\n", self.at, self.at + count)
        self.at += count

    def _read_more(self) -> bool:
        chunk = "" if self.ended else self.stream.read(READ_CHUNK)
        if not chunk:
            self.ended = True
            return False
        self.consumed += self.at
        self.text = self.text[self.at :] + chunk
        self.at = 0
        return True
