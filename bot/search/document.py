"""What a brief stores for search, derived from the Signal alone (see `bot.search.tokens`).

- `search_title`, `search_body`: the index text of the title, and of entity, category, topic,
  summary and sections (one line each, in FIELDS_OF_BODY order), which ranking reads back.
- `search_impacts`: every word of the brief with its level (`bot.search.rank`), as `model_7`:
  the index can then hand out the briefs where a word has a given level, newest first, and
  SQLite's prefix indexes find the words a prefix starts (`mo*`) from it.
- `search_pairs`: every two tokens that follow each other in the body (lines running on, as
  `bot.search.rank.occurs` reads them), as `__model_of`. A phrase is then a lookup of one pair, or
  of its pairs in a row, instead of a position check over every brief holding all of its words.
- `search_facets`: one token per filterable value (`e` + hex of the entity's name key, `t` topic,
  `c` category, `s` source), so SQLite applies FILTER fields inside the full-text index.
- `published_day`: days since 1970 (UTC), which orders the index: newest day first.
- `keyword_text`: `bot.filters.keyword_text`, so `keyword:` in SQL is exactly SignalFilter's.
- `source_slug`: the source's name key, as filters compare it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, pairwise
from typing import Any

from bot.filters import keyword_text, name_key
from bot.search.rank import day_number, levels_of_frequencies, term_frequencies
from bot.search.tokens import FIELD_SEPARATOR, budgeted_tokens, document_text
from bot.signal import Signal, as_utc

TITLE_TOKENS = 200
FIELDS_OF_BODY = ("entity", "category", "topic", "summary", "sections")
FACET_PREFIXES = {"topic": "t", "entity": "e", "category": "c", "source": "s"}
# Tokens are [a-z0-9]+ (bot.search.tokens), so `_` cannot be part of one: a level and the words
# of a pair are read back without doubt, and the index tokenizers keep `_` inside a token. Pairs
# start with PAIR_MARK so that FTS5's prefix indexes file them apart from words (`mo*` reads
# words only) and under very few keys (`__`, `__m`).
LEVEL_MARK = "_"
PAIR_MARK = "__"


def search_columns(signal: Signal) -> dict[str, Any]:
    """Column values a stored signal needs for search and filters."""
    sections = " ".join(f"{section.heading} {section.body}" for section in signal.sections)
    body_fields = (signal.entity, signal.category, signal.topic, signal.summary, sections)
    (title,) = budgeted_tokens([signal.title], budget=TITLE_TOKENS)
    body = budgeted_tokens(body_fields)
    return {
        "source_slug": name_key(signal.source),
        "keyword_text": keyword_text(signal),
        "search_title": " ".join(title),
        "search_body": document_text(body),
        "search_facets": " ".join(facet_tokens(signal)),
        "search_impacts": impact_text([title, *body]),
        "search_pairs": pair_text(list(chain.from_iterable(body))),
        "published_day": day_number(as_utc(signal.published).date()),
    }


def impacts(title: str, body: str) -> str:
    """Every token of the index text with its level: `model_8 the_5 …`."""
    fields = [title.split(), *(line.split() for line in body.split(FIELD_SEPARATOR))]
    fields += [[]] * (1 + len(FIELDS_OF_BODY) - len(fields))
    return impact_text(fields[: 1 + len(FIELDS_OF_BODY)])


def impact_text(fields: Sequence[Sequence[str]]) -> str:
    """`impacts` of the tokens of the title and of each FIELDS_OF_BODY."""
    frequency = term_frequencies(fields)
    suffix = {
        tf: f"{LEVEL_MARK}{level}"
        for tf, level in levels_of_frequencies(frequency.values()).items()
    }
    # `model` + `_8`, joined in C: no Python step per word (this runs for every word stored).
    return " ".join(map(str.__add__, frequency, map(suffix.__getitem__, frequency.values())))


def impact_token(token: str, level: int) -> str:
    """The index token for a word at a level: `model`, 7 -> `model_7`."""
    return f"{token}{LEVEL_MARK}{level}"


def pairs(body: str) -> str:
    """Each two tokens in a row of the body's index text, in order: `__model_of __of_the …`.

    In order (not a set), so that positions in the index tell pairs in a row: a phrase of three
    words or more is its pairs as a phrase.
    """
    return pair_text(body.split())


def pair_text(words: Sequence[str]) -> str:
    """`pairs` of the body's tokens: `" ".join(pair_tokens(words))`, joined in C."""
    if len(words) < 2:
        return ""
    return PAIR_MARK + f" {PAIR_MARK}".join(map("_".join, pairwise(words)))


def pair_tokens(words: Sequence[str]) -> list[str]:
    """The index tokens of each two words in a row: `model of the` -> `__model_of __of_the`."""
    return [f"{PAIR_MARK}{first}_{second}" for first, second in pairwise(words)]


def facet_tokens(signal: Signal) -> list[str]:
    """The tokens that let the full-text index filter by FILTER fields."""
    return [
        facet_token(field, name_key(getattr(signal, field)))
        for field in FACET_PREFIXES
        if getattr(signal, field).strip()
    ]


def facet_token(field: str, slug: str) -> str:
    """The token for one FILTER value: `entity` + `meta` -> `e6d657461`."""
    return FACET_PREFIXES[field] + slug.encode("utf-8", "surrogatepass").hex()
