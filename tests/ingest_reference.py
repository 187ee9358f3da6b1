"""The row of a new brief as `new_row` computed it before it was made fast, kept as the oracle
of tests/test_ingest_row_equivalence.py: the plain way, one step after another.

Only what the fast version changed is copied here; helpers it left alone are imported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from bot.filter_terms import blank_control_chars
from bot.search.document import FACET_PREFIXES, FIELDS_OF_BODY, TITLE_TOKENS
from bot.search.rank import FIELDS, K1, LEVELS, day_number
from bot.search.tokens import (
    FIELD_SEPARATOR,
    MAX_DOCUMENT_TOKENS,
    MAX_TOKEN_LENGTH,
    _ascii_tokens,
    run_spans,
    run_tokens,
)
from bot.signal import SHORT_ID_LENGTH, Signal, as_utc, slugify
from bot.store.signals import NEW_ROW_COLUMNS

_APOSTROPHES = str.maketrans({"‘": "'", "’": "'"})
_LOWER_ASCII_RUN = re.compile(r"[a-z0-9]+")
_MAYBE_NUMBER_THEN_WORD = re.compile("[0-9]e[0-9]")


def new_row(signal: Signal) -> tuple[Any, ...]:
    values = {
        "id": short_id(signal.source, signal.effective_key),
        "source": signal.source,
        "key": signal.key,
        "revision": 1,
        "title": signal.title,
        "published": signal.published,
        "entity": signal.entity,
        "category": signal.category,
        "topic": signal.topic,
        "entity_slug": name_key(signal.entity) if signal.entity else "",
        "category_slug": name_key(signal.category) if signal.category else "",
        "topic_slug": name_key(signal.topic) if signal.topic else "",
        "summary": signal.summary,
        "sections": [[s.heading, s.body] for s in signal.sections],
        "body_text": "\n\n".join(f"{s.heading}\n{s.body}" for s in signal.sections),
        "url": signal.url,
        "content_hash": content_hash(signal),
        **search_columns(signal),
    }
    return tuple(values[column] for column in NEW_ROW_COLUMNS)


def short_id(source: str, key: str) -> str:
    digest = hashlib.sha256(f"{source}\0{key}".encode()).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SHORT_ID_LENGTH]


def content_hash(signal: Signal) -> str:
    payload = {
        "title": signal.title,
        "published": signal.published.isoformat(),
        "entity": signal.entity,
        "category": signal.category,
        "topic": signal.topic,
        "summary": signal.summary,
        "sections": [[s.heading, s.body] for s in signal.sections],
        "url": signal.url,
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def name_key(name: str) -> str:
    return slugify(" ".join(blank_control_chars(name).translate(_APOSTROPHES).split()))


def fold(text: str) -> str:
    return " ".join(blank_control_chars(text).lower().translate(_APOSTROPHES).split())


def keyword_text(signal: Signal) -> str:
    parts = [signal.title, signal.summary]
    for section in signal.sections:
        parts += [section.heading, section.body]
    parts.append(signal.entity)
    return "\n".join(fold(part) for part in parts)


def search_columns(signal: Signal) -> dict[str, Any]:
    sections = " ".join(f"{section.heading} {section.body}" for section in signal.sections)
    body_fields = (signal.entity, signal.category, signal.topic, signal.summary, sections)
    title = document([signal.title], budget=TITLE_TOKENS)
    body = document(body_fields)
    return {
        "source_slug": name_key(signal.source),
        "keyword_text": keyword_text(signal),
        "search_title": title,
        "search_body": body,
        "search_facets": " ".join(facet_tokens(signal)),
        "search_impacts": impacts(title, body),
        "search_pairs": " ".join(f"__{a}_{b}" for a, b in pairwise(body.split())),
        "published_day": day_number(as_utc(signal.published).date()),
    }


def facet_tokens(signal: Signal) -> list[str]:
    return [
        FACET_PREFIXES[field]
        + name_key(getattr(signal, field)).encode("utf-8", "surrogatepass").hex()
        for field in FACET_PREFIXES
        if getattr(signal, field).strip()
    ]


def impacts(title: str, body: str) -> str:
    fields = [title.split(), *(line.split() for line in body.split("\n"))]
    fields += [[]] * (1 + len(FIELDS_OF_BODY) - len(fields))
    levels = word_levels(fields[: 1 + len(FIELDS_OF_BODY)])
    return " ".join([f"{token}_{level}" for token, level in levels.items()])


def word_levels(fields: Sequence[Sequence[str]]) -> dict[str, int]:
    frequency: dict[str, float] = {}
    for field, field_tokens in zip(FIELDS, fields, strict=True):
        if field_tokens:
            norm = 1.0 - field.b + field.b * len(field_tokens) / field.typical_length
            for token, hits in Counter(field_tokens).items():
                frequency[token] = frequency.get(token, 0.0) + field.weight * hits / norm
    levels = {}
    for token, tf in frequency.items():
        levels[token] = max(1, math.ceil(LEVELS * tf / (K1 + tf) - 1e-9))
    return levels


def document(fields: Iterable[str], *, budget: int = MAX_DOCUMENT_TOKENS) -> str:
    lines = []
    for field in fields:
        field_tokens = tokens(field)[:budget]
        budget -= len(field_tokens)
        lines.append(" ".join(field_tokens))
    return FIELD_SEPARATOR.join(lines)


def tokens(text: str) -> list[str]:
    if text.isascii():
        lowered = text.lower()
        runs = _LOWER_ASCII_RUN.findall(lowered)
        plain = not _MAYBE_NUMBER_THEN_WORD.search(lowered)
        if plain and max(map(len, runs), default=0) <= MAX_TOKEN_LENGTH:
            return runs
        return [token for run in runs for token in _ascii_tokens(run)]
    return [token for start, end in run_spans(text) for token in run_tokens(text[start:end])]
