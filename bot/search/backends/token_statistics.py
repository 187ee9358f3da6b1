"""How many briefs hold a token of one of the search vectors, from PostgreSQL's own statistics.

RUM's ordered scan reads every posting of the query's tokens before it returns the first row
(about a microsecond each, measured: README, "How search ranks"), so it is the fastest way to the
newest k of a class only when those tokens are not common; for a common one, walking the
(`published_day`, `seq`) index or a GIN bitmap wins. The same frequencies pick the cheap proof
that a query has more than a few matches (bot.search.backends.postgres_plans). ANALYZE keeps the
most common tokens of each vector with their frequencies (`pg_stats.most_common_elems`, up to ten
times the column's statistics target); a token not among them is at most as frequent as the
least common listed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, text

REFRESH_SECONDS = 600.0  # autovacuum's ANALYZE changes them now and then, not per query
LEVELS_VECTOR = "search_impacts_vector"
TITLE_VECTOR = "search_title_vector"
PAIRS_VECTOR = "search_pairs_vector"
# The triples index's expression (bot.search.backends.phrase_index), as ANALYZE names it.
TRIPLES_VECTOR = "search_triples"


@dataclass(frozen=True, slots=True)
class TokenStatistics:
    """Estimated briefs per token of one vector."""

    rows: float
    frequencies: dict[str, float]
    rarest_listed: float

    def briefs(self, token: str) -> float:
        return self.rows * self.frequencies.get(token, self.rarest_listed)

    def listed(self, token: str) -> float | None:
        """The token's share of briefs when ANALYZE listed it (a common token), else None."""
        return self.frequencies.get(token)


# engine -> `table.vector` -> (when read, what was read: None before the first ANALYZE)
_CACHE: WeakKeyDictionary[Engine, dict[str, tuple[float, TokenStatistics | None]]] = (
    WeakKeyDictionary()
)


def token_statistics(
    connection: Connection, vector: str = LEVELS_VECTOR, table: str = "signals"
) -> TokenStatistics | None:
    """The statistics of a search vector (of `table`, or of an expression index named so), read
    at most every REFRESH_SECONDS per engine."""
    now = time.monotonic()
    cached = _CACHE.setdefault(connection.engine, {})
    entry = cached.get(f"{table}.{vector}")
    if entry is None or now - entry[0] >= REFRESH_SECONDS:
        entry = cached[f"{table}.{vector}"] = (now, _read(connection, vector, table))
    return entry[1]


def _read(connection: Connection, vector: str, table: str) -> TokenStatistics | None:
    row = connection.execute(
        text(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename "
            "AND c.relnamespace = to_regnamespace(s.schemaname) "
            "WHERE s.schemaname = current_schema() AND s.tablename = :table "
            "AND s.attname = :vector"
        ),
        {"vector": vector, "table": table},
    ).one_or_none()
    if row is None or row[0] is None or row[2] is None or row[2] <= 0:
        return None
    tokens, frequencies, rows = row
    # The frequencies list each token's, then the least and the most frequent, and nulls.
    listed = dict(zip(tokens, frequencies[: len(tokens)], strict=True))
    return TokenStatistics(float(rows), listed, float(frequencies[len(tokens)]))
