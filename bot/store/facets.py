"""What the archive holds, for pickers and `/signals topics`: topics, entities and categories with
their counts, and how many briefs a FILTER would have matched.

Every query is served by the `(slug, published)` and `published` indexes, so it stays fast at a
million briefs (benchmarks/bench_manage.py):
- counts over a recent window read only that window's rows (`published >= since`);
- the archive's distinct values are walked with a loose index scan (a recursive query that seeks
  from one value to the next), never by reading every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, not_, or_, select, text
from sqlalchemy.orm import Session

from bot.filters import SignalFilter, name_key
from bot.store.models import StoredSignal

FACET_FIELDS = ("topic", "entity", "category")
SLUG_COLUMNS = {
    "topic": StoredSignal.topic_slug,
    "entity": StoredSignal.entity_slug,
    "category": StoredSignal.category_slug,
    "source": StoredSignal.source_slug,
}
LABEL_COLUMNS = {
    "topic": StoredSignal.topic,
    "entity": StoredSignal.entity,
    "category": StoredSignal.category,
    "source": StoredSignal.source,
}


@dataclass(frozen=True, slots=True)
class Facet:
    """One value of a field: its slug (what filters compare), a label to show, and a count."""

    field: str
    slug: str
    label: str
    count: int


def facet_counts(
    session: Session, field: str, since: datetime, *, limit: int | None = None
) -> list[Facet]:
    """The field's values among briefs published since `since`, most frequent first."""
    return _window_counts(session, field, since, limit=limit)


def facet_options(
    session: Session, field: str, typed: str, since: datetime, *, limit: int = 100
) -> list[Facet]:
    """Picker options for what was typed: values used since `since` that contain it, most
    frequent first, then older values of the archive that start with it, alphabetically."""
    wanted = name_key(typed) if typed.strip() else ""
    recent = _window_counts(session, field, since, containing=wanted, limit=limit)
    if len(recent) >= limit:
        return recent
    seen = {facet.slug for facet in recent}
    older = [
        Facet(field, slug, label, 0)
        for slug, label in distinct_values(session, field, wanted, limit=limit)
        if slug not in seen
    ]
    return recent + older[: limit - len(recent)]


def distinct_values(
    session: Session, field: str, prefix: str = "", *, limit: int
) -> list[tuple[str, str]]:
    """Up to `limit` distinct non-empty (slug, label) of the field whose slug starts with `prefix`,
    in index order; the label is the spelling of the value's latest brief.

    A loose index scan: each step seeks the next larger value, so the cost grows with the number
    of values returned, not with the number of briefs.
    """
    # Column names come from fixed tables, never from input.
    column, label = SLUG_COLUMNS[field].key, LABEL_COLUMNS[field].key
    first = f"{column} >= :prefix" if prefix else f"{column} > ''"
    walk = text(
        f"""
        WITH RECURSIVE walk(slug, n) AS (
            SELECT (SELECT min({column}) FROM signals WHERE {first}), 1
            UNION ALL
            SELECT (SELECT min({column}) FROM signals WHERE {column} > walk.slug), walk.n + 1
            FROM walk
            WHERE walk.slug IS NOT NULL AND walk.n < :limit
              AND substr(walk.slug, 1, :length) = :prefix
        )
        SELECT slug, (
            SELECT {label} FROM signals WHERE {column} = walk.slug ORDER BY published DESC LIMIT 1
        )
        FROM walk WHERE slug IS NOT NULL AND substr(slug, 1, :length) = :prefix
        """
    )
    rows = session.execute(walk, {"prefix": prefix, "length": len(prefix), "limit": limit})
    return [(str(slug), str(shown or slug)) for slug, shown in rows]


def has_more_values_than(session: Session, field: str, count: int) -> bool:
    """True when the archive holds more than `count` distinct values of the field."""
    return len(distinct_values(session, field, limit=count + 1)) > count


def matching_count(session: Session, signal_filter: SignalFilter, since: datetime) -> int:
    """How many briefs published since `since` the FILTER matches (as SignalFilter.matches)."""
    query = select(func.count()).select_from(StoredSignal).where(StoredSignal.published >= since)
    for condition in filter_conditions(signal_filter):
        query = query.where(condition)
    return int(session.scalar(query) or 0)


def filter_conditions(signal_filter: SignalFilter) -> list[ColumnElement[bool]]:
    """A FILTER as SQL: fields AND-ed, values OR-ed, excludes negated (keywords: substrings)."""
    conditions = [_field_condition(name, values) for name, values in signal_filter.include.items()]
    conditions += [
        not_(_field_condition(name, values)) for name, values in signal_filter.exclude.items()
    ]
    return conditions


def _field_condition(name: str, values: frozenset[str]) -> ColumnElement[bool]:
    if name != "keyword":
        return SLUG_COLUMNS[name].in_(sorted(values))
    # keyword_text and keywords are both folded (bot.filters.fold): a plain substring test.
    return or_(
        *(
            StoredSignal.keyword_text.like(f"%{_like_escaped(keyword)}%", escape="\\")
            for keyword in sorted(values)
        )
    )


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _window_counts(
    session: Session,
    field: str,
    since: datetime,
    *,
    containing: str = "",
    limit: int | None = None,
) -> list[Facet]:
    # The window's rows first, through the `published` index: left to itself the planner would
    # walk the whole (slug, published) index for the GROUP BY's order, every brief of the archive.
    recent = (
        select(SLUG_COLUMNS[field].label("slug"), LABEL_COLUMNS[field].label("label"))
        .where(StoredSignal.published >= since)
        .cte("recent")
        .prefix_with("MATERIALIZED")
    )
    count = func.count().label("n")
    query = (
        select(recent.c.slug, func.max(recent.c.label), count)
        .where(recent.c.slug != "")
        .group_by(recent.c.slug)
        .order_by(count.desc(), recent.c.slug)
        .limit(limit)
    )
    if containing:
        query = query.where(recent.c.slug.like(f"%{_like_escaped(containing)}%", escape="\\"))
    return [Facet(field, str(s), str(shown or s), int(n)) for s, shown, n in session.execute(query)]
