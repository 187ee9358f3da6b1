"""PostgreSQL full text for search: generated tsvectors (migrations 0004, 0007, 0011, 0012):
`search_vector` (the whole brief), `search_title_vector` (its title), `search_impacts_vector`
(each word with its level, bot.search.document, and the brief's facet tokens) and
`search_pairs_vector` (each two words in a row of the body).

A class (words at their levels) and the FILTER values are one tsquery on `search_impacts_vector`,
so the index intersects them rather than rows being tested one by one. Its newest k come from
RUM's ordered scan (`ORDER BY search_order <=| NEWEST`, bot.search.backends.level_index), a GIN
bitmap sorted by (`published_day`, `seq`), or the planner's walk down that index, whichever the
cost model (bot.search.backends.postgres_plans, over bot.search.backends.token_statistics) says
is cheapest. A word anywhere (the "are there more than a few?" probe) is asked of
`search_vector`, one posting list a word (of the level vector when FILTER values send the query
there anyway), unless one cheap class of the matches already holds enough of them. Phrases and
prefixes at a level and `keyword:` are tested per row when the level vector answers too.

A phrase in the body is found by its pairs (`&` in the pairs' GIN index, no row read); only a
phrase of three words or more, whose pairs may be apart, is then checked in the whole brief's
vector, on those few candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    cast,
    exists,
    literal,
    literal_column,
    not_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.search.backends import Constraints, TermAt
from bot.search.backends.level_index import level_index_kind
from bot.search.backends.phrase_index import TRIPLES_INDEX_NAME, rare_triples
from bot.search.backends.postgres_plans import (
    TITLE_WINDOW,
    ClassPlan,
    VectorStatistics,
    class_plan,
    keyword_hints,
    keyword_share,
    proof_terms,
    title_window,
)
from bot.search.backends.postgres_tsquery import (
    any_level,
    any_of,
    facet_group,
    matches,
    search_order,
    text_conditions,
    tsquery_text,
)
from bot.search.backends.token_statistics import (
    LEVELS_VECTOR,
    PAIRS_VECTOR,
    TITLE_VECTOR,
    TRIPLES_VECTOR,
    token_statistics,
)
from bot.search.conditions import keyword_conditions, slug_condition
from bot.search.document import impact_token
from bot.search.grammar import TextTerm
from bot.search.rank import LEVELS, day_number
from bot.search.topk import is_word
from bot.store.models import StoredSignal

# Beyond every `search_order`, and exact as a float8 (RUM's distances are float8, so a larger
# bound would round distances of nearby briefs together): the distance to it orders newest first.
NEWEST = 2**53
# The page a class walk usually reads a class for (bot.commands.search: five results a page).
FIRST_PAGE = 5


class PostgresIndex:
    """One tsquery over the level vector for words and FILTER values, the rest row by row."""

    def __init__(self, session: Session, constraints: Constraints) -> None:
        self.session = session
        self.constraints = constraints
        connection = session.connection()
        self._dated = constraints.since is not None or constraints.until is not None
        # A date range is bounded by the day index; RUM would read every posting still.
        self._rum = level_index_kind(connection) == "rum" and not self._dated
        self._statistics = None if self._dated else _vector_statistics(connection)
        self._required_facets = [
            facet_group(name, values) for name, values in constraints.include.items()
        ]
        self._refused_facets = [
            facet_group(name, values) for name, values in constraints.exclude.items()
        ]
        self._keywords = keyword_conditions(constraints)
        self._keyword_share = (
            None
            if self._statistics is None
            else keyword_share(constraints.keywords, self._statistics.levels)
        )
        # class -> (whole class?, its newest briefs), read while proving the count (`some`)
        self._counted: dict[tuple[TermAt, ...], tuple[bool, list[tuple[int, int]]]] = {}
        self._rows = [*_day_range(constraints), *self._keywords]

    def newest(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        counted = self._counted.get(tuple(terms))
        if counted is not None and (limit <= len(counted[1]) or counted[0]):
            return counted[1][:limit]  # the proof read this class newest first (`some`)
        query, required = self._matching(terms)
        # The window's rows are tested for an excluded keyword too (it keeps nearly all); a
        # wanted one would leave the window short of matches, a wasted read.
        window_ok = not required and not self.constraints.keywords
        if window_ok and title_window(terms, self._statistics, limit):
            found = self._day_seqs(self._newest_in_window(terms, limit))
            if len(found) == limit:  # the window is the newest rows: none older can come first
                return found
        plan = self.class_plan(required, limit)
        if plan == "rum":
            ordered = query.order_by(search_order().op("<=|")(literal(NEWEST, BigInteger)))
            return self._day_seqs(ordered.limit(limit))
        ordered = query.order_by(StoredSignal.published_day.desc(), StoredSignal.seq.desc())
        if plan == "bitmap":  # the planner would walk the day index, testing TOASTed vectors
            return self._without_index_scans(ordered.limit(limit))
        return self._day_seqs(ordered.limit(limit))

    def some(self, terms: Sequence[TermAt], limit: int) -> list[tuple[int, int]]:
        if self._dated:  # the day index's range scan is the plan to keep
            return self._day_seqs(self._matching(terms)[0].limit(limit))
        hints = keyword_hints(terms, self.constraints)
        # An excluded keyword only takes matches away: a class of the query's matches, each row
        # of it tested, proves the count as well. A wanted one needs its words (`hints`) there.
        if self._statistics is not None and (hints or not self.constraints.keywords):
            top = [TermAt(at.term, LEVELS) for at in terms if is_word(at.term)]
            tried_top = not hints and len(top) == len(terms) and self._read_by_bitmap(top)
            if tried_top:
                # The walk's likely first class, which it would read by bitmap anyway: read
                # it now, newest first, and let it prove the count too when it is big enough.
                found = self._proof_rows(top, limit)
                if len(found) >= limit:
                    return found
            proof = proof_terms(
                [*terms, *hints],
                self._required_facets,
                self._refused_facets,
                self._statistics,
                limit,
            )
            if proof is not None and not (tried_top and proof == top):
                found = self._proof_rows(proof, limit, walked=not hints)
                if len(found) >= limit:  # a class of the matches holds enough of them
                    return found
        return self._without_index_scans(self._matching(terms)[0].limit(limit))

    def _read_by_bitmap(self, terms: list[TermAt]) -> bool:
        """Whether the class walk would read this class by a GIN bitmap."""
        return self.class_plan(self._matching(terms)[1], FIRST_PAGE) == "bitmap"

    def _proof_rows(
        self, proof: list[TermAt], limit: int, *, walked: bool = True
    ) -> list[tuple[int, int]]:
        """Up to `limit` briefs of the proof class, by GIN bitmap. When the class is likely the
        class walk's first (every term a word at the top level; `walked`: all of them the
        query's) and a bitmap is how it would be read anyway, they are its newest, sorted (the
        bitmap has fetched them all either way), and kept for `newest`: one statement both
        proves the count and reads the class."""
        query, required = self._matching(proof, words_in_levels=True)
        first = walked and all(is_word(at.term) and at.level == LEVELS for at in proof)
        if not (first and self.class_plan(required, FIRST_PAGE) == "bitmap"):
            return self._without_index_scans(query.limit(limit), bitmap_only=True)
        if (counted := self._counted.get(tuple(proof))) is not None:
            return counted[1]
        newest_first = query.order_by(StoredSignal.published_day.desc(), StoredSignal.seq.desc())
        found = self._without_index_scans(newest_first.limit(limit), bitmap_only=True)
        self._counted[tuple(proof)] = (len(found) < limit, found)
        return found

    def _newest_in_window(self, terms: Sequence[TermAt], limit: int) -> Select[int, int]:
        """The newest `limit` of the newest TITLE_WINDOW rows (in the date range) holding the
        phrases in their titles (and passing the keyword tests): a walk down the day index that
        tests each row's title. Every row newer than the window's last is in it, so when it holds
        `limit` such rows they are the class's newest."""
        window = (
            select(
                StoredSignal.published_day,
                StoredSignal.seq,
                literal_column("signals.search_title_vector").label("title_vector"),
                StoredSignal.keyword_text,
            )
            .where(*_day_range(self.constraints))
            .order_by(StoredSignal.published_day.desc(), StoredSignal.seq.desc())
            .limit(TITLE_WINDOW)
            .subquery()
        )
        in_titles = [
            window.c.title_vector.op("@@")(cast(literal(tsquery_text(at.term)), TSQUERY))
            for at in terms
        ]
        excluded = keyword_conditions(self.constraints, window.c.keyword_text)
        return (
            select(window.c.published_day, window.c.seq)
            .where(*in_titles, *excluded)
            .order_by(window.c.published_day.desc(), window.c.seq.desc())
            .limit(limit)
        )

    def _without_index_scans(
        self, query: Select[int, int], *, bitmap_only: bool = False
    ) -> list[tuple[int, int]]:
        """Bitmaps or a sequential scan only, for this statement: unordered, the planner may
        take RUM's plain index scan, which reads its postings about 4x slower than a GIN bitmap
        (at 1M, 244 ms against 72 ms for a FILTER query's probe), and a class whose matches it
        thinks dense it walks down the day index, testing a TOASTed vector per row.
        `bitmap_only`: no sequential scan either (a proof class is chosen for its few postings,
        and the planner, which does not count TOAST reads, would scan `__the_model`'s 5%)."""
        scans = ["enable_indexscan", *(["enable_seqscan"] if bitmap_only else [])]
        self._set(scans, "off")
        try:
            return self._day_seqs(query)
        finally:
            self._set(scans, "on")

    def _set(self, settings: list[str], value: str) -> None:
        """SET LOCAL each setting, in one round trip."""
        calls = ", ".join(f"set_config('{setting}', '{value}', true)" for setting in settings)
        self.session.execute(text(f"SELECT {calls}"))

    def _day_seqs(self, query: Select[int, int]) -> list[tuple[int, int]]:
        return [(day, seq) for day, seq in self.session.execute(query)]

    def levels_present(self, term: TextTerm, levels: Sequence[int]) -> set[int]:
        # One statement for all levels: planning, not execution, is most of each small query.
        probes = [exists(self._matching([TermAt(term, level)])[0].limit(1)) for level in levels]
        found = self.session.execute(select(*probes)).one()
        return {level for level, present in zip(levels, found, strict=True) if present}

    def _matching(
        self, terms: Sequence[TermAt], *, words_in_levels: bool = False
    ) -> tuple[Select[int, int], list[list[str]]]:
        """Briefs holding the terms and meeting the constraints, and the token groups the level
        vector must hold (each group OR-ed; none when the level vector does not answer).
        `words_in_levels`: a word anywhere is asked of the level vector whatever the rest."""
        anywhere = [term.term for term in terms if term.level is None]
        leveled = [(term.term, term.level) for term in terms if term.level is not None]
        required = [
            [impact_token(term.tokens[0], level)] for term, level in leveled if is_word(term)
        ]
        required += self._required_facets
        if self._required_facets or (words_in_levels and required):
            # The level vector is read anyway: a word at any level there, rather than testing
            # the whole brief's (big) vector row by row beside it.
            required += [any_level(term) for term in anywhere if is_word(term)]
            anywhere = [term for term in anywhere if not is_word(term)]
        conditions = [
            condition
            for term, level in leveled
            if not is_word(term)
            for condition in text_conditions(term, level)
        ]
        triples = None if self._statistics is None else self._statistics.triples
        conditions += [
            condition
            for term in anywhere
            if len(term.tokens) > 1
            for condition in text_conditions(
                term, None, by_triples=rare_triples(term.tokens, triples)
            )
        ]
        if words := [term for term in anywhere if len(term.tokens) == 1]:
            text = " & ".join(tsquery_text(term) for term in words)
            conditions.append(matches("search_vector", text))
        if required:
            parts = [any_of(group) for group in required]
            parts += ["!" + any_of(group) for group in self._refused_facets]
            conditions.append(matches("search_impacts_vector", " & ".join(parts)))
        else:
            conditions += [
                not_(slug_condition(name, values))
                for name, values in self.constraints.exclude.items()
            ]
        query = select(StoredSignal.published_day, StoredSignal.seq).where(*conditions, *self._rows)
        return query, required

    def class_plan(self, required: list[list[str]], limit: int) -> ClassPlan:
        """How to read the newest `limit` briefs holding the token groups (postgres_plans)."""
        if self._statistics is None:
            return "planner"
        return class_plan(
            required,
            self._statistics.levels,
            limit,
            rum=self._rum,
            keyword_share=self._keyword_share,
        )

    def ordered_by_index(self, required: list[list[str]], limit: int) -> bool:
        """Whether RUM's ordered scan is the cheap way to the newest `limit` briefs holding the
        token groups: cheaper than a walk down the day index and than a GIN bitmap."""
        return self.class_plan(required, limit) == "rum"


def _vector_statistics(connection: Connection) -> VectorStatistics | None:
    levels = token_statistics(connection, LEVELS_VECTOR)
    if levels is None:
        return None
    return VectorStatistics(
        levels,
        token_statistics(connection, TITLE_VECTOR),
        token_statistics(connection, PAIRS_VECTOR),
        token_statistics(connection, TRIPLES_VECTOR, TRIPLES_INDEX_NAME),
    )


def _day_range(constraints: Constraints) -> list[ColumnElement[bool]]:
    """`since` and `until` on `published_day` (the UTC day of `published`, so the same briefs),
    which the (published_day, seq) index can bound: on `published` it would walk from today."""
    day = StoredSignal.published_day
    bounds = []
    if constraints.since:
        bounds.append(day >= day_number(constraints.since))
    if constraints.until:
        bounds.append(day <= day_number(constraints.until))
    return bounds
