"""FILTER fields and dates as SQL, meaning exactly what SignalFilter.matches and the QUERY do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, SQLColumnExpression, not_, or_

from bot.filters import SignalFilter
from bot.signal import as_utc
from bot.store.models import StoredSignal

if TYPE_CHECKING:
    from bot.search.backends import Constraints

SLUG_COLUMNS = {
    "topic": StoredSignal.topic_slug,
    "entity": StoredSignal.entity_slug,
    "category": StoredSignal.category_slug,
    "source": StoredSignal.source_slug,
}


@dataclass(frozen=True, slots=True)
class Conditions:
    """A QUERY's constraints as SQL: `indexed` ones an index serves, `scanned` ones tested per row
    (`keyword:`, a substring test), and the keywords those test (wanted and excluded)."""

    indexed: tuple[ColumnElement[bool], ...] = ()
    scanned: tuple[ColumnElement[bool], ...] = ()
    keywords: frozenset[str] = frozenset()
    excluded_keywords: frozenset[str] = frozenset()


def conditions_of(
    signal_filter: SignalFilter, since: date | None = None, until: date | None = None
) -> Conditions:
    """A FILTER and a date range as SQL, exactly as SignalFilter.matches and the QUERY grammar."""
    indexed = [slug_condition(name, values) for name, values in _names(signal_filter.include)]
    indexed += [
        not_(slug_condition(name, values)) for name, values in _names(signal_filter.exclude)
    ]
    scanned = []
    keywords = signal_filter.include.get("keyword", frozenset())
    excluded = signal_filter.exclude.get("keyword", frozenset())
    if keywords:
        scanned.append(mentions_any(keywords))
    if excluded:
        scanned.append(not_(mentions_any(excluded)))
    return Conditions(
        tuple(indexed + date_conditions(since, until)), tuple(scanned), keywords, excluded
    )


def filter_conditions(signal_filter: SignalFilter) -> list[ColumnElement[bool]]:
    """A FILTER as SQL conditions: fields AND-ed, values OR-ed, excludes negated."""
    conditions = conditions_of(signal_filter)
    return [*conditions.indexed, *conditions.scanned]


def _names(values: Mapping[str, frozenset[str]]) -> list[tuple[str, frozenset[str]]]:
    return [(name, group) for name, group in values.items() if name != "keyword"]


def mentions_any(
    keywords: frozenset[str], text: SQLColumnExpression[str] = StoredSignal.keyword_text
) -> ColumnElement[bool]:
    """The brief's keyword text (`text`) contains one of the (folded) keywords."""
    return or_(*(_mentions(keyword, text) for keyword in sorted(keywords)))


def _mentions(keyword: str, text: SQLColumnExpression[str]) -> ColumnElement[bool]:
    # keyword_text and keywords are both folded (bot.filters.fold): a plain substring test.
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return text.like(f"%{escaped}%", escape="\\")


def date_conditions(since: date | None, until: date | None) -> list[ColumnElement[bool]]:
    """`since` and `until` (inclusive days, UTC) on `published`."""
    conditions = []
    if since:
        conditions.append(StoredSignal.published >= as_utc(since))
    if until:
        conditions.append(StoredSignal.published < as_utc(until + timedelta(days=1)))
    return conditions


def slug_condition(name: str, values: frozenset[str]) -> ColumnElement[bool]:
    """The row has one of these name keys in field `name`."""
    return SLUG_COLUMNS[name].in_(sorted(values))


def keyword_conditions(
    constraints: Constraints, text: SQLColumnExpression[str] = StoredSignal.keyword_text
) -> list[ColumnElement[bool]]:
    """`keyword:` and `-keyword:` as row tests on `keyword_text` (or on `text`, its column in a
    subquery)."""
    tests = []
    if constraints.keywords:
        tests.append(mentions_any(constraints.keywords, text))
    if constraints.excluded_keywords:
        tests.append(not_(mentions_any(constraints.excluded_keywords, text)))
    return tests
