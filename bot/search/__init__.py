"""Search: a QUERY in, a page of the best briefs out, the same on SQLite and PostgreSQL.

The modules, in the order a query flows through them:

    grammar.py     QUERY text -> SearchQuery (no SQL); text_terms -> index tokens
    tokens.py      the one tokenizer of briefs and queries (both indexes store its output)
    document.py    a Signal -> the columns search stores (index text, word levels, facets, day)
    rank.py        the declared ranking: word levels (quantized BM25F) + a recency boost
    topk.py        the exact top k of that ranking, class by class, from the index
    ranked.py      the ranked path: few matches scored outright, else topk
    backends/      sqlite.py (FTS5) and postgres.py (tsvector; GIN, and RUM where installed:
                   level_index.py, postgres_tsquery.py; postgres_plans.py prices each way from
                   token_statistics.py): briefs newest first
    conditions.py  FILTER fields, keywords and dates as SQL
    store.py       search(), latest(): the entry points
    snippets.py    the highlighted stretch shown with a hit
    results.py     Hit and SearchPage
"""

from bot.search.grammar import SearchQuery, no_hit_hints, parse_query
from bot.search.results import Hit, SearchPage
from bot.search.store import count_signals, latest, latest_page, search

__all__ = [
    "Hit",
    "SearchPage",
    "SearchQuery",
    "count_signals",
    "latest",
    "latest_page",
    "no_hit_hints",
    "parse_query",
    "search",
]
