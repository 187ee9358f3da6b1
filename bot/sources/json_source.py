"""The `json` source's reader: an endpoint answering a JSON list of signal objects.

Each object is validated by the same model as push ingest (SignalIn). One bad object does not
hold back the good ones: it is skipped, and the poll's warning names its field path.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from bot.errors import ParseError
from bot.sources.document import ParsedDocument, ParsedItem
from bot.sources.json_feed import decode_json
from bot.sources.json_signals import SignalIn, format_error_location

MAX_PROBLEMS_SHOWN = 5


def parse_json_signal_list(body: bytes, *, file: str = "<json>") -> ParsedDocument:
    """Valid signals of a JSON list (or single object); ParseError when none is valid."""
    payload = decode_json(body, file=file)
    objects = payload if isinstance(payload, list) else [payload]
    valid: list[SignalIn] = []
    problems: list[str] = []
    for index, obj in enumerate(objects):
        try:
            valid.append(SignalIn.model_validate(obj))
        except ValidationError as error:
            problems += [_problem(index, e["loc"], e["msg"]) for e in error.errors()]
    if problems and not valid:
        raise ParseError(f"no valid signal object: {_summarize(problems)}", file=file)
    warnings = [f"skipped invalid signal objects: {_summarize(problems)}"] if problems else []
    return ParsedDocument(_items(valid), len(valid), warnings)


def _items(valid: list[SignalIn]) -> Iterator[ParsedItem]:
    for obj in valid:
        yield ParsedItem(obj.to_signal())


def _problem(index: int, location: tuple[int | str, ...], message: str) -> str:
    path = format_error_location((index, *location))
    return f"{path}: {message.removeprefix('Value error, ')}"


def _summarize(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    hidden = len(problems) - MAX_PROBLEMS_SHOWN
    return f"{shown} (and {hidden} more)" if hidden > 0 else shown
