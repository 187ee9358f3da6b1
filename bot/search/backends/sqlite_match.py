"""FTS5 MATCH syntax for each term of a query, written with what the index says of its tokens.

`term_expression` is a term exactly as FTS5 can say it alone (a word by its levels, a prefix by
FTS5's prefix query, a phrase by positions). `MatchPlanner` writes the same terms faster where
FTS5's own way reads far more than it returns:

- **A prefix** longer than the prefix indexes (2 and 3 characters) is spelled out as the tokens
  it starts (`ransom*` -> `ransomware_4 OR … OR ransomware_8`, from bot.search.backends.
  sqlite_vocabulary), which FTS5 reads newest first and stops; its own prefix query would first
  merge every posting list of every such token. Still exact.
- **A phrase of four words or more in the body**, when some of its pairs are common (in DENSE
  or more of the newest briefs): as a phrase of pairs, FTS5 would read the common pairs'
  postings for every brief holding the others. Pairs two apart imply the one between
  (`__model_of` at p and `__the_data` at p + 2 mean `model of the data`), so the index is asked
  for the rare pairs that still cover every word, NEAR each other
  (`NEAR("__model_of" "__the_data", 1)`): a superset of the briefs holding the phrase, each then
  checked on its index text (`TermMatch.checked`; bot.search.backends.sqlite). The title keeps
  its exact phrase: checking titles one by one measured no faster than FTS5's positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.search.backends import TermAt
from bot.search.document import LEVEL_MARK, impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL
from bot.search.topk import is_word

PREFIX_INDEX_LENGTHS = frozenset({2, 3})  # migration 0012: prefix='2 3'
DENSE = 0.1  # a token in a tenth of the newest briefs or more is not worth intersecting with


class TokenFacts(Protocol):
    """What the planner asks of the index (bot.search.backends.sqlite_vocabulary.Vocabulary)."""

    def tokens_starting(self, start: str) -> list[str] | None: ...

    def densities(self, column: str, tokens: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A term as FTS5 syntax: `expression` finds exactly the briefs holding the term where asked,
    or, when `checked`, a superset of them to check one by one. None: no brief can hold it."""

    expression: str | None
    checked: bool = False


@dataclass(frozen=True, slots=True)
class _Places:
    """A phrase's or prefix's expressions: in the title, in the body (maybe with the title, for a
    prefix), anywhere; `body_checked` when the body's is a superset (the title's never is)."""

    title: str | None
    body: str | None
    anywhere: str | None
    body_checked: bool = False


class MatchPlanner:
    """Terms as FTS5 syntax for one search (what it learns of the index is kept for the search)."""

    def __init__(self, vocabulary: TokenFacts) -> None:
        self.vocabulary = vocabulary
        self._places: dict[TextTerm, _Places] = {}

    def match(self, term_at: TermAt) -> TermMatch:
        term, level = term_at.term, term_at.level
        if is_word(term):
            return TermMatch(term_expression(term_at))
        if term not in self._places:
            self._places[term] = self._find_places(term)
        places = self._places[term]
        if level is None:
            return TermMatch(places.anywhere, places.body_checked)
        if level == TITLE_LEVEL:
            return TermMatch(places.title)
        if places.body_checked:  # the check tells the body from the title too
            return TermMatch(places.body, checked=True)
        return TermMatch(_but_not(places.body, places.title))

    def _find_places(self, term: TextTerm) -> _Places:
        if term.prefix and len(term.tokens) == 1:
            return self._prefix_places(term.tokens[0])
        if term.prefix:
            return self._phrase_prefix_places(term.tokens)
        return self._phrase_places(term.tokens)

    def _prefix_places(self, start: str) -> _Places:
        found = self._expansion(start)
        title: str | None
        any_word: str | None
        if found is None:
            title, any_word = in_title([start], prefix=True), in_levels([start], prefix=True)
        else:  # the levels list every word, the title's too; the title's own tokens have no mark
            title = _any_of("search_title", [token for token in found if LEVEL_MARK not in token])
            any_word = _any_of("search_impacts", [token for token in found if LEVEL_MARK in token])
        return _Places(title, any_word, any_word)

    def _phrase_prefix_places(self, tokens: Sequence[str]) -> _Places:
        *words, start = tokens
        found = self._expansion(start)
        title: str | None
        if found is None:
            title = in_title(tokens, prefix=True)
        else:
            title = _any_of_phrases(
                "search_title", [[*words, token] for token in found if LEVEL_MARK not in token]
            )
        *pairs, last_pair = pair_tokens(tokens)
        found_pairs = self._expansion(last_pair)
        if found_pairs is None:
            body: str | None = in_pairs([*pairs, last_pair], prefix=True)
        else:
            body = _any_of_phrases("search_pairs", [[*pairs, pair] for pair in found_pairs])
        return _Places(title, body, _either(title, body))

    def _phrase_places(self, tokens: Sequence[str]) -> _Places:
        pairs = pair_tokens(tokens)
        title = in_title(tokens)
        rare_pairs = self._rare_pairs(pairs) if len(pairs) >= 3 else None
        body = rare_pairs or in_pairs(pairs)
        return _Places(title, body, _either(title, body), body_checked=rare_pairs is not None)

    def _expansion(self, start: str) -> list[str] | None:
        """The tokens `start` begins, unless a prefix index answers as well (or they are many)."""
        if len(start) in PREFIX_INDEX_LENGTHS:
            return None
        return self.vocabulary.tokens_starting(start)

    def _rare_pairs(self, pairs: Sequence[str]) -> str | None:
        """The phrase's rare pairs NEAR each other in the body, if they leave out a common one
        and still cover every word (pair `at` covers words `at` and `at + 1`)."""
        densities = self.vocabulary.densities("search_pairs", pairs)
        rare = {at for at, density in enumerate(densities) if density < DENSE}
        covered = all(word in rare or word - 1 in rare for word in range(len(pairs) + 1))
        if not covered or len(rare) == len(pairs):
            return None
        runs = _runs(sorted(rare))  # (first pair, pairs) of each stretch of rare pairs in a row
        phrases = " ".join(_quoted(pairs[first : first + length]) for first, length in runs)
        # FTS5: each phrase starts at most (its length + N) before the last one starts.
        gap = runs[-1][0] - (runs[0][0] + runs[0][1])
        return f"{{search_pairs}} : NEAR({phrases}, {gap})"


def term_expression(term_at: TermAt) -> str:
    """FTS5 syntax for one term where it must be (anywhere, or at a level: bot.search.rank),
    exact, from the term alone."""
    term, level = term_at.term, term_at.level
    if is_word(term):
        levels = range(1, LEVELS + 1) if level is None else (level,)
        return _any_of("search_impacts", [impact_token(term.tokens[0], at) for at in levels]) or ""
    title = in_title(term.tokens, term.prefix)
    if level == TITLE_LEVEL:
        return title
    if len(term.tokens) == 1:  # a prefix: the levels list every word, the title's too
        any_word = in_levels(term.tokens, prefix=True)
        return any_word if level is None else f"({any_word}) NOT ({title})"
    body = in_pairs(pair_tokens(term.tokens), term.prefix)
    if level == BODY_LEVEL:
        return f"({body}) NOT ({title})"
    return f"({title}) OR ({body})"


def in_title(tokens: Sequence[str], prefix: bool = False) -> str:
    return f"{{search_title}} : {_quoted(tokens, prefix)}"


def in_levels(tokens: Sequence[str], prefix: bool = False) -> str:
    return f"{{search_impacts}} : {_quoted(tokens, prefix)}"


def in_pairs(pairs: Sequence[str], prefix: bool = False) -> str:
    return f"{{search_pairs}} : {_quoted(pairs, prefix)}"


def _any_of(column: str, tokens: Sequence[str]) -> str | None:
    return _any_of_phrases(column, [[token] for token in tokens])


def _any_of_phrases(column: str, phrases: Sequence[Sequence[str]]) -> str | None:
    if not phrases:
        return None
    return f"{{{column}}} : (" + " OR ".join(_quoted(phrase) for phrase in phrases) + ")"


def _quoted(tokens: Sequence[str], prefix: bool = False) -> str:
    # Tokens are [a-z0-9]+ (bot.search.tokens) and pairs add `_`: quoting them cannot go wrong.
    quoted = '"' + " ".join(tokens) + '"'
    return f"{quoted} *" if prefix else quoted


def _either(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return first or second
    return f"({first}) OR ({second})"


def _but_not(wanted: str | None, unwanted: str | None) -> str | None:
    if wanted is None or unwanted is None:
        return wanted
    return f"({wanted}) NOT ({unwanted})"


def _runs(ascending: Sequence[int]) -> list[tuple[int, int]]:
    """Stretches of consecutive numbers: [1, 2, 4] -> [(1, 2), (4, 1)]."""
    runs: list[tuple[int, int]] = []
    for number in ascending:
        if runs and runs[-1][0] + runs[-1][1] == number:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((number, 1))
    return runs
