"""The words briefs are searched by: one tokenizer for both indexes, queries, ranking, snippets.

SQLite (FTS5, `ascii` tokenizer) and PostgreSQL (`to_tsvector('simple', …)`) both index text that
this module has already tokenized: lowercase ASCII letters and digits, a space between tokens, a
newline between fields. Neither database tokenizes anything itself, so a query matches exactly the
same briefs on both.

How text becomes tokens:
- A run is a stretch of letters, digits and combining marks; anything else separates runs.
- A run is folded: compatibility-decomposed (NFKD), casefolded, accents dropped:
  `Café` -> `cafe`, `Straße` -> `strasse`, `ﬁ` -> `fi`, `²` -> `2`.
- A run mixing ASCII and other scripts is split where it changes (`gpt東京` -> `gpt`, `東京`), and a
  non-ASCII part is stored as `x` + its UTF-8 in hex: PostgreSQL's parser reads non-ASCII letters
  by the database's locale (under plain C it drops them), and hex keeps prefixes working (`東*`
  is a prefix of `東京`).
- PostgreSQL reads `4e1c` as the number `4e1` followed by `c`; the tokenizer splits it likewise.
- Tokens are cut at MAX_TOKEN_LENGTH characters and documents at MAX_DOCUMENT_TOKENS tokens, which
  keeps a tsvector under PostgreSQL's 1 MB and its positions under 16,383.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

MAX_TOKEN_LENGTH = 64
MAX_DOCUMENT_TOKENS = 12_000
FIELD_SEPARATOR = "\n"

_ASCII_RUN = re.compile(r"[A-Za-z0-9]+")
# ASCII letters lowercased, digits kept, every other ASCII character a space: tokens are then
# what str.split() finds (twice as fast as a regular expression's findall on a brief's body).
_ASCII_TO_RUNS = str.maketrans(
    {code: chr(code).lower() if chr(code).isalnum() else " " for code in range(128)}
)
_ASCII_OR_OTHER = re.compile(r"[a-z0-9]+|[^a-z0-9\s]+")
# PostgreSQL's parser takes `<digits>e<digits>` as a number and starts a new word after it.
_NUMBER_THEN_WORD = re.compile(r"([0-9]+e[0-9]+)([a-z][a-z0-9]*)")
# Only runs like `4e1c` need PostgreSQL's number split; this finds every text that may have one.
_MAYBE_NUMBER_THEN_WORD = re.compile("[0-9]e[0-9]")
_MARKS = frozenset({"Mn", "Mc", "Me"})


def tokens(text: str) -> list[str]:
    """The index tokens of `text`, in order."""
    if text.isascii():
        spaced = text.translate(_ASCII_TO_RUNS)
        runs = spaced.split()
        if _plain(spaced, runs):
            return runs  # the common case, kept fast: every run is one token as it is
        return [token for run in runs for token in _ascii_tokens(run)]
    return [token for start, end in run_spans(text) for token in run_tokens(text[start:end])]


def is_plain_ascii(text: str) -> bool:
    """True when every run of `text` is one token, just lowercased (the common case)."""
    if not text.isascii():
        return False
    spaced = text.translate(_ASCII_TO_RUNS)
    return _plain(spaced, spaced.split())


def _plain(spaced: str, runs: list[str]) -> bool:
    """Whether ASCII text as runs (lowercase, spaces between), split into `runs`, needs no
    splitting or cutting."""
    if _MAYBE_NUMBER_THEN_WORD.search(spaced):
        return False
    return max(map(len, runs), default=0) <= MAX_TOKEN_LENGTH


def run_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where each run (letters, digits, marks) starts and ends in `text`."""
    if text.isascii():
        for match in _ASCII_RUN.finditer(text):
            yield match.span()
        return
    start = None
    for position, char in enumerate(text):
        if _is_run_char(char):
            start = position if start is None else start
        elif start is not None:
            yield start, position
            start = None
    if start is not None:
        yield start, len(text)


def run_span_list(text: str) -> list[tuple[int, int]]:
    """`run_spans` as a list, built without a generator for ASCII text (a brief's whole body
    for every snippet)."""
    if text.isascii():
        return [match.span() for match in _ASCII_RUN.finditer(text)]
    return list(run_spans(text))


def run_tokens(run: str) -> list[str]:
    """The tokens of one run as `run_spans` finds them (usually one)."""
    if run.isascii():
        return _ascii_tokens(run.lower())
    folded = "".join(_fold_char(char) for char in run)
    found: list[str] = []
    for part in _ASCII_OR_OTHER.findall(folded):
        found += _ascii_tokens(part.lower()) if part.isascii() else [_hex_token(part)]
    return found


def document(fields: Iterable[str], *, budget: int = MAX_DOCUMENT_TOKENS) -> str:
    """Fields as index text: tokens split by spaces, fields by newlines; at most `budget` tokens."""
    return document_text(budgeted_tokens(fields, budget=budget))


def budgeted_tokens(fields: Iterable[str], *, budget: int = MAX_DOCUMENT_TOKENS) -> list[list[str]]:
    """The tokens of each field, at most `budget` in all (the first ones)."""
    found = []
    for field in fields:
        field_tokens = tokens(field)[:budget]
        budget -= len(field_tokens)
        found.append(field_tokens)
    return found


def document_text(field_tokens: Iterable[list[str]]) -> str:
    """Fields' tokens as index text: tokens split by spaces, fields by newlines."""
    return FIELD_SEPARATOR.join(map(" ".join, field_tokens))


def _ascii_tokens(run: str) -> list[str]:
    """Lowercase ASCII letters and digits as tokens, split the way PostgreSQL splits numbers."""
    if len(run) <= MAX_TOKEN_LENGTH and not run[0].isdigit():
        return [run]
    split = _NUMBER_THEN_WORD.fullmatch(run)
    parts = split.groups() if split else (run,)
    return [part[:MAX_TOKEN_LENGTH] for part in parts]


def _hex_token(part: str) -> str:
    return ("x" + part.encode("utf-8", "surrogatepass").hex())[:MAX_TOKEN_LENGTH]


@lru_cache(maxsize=8192)
def _is_run_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) in _MARKS


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character folded: lowercase, without accents, maybe several characters or none."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    # Accents (nonspacing marks) vanish; what is neither letter, digit nor mark separates.
    return "".join(
        part if _is_token_char(part) else " "
        for part in decomposed
        if unicodedata.category(part) != "Mn"
    )


def _is_token_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) in ("Mc", "Me")
