"""PostgreSQL full-text conditions, written from index tokens ([a-z0-9_]+, bot.search.tokens and
bot.search.document) alone, so user text never acts as tsquery syntax: a term in the title, in
the body (its pairs), or in the whole brief; FILTER values as facet tokens; words at any level.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from bot.search.backends.phrase_index import TRIPLES, triples_tsquery_text
from bot.search.document import facet_token, impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL


def facet_group(name: str, values: frozenset[str]) -> list[str]:
    """The tokens of a FILTER field's values (any of them)."""
    return [facet_token(name, value) for value in sorted(values)]


def any_level(word: TextTerm) -> list[str]:
    return [impact_token(word.tokens[0], level) for level in range(1, LEVELS + 1)]


def any_of(tokens: list[str]) -> str:
    # Tokens are [a-z0-9]+ (bot.search.document): quoting them as lexemes cannot go wrong.
    return "(" + " | ".join(f"'{token}'" for token in tokens) + ")"


def text_conditions(
    term: TextTerm, level: int | None, *, by_triples: bool = False
) -> list[ColumnElement[bool]]:
    """A phrase or a prefix in the title (TITLE_LEVEL), elsewhere only (BODY_LEVEL), or (a
    phrase, None) anywhere: `by_triples`, from the triples index (phrase_index.rare_triples)."""
    in_title = matches("search_title_vector", tsquery_text(term))
    if level == TITLE_LEVEL:
        return [in_title]
    if len(term.tokens) == 1:  # a prefix
        return [matches("search_vector", tsquery_text(term)), not_(in_title)]
    if by_triples and level is None and len(term.tokens) > 2 and not term.prefix:
        # Its triples, in the title or the body: the phrase itself when it has three words;
        # a longer one's triples may be apart, which the whole brief's vector checks.
        in_triples = _vector(TRIPLES).op("@@")(
            cast(literal(triples_tsquery_text(term.tokens)), TSQUERY)
        )
        return [in_triples, *([_checked_in_brief(term)] if len(term.tokens) > 3 else [])]
    in_body = matches("search_pairs_vector", pairs_tsquery_text(term))
    # The pairs of three words or more may be apart: the whole brief's vector checks the order
    # (of the few briefs holding every pair; the title's is checked by the title's vector).
    in_order = [] if len(term.tokens) == 2 else [_checked_in_brief(term)]
    if level == BODY_LEVEL:
        return [in_body, *in_order, not_(in_title)]
    return [or_(in_title, in_body), *in_order]


def _checked_in_brief(term: TextTerm) -> ColumnElement[bool]:
    """The phrase in the whole brief's vector, row by row: as a function, not the `@@` operator,
    so the planner cannot AND in that vector's GIN index (every brief holding all the words)."""
    vector: ColumnElement[Any] = literal_column("signals.search_vector")
    return func.ts_match_vq(vector, cast(literal(tsquery_text(term)), TSQUERY), type_=Boolean)


def pairs_tsquery_text(term: TextTerm) -> str:
    """A tsquery for a phrase's pairs of words in a row, all required; the last maybe a prefix."""
    lexemes = [f"'{pair}'" for pair in pair_tokens(term.tokens)]
    if term.prefix:
        lexemes[-1] += ":*"
    return " & ".join(lexemes)


def search_order() -> ColumnElement[int]:
    """`published_day << 32 | seq` (migration 0011), the RUM index's attached key."""
    return literal_column("signals.search_order", BigInteger)


def matches(vector_column: str, query: str) -> ColumnElement[bool]:
    return _vector(f"signals.{vector_column}").op("@@")(cast(literal(query), TSQUERY))


def _vector(expression: str) -> ColumnElement[Any]:
    return literal_column(expression)


def tsquery_text(term: TextTerm) -> str:
    """A tsquery for one term: a lexeme, or lexemes in a row; the last maybe a prefix."""
    # Tokens are [a-z0-9]+ (bot.search.tokens): quoting them as lexemes cannot go wrong.
    lexemes = [f"'{token}'" for token in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"
