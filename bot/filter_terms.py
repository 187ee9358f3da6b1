"""Typed text into terms: the one tokenizer behind the FILTER grammar (bot.filters) and the
search QUERY grammar (bot.search.grammar), with the error messages both give for a term.

How quotes, `-` and `field:` read is described in bot.filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import FilterError

DATE_FIELDS = ("since", "until")
MAX_TEXT_LENGTH = 500

DOUBLE_QUOTES = frozenset('"“”„‟')
SINGLE_QUOTES = frozenset("'‘’")

FIELD_EXAMPLES = {
    "topic": '"AI Advances"',
    "entity": "Meta",
    "category": '"Platform Release"',
    "source": "optyx",
    "keyword": "rumour",
    "since": "2026-04-01",
    "until": "2026-04-30",
}
LONE_MINUS_MESSAGE = (
    "A `-` must touch what it excludes, like `-entity:Meta` or `-keyword:rumour` (no space)."
)

# Exactly the Unicode categories Cc (controls) and Cs (surrogates).
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FIELD_PREFIX = re.compile(r"([A-Za-z][A-Za-z_]*):")
_ECHO_LIMIT = 40


@dataclass(frozen=True, slots=True)
class RawTerm:
    """One term as typed: `-entity:"Open AI"` has negated=True, field="entity", value="Open AI".

    `field` is the lowercased name before the colon, or None for a bare word or phrase; `value`
    has its whitespace normalized and may be empty (`entity:`), which `check_term` rejects.
    """

    value: str
    field: str | None = None
    negated: bool = False
    quoted: bool = False
    written: str = ""


def tokenize(text: str, *, max_terms: int) -> list[RawTerm]:
    """Split typed text into terms: the one tokenizer behind both FILTER and QUERY."""
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise FilterError(
            f"That's {len(text):,} characters; the limit is {MAX_TEXT_LENGTH}. "
            "Please shorten it to a few names or words."
        )
    text = blank_control_chars(text)
    terms: list[RawTerm] = []
    position = _skip_spaces(text, 0)
    while position < len(text):
        term, position = _read_term(text, position)
        terms.append(term)
        if len(terms) > max_terms:
            raise FilterError(f"That's more than {max_terms} terms. Please use fewer.")
        position = _skip_spaces(text, position)
    return terms


def check_term(term: RawTerm, allowed_fields: Iterable[str]) -> None:
    """Raise FilterError when the term names a field not allowed here or has an empty value."""
    allowed = tuple(allowed_fields)
    if term.field is not None and term.field not in allowed:
        raise FilterError(_unknown_field_message(term.field, allowed))
    if not term.value:
        raise FilterError(_empty_value_message(term))


def echo(text: str) -> str:
    """The user's text shortened for quoting back in an error message."""
    return text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 1] + "…"


def blank_control_chars(text: str) -> str:
    """Control characters and lone surrogates (valid in JSON escapes, not in UTF-8) as spaces."""
    return _CONTROL_OR_SURROGATE.sub(" ", text)


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _at_boundary(text: str, position: int) -> bool:
    return position >= len(text) or text[position].isspace()


def _read_term(text: str, start: int) -> tuple[RawTerm, int]:
    position = start
    negated = text[position] == "-"
    if negated:
        position += 1
        if _at_boundary(text, position):
            raise FilterError(LONE_MINUS_MESSAGE)
    field_name = None
    prefix = _FIELD_PREFIX.match(text, position)
    if prefix:
        field_name = prefix.group(1).lower()
        position = prefix.end()
    value, quoted, position = _read_value(text, position)
    term = RawTerm(
        value=" ".join(value.split()),
        field=field_name,
        negated=negated,
        quoted=quoted,
        written=text[start:position],
    )
    return term, position


def _read_value(text: str, position: int) -> tuple[str, bool, int]:
    """The value at `position`, whether it was quoted, and where it ends."""
    if _at_boundary(text, position):
        return "", False, position
    if text[position] in DOUBLE_QUOTES:
        return _read_double_quoted(text, position)
    if text[position] in SINGLE_QUOTES:
        closing = _single_quote_closing(text, position)
        if closing is not None:
            return text[position + 1 : closing], True, closing + 1
    end = position
    while not _at_boundary(text, end) and text[end] not in DOUBLE_QUOTES:
        end += 1
    return text[position:end], False, end


def _read_double_quoted(text: str, opening: int) -> tuple[str, bool, int]:
    for closing in range(opening + 1, len(text)):
        if text[closing] in DOUBLE_QUOTES:
            return text[opening + 1 : closing], True, closing + 1
    raise FilterError(
        f"A quote isn't closed in `{echo(text[opening:])}`. "
        'Add the closing quote, like "AI Advances".'
    )


def _single_quote_closing(text: str, opening: int) -> int | None:
    """Where a single-quoted phrase ends, or None when the quote is just an apostrophe."""
    for position in range(opening + 1, len(text)):
        char = text[position]
        if char in DOUBLE_QUOTES:
            return None
        if char in SINGLE_QUOTES and _at_boundary(text, position + 1):
            return position
    return None


def _unknown_field_message(name: str, allowed: tuple[str, ...]) -> str:
    listed = ", ".join(f"`{known}:`" for known in allowed)
    if name in DATE_FIELDS:
        return f"`{name}:` only works in search. A filter can use {listed}."
    return (
        f"I don't know the field `{name}:`. Use {listed}, "
        "or put the text in quotes to take it as it is."
    )


def _empty_value_message(term: RawTerm) -> str:
    if term.quoted:
        return (
            f"There's nothing between the quotes in `{echo(term.written)}`. "
            'Put words inside, like "AI Advances".'
        )
    name = term.field or "topic"
    example = FIELD_EXAMPLES.get(name, "Meta")
    return f"`{name}:` needs a value right after the colon (no space), like `{name}:{example}`."
