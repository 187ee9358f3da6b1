"""Newest first with `keyword:` or `-keyword:` on PostgreSQL (`latest keyword:rumour`): how far
to walk down the newest-first order before the rest of the archive is read in one statement.

A keyword is a substring test on `keyword_text`, which for most briefs sits in TOAST: testing a
row fetches and decompresses it (about 6-40 µs at 1,000,000 briefs, the rows coming in
`published` order, scattered over the heap). The walk (bot.search.store) is the fast way when
matches are dense: a page fills within the first window. When they are sparse it tests every row
of the archive, one random heap read at a time (`latest keyword:rumour`, no match: 6-12 s;
`latest -keyword:the`, every brief excluded: 40 s). So here the rest is read at once instead:

- `keyword:` (each keyword with a trigram, and the trigram index of migration 0014 there): a GIN
  bitmap of the briefs holding the keyword's trigrams, whose text the same `LIKE` then checks,
  sorted by `published` (a few ms for a rare keyword);
- otherwise (`-keyword:`, or a keyword too short for a trigram): the rows in physical order, a
  parallel sequential scan or a bitmap of the FILTER's index, each tested once: seconds, not tens.

The rows are the same either way; only the order of the reading changes. Whether to walk at all
comes from the keyword's words' statistics (bot.search.backends.postgres_plans.keyword_share):
when a walk is not expected to fill the page within WALK_ROWS, the rest is read at once; when it
is, the walk gets WALK_ROWS rows and then the rest is read anyway (a substring of common words can
be rare: `model security`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Select, text
from sqlalchemy.orm import Session

from bot.search.backends.keyword_index import KEYWORD_INDEX_NAME
from bot.search.backends.postgres_plans import keyword_share
from bot.search.backends.token_statistics import LEVELS_VECTOR, TokenStatistics, token_statistics
from bot.search.tokens import tokens

# Rows walked (the windows of bot.search.store: 2,000 + 4,000 + 8,000 + 16,000) before the rest
# is read at once: about 0.2-1 s of row tests at most before the rest's read, which costs about as
# much when the keyword's trigrams are common.
WALK_ROWS = 30_000
# pg_trgm finds a `LIKE '%…%'` from the index only when the pattern has a trigram; a run of three
# letters or digits always gives one.
_TRIGRAM = re.compile(r"[a-z0-9]{3}")


@dataclass(frozen=True, slots=True)
class RestPlan:
    """How a newest-first walk with keyword tests ends: after `walk_rows` rows tested, the rest
    is read in one statement, with these planner settings off (so it reads in physical order)."""

    walk_rows: int
    settings_off: tuple[str, ...]

    def read(self, session: Session, query: Select[int]) -> list[int]:
        """The seqs the statement finds, read with the plan's settings (SET LOCAL)."""
        _set(session, self.settings_off, "off")
        try:
            return list(session.scalars(query))
        finally:
            _set(session, self.settings_off, "on")


def rest_plan(
    session: Session, keywords: frozenset[str], excluded: frozenset[str], wanted: int
) -> RestPlan | None:
    """How to end the walk for a page of `wanted` rows; None off PostgreSQL (walk to the end)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    connection = session.connection()
    statistics = token_statistics(connection, LEVELS_VECTOR)
    by_trigrams = (
        bool(keywords)
        and all(_TRIGRAM.search(keyword) for keyword in keywords)
        and _has_keyword_index(connection)
    )
    # A bitmap of the trigram index (or of a FILTER value's): no walk down an index, and no
    # sequential scan when the keyword has its index.
    settings = ("enable_indexscan", *(("enable_seqscan",) if by_trigrams else ()))
    return RestPlan(walk_rows(kept_share(keywords, excluded, statistics), wanted), settings)


def walk_rows(share: float | None, wanted: int) -> int:
    """How many rows to walk for a page of `wanted`: none when the walk is expected to test
    more than WALK_ROWS to fill it (a share of matches below about 1 in 5,000)."""
    sparse = share is not None and (wanted + 1) / share > WALK_ROWS
    return 0 if sparse else WALK_ROWS


def kept_share(
    keywords: Iterable[str], excluded: Iterable[str], statistics: TokenStatistics | None
) -> float | None:
    """The share of briefs the keyword tests keep, as far as the words' statistics tell (None
    without statistics: unknown). An excluded keyword whose words are common keeps few; one
    without a word (`--`) is taken to keep all."""
    if statistics is None:
        return None
    kept = keyword_share(keywords, statistics)
    refused = keyword_share([keyword for keyword in excluded if tokens(keyword)], statistics)
    share = (1.0 if kept is None else kept) * (1.0 - (refused or 0.0))
    return max(share, 1.0 / statistics.rows)


def _has_keyword_index(connection: Connection) -> bool:
    name = connection.execute(text("SELECT to_regclass(:name)"), {"name": KEYWORD_INDEX_NAME})
    return name.scalar() is not None


def _set(session: Session, settings: Iterable[str], value: str) -> None:
    calls = ", ".join(f"set_config('{setting}', '{value}', true)" for setting in settings)
    if calls:
        session.execute(text(f"SELECT {calls}"))
