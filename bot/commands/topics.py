"""`topics`: which topics, entities and categories the archive's recent briefs are about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.commands.base import CommandContext, Reply
from bot.store.db import transaction
from bot.store.facets import Facet, facet_counts
from bot.store.models import utcnow
from bot.store.subscriptions import ChannelRef

RECENT_DAYS = 30
SHOWN_PER_FIELD = {"topic": 15, "entity": 25, "category": 15}
TITLES = {"topic": "Topics", "entity": "Entities", "category": "Categories"}


@dataclass(frozen=True, slots=True)
class FieldFacets:
    title: str
    filter_field: str
    facets: list[Facet]
    more: int


def topics(context: CommandContext, args: str = "", where: ChannelRef | None = None) -> Reply:
    since = utcnow() - timedelta(days=RECENT_DAYS)
    with transaction(context.sessions) as session:
        counted = {field: facet_counts(session, field, since) for field in SHOWN_PER_FIELD}
    fields = [
        FieldFacets(TITLES[field], field, found[:shown], max(len(found) - shown, 0))
        for field, shown in SHOWN_PER_FIELD.items()
        for found in [counted[field]]
    ]
    return Reply(context.renderer.render("topics.json.j2", days=RECENT_DAYS, fields=fields))
