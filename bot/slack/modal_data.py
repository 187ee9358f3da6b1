"""What the subscribe modal shows, read from the database: options, labels and the preview count."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.errors import FilterError
from bot.filters import SignalFilter, parse_filter
from bot.slack.views.modal import option, usable
from bot.slack.views.modal_state import (
    MAX_STATIC_OPTIONS,
    PICKED_FIELDS,
    Choices,
    Picker,
    filter_text,
)
from bot.store.facets import (
    distinct_values,
    facet_options,
    has_more_values_than,
    matching_count,
)
from bot.store.models import utcnow

PREVIEW_DAYS = 30
SUGGESTIONS = 100


def window_start(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=PREVIEW_DAYS)


def pickers(session: Session, since: datetime) -> list[Picker]:
    """Each field's picker: every value listed when there are at most 100, else looked up."""
    found = []
    for name in PICKED_FIELDS:
        if has_more_values_than(session, name, MAX_STATIC_OPTIONS):
            found.append(Picker(name, external=True))
        else:
            found.append(Picker(name, facet_options(session, name, "", since, limit=SUGGESTIONS)))
    return found


def suggestions(
    session: Session, field: str, typed: str, since: datetime
) -> list[dict[str, object]]:
    """`block_suggestion` options for what was typed, most frequent first."""
    facets = facet_options(session, field, typed[:100], since, limit=SUGGESTIONS)
    return [option(facet) for facet in facets if usable(facet)]


def labels_of(
    session: Session, choices: Choices, pickers_shown: list[Picker]
) -> dict[tuple[str, str], str]:
    """Display labels for the picked slugs (from the listed options; slugs name themselves)."""
    known = {(facet.field, facet.slug): facet.label for p in pickers_shown for facet in p.options}
    for name, slugs in choices.picked.items():
        for slug in slugs:
            if (name, slug) not in known:
                found = dict(distinct_values(session, name, slug, limit=1))
                known[(name, slug)] = found.get(slug, slug)
    return known


def preview_count(session: Session, choices: Choices, kept: str, since: datetime) -> int | None:
    """How many briefs since `since` the choices match; None when nothing is picked yet."""
    if choices.empty:
        return None
    try:
        wanted: SignalFilter = parse_filter(filter_text(choices, kept))
    except FilterError:
        return None
    return matching_count(session, wanted, since)
