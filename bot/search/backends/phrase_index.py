"""PostgreSQL's index of word triples, for phrases of three words or more (migration 0014).

A phrase's pairs (`search_pairs_vector`) narrow it to the briefs holding each pair, but the pairs
of a longer phrase may be apart: `"model of the data"` has its three pairs in 2,700 of 1,000,000
briefs and is in 31, and each of the others was read (a TOASTed vector) to find out. A GIN index
over an expression, `search_triples(search_title, search_body)`, holds every three tokens in a row
of the title (marked `_model_of_the`) and of the body (`model_of_the`, lines running on, as the
pairs), computed by PostgreSQL from the stored index text: no column and no backfill. A phrase of
three words is then one triple (in the title or the body), exactly; a longer one its triples, and
only those few candidates are checked in the whole brief's vector.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from bot.search.backends.token_statistics import TokenStatistics

TRIPLES_INDEX_NAME = "ix_signals_search_triples"
TITLE_MARK = "_"
# Briefs whose bitmap stays exact in PostgreSQL's default 4 MB of `work_mem` (about 65,000 heap
# pages, even with each brief on a page of its own). A triple ANALYZE does not list counts as its
# least listed one (at 1M, 1%: 10,000 briefs), so a phrase unlisted in title and body is in.
RARE_TRIPLES = 40_000
# Tokens are [a-z0-9]+ (bot.search.tokens), so `_` joins three of them without doubt, and a
# leading `_` tells a title's triple. `\s+` as Python's `split()` reads the index text; a loop in
# PL/pgSQL builds them about three times faster than a set-returning SQL function.
_TRIPLES_FUNCTION = """
CREATE OR REPLACE FUNCTION search_triples(title text, body text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
DECLARE
    words text[];
    triples text[] := '{}';
BEGIN
    words := regexp_split_to_array(btrim(title, E' \\n'), '\\s+');
    FOR i IN 1 .. cardinality(words) - 2 LOOP
        triples := triples || ('_' || words[i] || '_' || words[i + 1] || '_' || words[i + 2]);
    END LOOP;
    words := regexp_split_to_array(btrim(body, E' \\n'), '\\s+');
    FOR i IN 1 .. cardinality(words) - 2 LOOP
        triples := triples || (words[i] || '_' || words[i + 1] || '_' || words[i + 2]);
    END LOOP;
    RETURN array_to_tsvector(triples);
END
$fn$
"""
TRIPLES = "search_triples(signals.search_title, signals.search_body)"
_TRIPLES_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {TRIPLES_INDEX_NAME} ON signals USING GIN "
    "(search_triples(search_title, search_body))"
)


def create_triples_index(connection: Connection) -> None:
    connection.execute(text(_TRIPLES_FUNCTION))
    connection.execute(text(_TRIPLES_INDEX))


def drop_triples_index(connection: Connection) -> None:
    connection.execute(text(f"DROP INDEX IF EXISTS {TRIPLES_INDEX_NAME}"))
    connection.execute(text("DROP FUNCTION IF EXISTS search_triples(text, text)"))


def triples_tsquery_text(tokens: tuple[str, ...]) -> str:
    """The phrase's triples all in the title, or all in the body (three tokens or more)."""
    in_title = " & ".join(f"'{TITLE_MARK}{triple}'" for triple in triple_tokens(tokens))
    in_body = " & ".join(f"'{triple}'" for triple in triple_tokens(tokens))
    return f"({in_title}) | ({in_body})"


def triple_tokens(tokens: tuple[str, ...]) -> list[str]:
    return ["_".join(tokens[start : start + 3]) for start in range(len(tokens) - 2)]


def rare_triples(tokens: tuple[str, ...], statistics: TokenStatistics | None) -> bool:
    """Whether the phrase's triples are few enough to read from the index: at most RARE_TRIPLES
    briefs by ANALYZE's statistics of the index. A common phrase (`large language model`) keeps
    its pairs: a big bitmap goes lossy in `work_mem`, and each row of a lossy page would then
    have its triples computed again (about 200 µs), where its pairs vector is read."""
    if statistics is None or len(tokens) < 3:
        return False
    triples = triple_tokens(tokens)
    in_title = min(statistics.briefs(f"{TITLE_MARK}{triple}") for triple in triples)
    in_body = min(statistics.briefs(triple) for triple in triples)
    return in_title + in_body <= RARE_TRIPLES
