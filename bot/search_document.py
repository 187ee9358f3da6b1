"""What a brief stores for search, derived from the Signal alone (see `bot.search_text`).

- `search_title`, `search_body`: the index text of the title, and of entity, category, topic,
  summary and sections (one line each, in FIELDS_OF_BODY order), which ranking reads back.
- `search_facets`: one token per filterable value (`e` + hex of the entity's name key, `t` topic,
  `c` category, `s` source) and per date (`y2026`, `m202604`, `d20260423`), so SQLite can apply
  FILTER fields and date ranges inside the full-text index, where they cost least.
- `keyword_text`: `bot.filters.keyword_text`, so `keyword:` in SQL is exactly SignalFilter's.
- `source_slug`: the source's name key, as filters compare it.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.filters import keyword_text, name_key
from bot.search_text import document
from bot.signal import Signal, as_utc

TITLE_TOKENS = 200
FIELDS_OF_BODY = ("entity", "category", "topic", "summary", "sections")
FACET_PREFIXES = {"topic": "t", "entity": "e", "category": "c", "source": "s"}


def search_columns(signal: Signal) -> dict[str, str]:
    """Column values a stored signal needs for search and filters."""
    sections = " ".join(f"{section.heading} {section.body}" for section in signal.sections)
    body_fields = (signal.entity, signal.category, signal.topic, signal.summary, sections)
    return {
        "source_slug": name_key(signal.source),
        "keyword_text": keyword_text(signal),
        "search_title": document([signal.title], budget=TITLE_TOKENS),
        "search_body": document(body_fields),
        "search_facets": " ".join(facet_tokens(signal)),
    }


def facet_tokens(signal: Signal) -> list[str]:
    """The tokens that let the full-text index filter by FILTER fields and dates."""
    named = [
        facet_token(field, name_key(getattr(signal, field)))
        for field in FACET_PREFIXES
        if getattr(signal, field).strip()
    ]
    return named + day_tokens(as_utc(signal.published).date())


def facet_token(field: str, slug: str) -> str:
    """The token for one FILTER value: `entity` + `meta` -> `e6d657461`."""
    return FACET_PREFIXES[field] + slug.encode("utf-8", "surrogatepass").hex()


def day_tokens(day: date) -> list[str]:
    """The year, month and day tokens of a date."""
    return [f"y{day:%Y}", f"m{day:%Y%m}", f"d{day:%Y%m%d}"]


def date_range_tokens(first: date, last: date) -> list[str]:
    """Fewest year, month and day tokens covering `first` to `last`, inclusive."""
    covering: list[str] = []
    ordinal = first.toordinal()
    while ordinal <= last.toordinal():
        day = date.fromordinal(ordinal)
        year_end, month_end = date(day.year, 12, 31), _month_end(day)
        if (day.month, day.day) == (1, 1) and year_end <= last:
            covering.append(f"y{day:%Y}")
            ordinal = year_end.toordinal() + 1
        elif day.day == 1 and month_end <= last:
            covering.append(f"m{day:%Y%m}")
            ordinal = month_end.toordinal() + 1
        else:
            covering.append(f"d{day:%Y%m%d}")
            ordinal += 1
    return covering


def _month_end(day: date) -> date:
    if day.month == 12:
        return date(day.year, 12, 31)
    return date(day.year, day.month + 1, 1) - timedelta(days=1)
