"""What PostgreSQL search pays for each way to an answer, from the tokens' frequencies
(bot.search.backends.token_statistics), and the choices made with it.

Costs measured at 1,000,000 briefs (EXPLAIN ANALYZE, README "How search ranks"): a posting read
from a GIN or RUM index costs about half a microsecond, and a GIN AND reads about as many as its
rarest token has; a row fetched from the heap by a bitmap a few microseconds; a row *tested*
against a search vector (a walk down the day index, or a sequential scan) about 15 µs, because the
vectors are TOASTed: each test reads and decompresses one.

Two choices are made here:
- **The proof of "more than a few matches"** (`proof_terms`). Counting a query's matches up to
  FEW + 1 costs what its commonest part costs: every posting of `lota` (120,000 briefs) in a
  bitmap, or rows tested until enough match. But any FEW + 1 briefs of a *part* of the matches
  answer the question as well, and one class (each word at one level, a phrase in the title, a
  two-word phrase's pair) is such a part. So the cheapest class expected to hold several times
  what is asked is counted first: `lota_5` (3,500 briefs), not every `lota`. When it holds fewer
  (the statistics assume independent tokens), the whole query is counted after it: the same
  answer, a few milliseconds later.
- **The plan for a class's newest k** (`class_plan`): RUM's ordered scan, a GIN bitmap of every
  match sorted by day, or the planner's walk down the day index, whichever is estimated cheapest.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.search.backends import Constraints, TermAt
from bot.search.backends.token_statistics import TokenStatistics
from bot.search.document import impact_token, pair_tokens
from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL
from bot.search.tokens import tokens
from bot.search.topk import is_word

POSTING_US = 0.5
HEAP_ROW_US = 3.0
ROW_TEST_US = 15.0
# RUM's ordered scan reads every posting of every token of the class (not only the rarest).
RUM_POSTING_US = 0.5
# A proof class is tried when it should hold this many times what is asked, and cost at most
# this share of counting the whole query.
PROOF_MARGIN = 4.0
PROOF_SHARE = 0.5
MAX_PROOF_TERMS = 4
# A phrase is looked for in titles alone only when its words are this often in that order in
# bodies (`large language model`): words that are often near but rarely in order (`model of the
# data`) would make the title class an expensive empty guess.
BOUND_PHRASE_SHARE = 0.1
# Rows read newest first (each title tested, about 3 µs a row: titles are not TOASTed) before a
# phrase-in-title class falls back to its GIN bitmap.
TITLE_WINDOW = 2000

BITMAP_RISK = 3.0

ClassPlan = Literal["rum", "bitmap", "planner"]


@dataclass(frozen=True, slots=True)
class VectorStatistics:
    """The statistics of the level vector (words at levels, facets), titles, pairs and triples."""

    levels: TokenStatistics
    titles: TokenStatistics | None
    pairs: TokenStatistics | None
    triples: TokenStatistics | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """A term narrowed to one class: its share of briefs, and the postings a GIN AND reads."""

    at: TermAt | None  # None for a FILTER field's values
    share: float
    postings: float


def proof_terms(
    terms: Sequence[TermAt],
    facets: Sequence[Sequence[str]],
    refused: Sequence[Sequence[str]],
    statistics: VectorStatistics,
    limit: int,
) -> list[TermAt] | None:
    """Part of the query's matches worth counting before the whole query, or None: one word or
    more at one level each (the other words at any), or a phrase in titles or as a pair."""
    if not terms or len(terms) > MAX_PROOF_TERMS or any(t.level is not None for t in terms):
        return None
    wholes = [_whole(term, statistics) for term in terms]
    if any(whole is None for whole in wholes):
        return None
    whole_parts = [whole for whole in wholes if whole is not None]
    # A word can stay whole (at any level, in the level vector); a phrase cannot (that is the
    # direct count).
    options = [
        [*_narrowings(term, statistics), *([whole] if is_word(term.term) else [])]
        for term, whole in zip(terms, whole_parts, strict=True)
    ]
    rows = statistics.levels.rows
    facet_parts = [_facet_part(group, statistics.levels) for group in facets]
    kept = math.prod(1.0 - _facet_part(group, statistics.levels).share for group in refused)
    facet_share = math.prod(part.share for part in facet_parts) * kept
    density = math.prod(part.share for part in (*whole_parts, *facet_parts)) * kept
    gin = POSTING_US * min(part.postings for part in (*whole_parts, *facet_parts))
    # The planner scans rows for a dense word; for a phrase it takes the indexes (it thinks
    # phrases rare).
    scan = ROW_TEST_US * limit / max(density, 1.0 / rows)
    direct = gin if any(not is_word(term.term) for term in terms) else min(gin, scan)
    best: tuple[float, float, list[TermAt]] | None = None
    for combination in itertools.product(*options):
        if combination == tuple(whole_parts):
            continue
        expected = rows * math.prod(part.share for part in combination) * facet_share
        if expected < PROOF_MARGIN * limit:
            continue
        rarest = min(part.postings for part in (*combination, *facet_parts))
        cost = POSTING_US * rarest + HEAP_ROW_US * limit
        # Of equal costs the larger class: words left whole do not bet on their levels going
        # together (`muse spark`: `muse_5` with `spark` at any level, not `spark_4`).
        if best is None or (cost, -expected) < best[:2]:
            best = (cost, -expected, [part.at for part in combination if part.at is not None])
    if best is None or best[0] > PROOF_SHARE * direct:
        return None
    return best[2]


def keyword_hints(terms: Sequence[TermAt], constraints: Constraints) -> list[TermAt]:
    """Words that narrow the proof of "more than a few matches" when `keyword:` is asked: the
    words of the one keyword, which nearly every brief holding them has as a substring too. The
    keyword is still tested on every row the proof reads, so its briefs are matches whatever
    the words: a brief with the substring but not the words (`ransomwares`, a word in two) is
    only left out of the proof, never of the results. Without them the substring's share is
    unknown, and the proof is not tried (the whole query is counted)."""
    if len(constraints.keywords) != 1:
        return []
    (keyword,) = constraints.keywords
    asked = {at.term for at in terms}
    words = [TextTerm((token,)) for token in dict.fromkeys(tokens(keyword))]
    hints = [TermAt(word) for word in words if word not in asked]
    return hints[: max(0, MAX_PROOF_TERMS - len(terms))]


def _narrowings(at: TermAt, statistics: VectorStatistics) -> list[Part]:
    """The classes a term can be narrowed to, with their estimated shares."""
    term, rows = at.term, statistics.levels.rows
    if is_word(term):
        parts = []
        for level in range(LEVELS, 0, -1):
            share = statistics.levels.listed(impact_token(term.tokens[0], level))
            if share is not None:
                parts.append(Part(TermAt(term, level), share, share * rows))
        return parts
    if term.prefix or statistics.pairs is None:
        return []
    pair_shares = [statistics.pairs.listed(pair) for pair in pair_tokens(term.tokens)]
    if any(share is None for share in pair_shares):
        return []
    body = min(share for share in pair_shares if share is not None)
    parts = []
    if len(term.tokens) == 2:  # the pair is the phrase in the body
        parts.append(Part(TermAt(term, BODY_LEVEL), body, body * rows))
    if statistics.titles is not None and body >= BOUND_PHRASE_SHARE:
        title_shares = [statistics.titles.listed(token) for token in term.tokens]
        if all(share is not None for share in title_shares):
            title = min(share for share in title_shares if share is not None)
            parts.append(Part(TermAt(term, TITLE_LEVEL), title, title * rows))
    return parts


def title_window(terms: Sequence[TermAt], statistics: VectorStatistics | None, limit: int) -> bool:
    """Whether the newest `limit` briefs with phrases in the title are likely among the newest
    TITLE_WINDOW rows: phrases bound in bodies (`large language model`) whose words are common
    in titles. A GIN bitmap would fetch and sort every title holding all their words."""
    if statistics is None or statistics.titles is None or statistics.pairs is None:
        return False
    shares = []
    for at in terms:
        term = at.term
        if at.level != TITLE_LEVEL or is_word(term) or term.prefix:
            return False
        pairs = [statistics.pairs.listed(pair) or 0.0 for pair in pair_tokens(term.tokens)]
        titles = [statistics.titles.listed(token) or 0.0 for token in term.tokens]
        if min(pairs) < BOUND_PHRASE_SHARE:
            return False
        shares.append(min(titles))
    return bool(shares) and TITLE_WINDOW * math.prod(shares) >= PROOF_MARGIN * limit


def _whole(at: TermAt, statistics: VectorStatistics) -> Part | None:
    """The term anywhere: its share, and the postings counting it directly reads (None when
    the statistics do not list it: then it is rare, and counting it is cheap anyway)."""
    term, levels = at.term, statistics.levels
    if is_word(term):
        share = sum(
            levels.listed(impact_token(term.tokens[0], level)) or 0.0
            for level in range(1, LEVELS + 1)
        )
        return Part(at, min(share, 1.0), share * levels.rows) if share else None
    if term.prefix or statistics.pairs is None or statistics.titles is None:
        return None
    pairs = [statistics.pairs.briefs(pair) for pair in pair_tokens(term.tokens)]
    titles = [statistics.titles.briefs(token) for token in term.tokens]
    # In the title (the GIN AND of its words: common words in titles cost about their sum) or
    # in the body (the pairs).
    postings = min(pairs) + sum(titles)
    return Part(at, min(1.0, min(pairs) / levels.rows), postings)


def keyword_share(keywords: Iterable[str], statistics: TokenStatistics) -> float | None:
    """The share of briefs holding one of the keywords (substrings), as far as the statistics
    tell: a keyword's words all anywhere (a brief holding a word nearly always holds it as a
    substring too), a word they do not list being rare. None without keywords; 1.0 for a
    keyword without a word (`’s`), whose share is unknown."""
    shares = []
    for keyword in keywords:
        words = tokens(keyword)
        if not words:
            return 1.0
        shares.append(min(_word_share(word, statistics) for word in words))
    if not shares:
        return None
    return max(min(1.0, sum(shares)), 1.0 / statistics.rows)


def _word_share(word: str, statistics: TokenStatistics) -> float:
    levels = range(1, LEVELS + 1)
    return min(1.0, sum(statistics.listed(impact_token(word, level)) or 0.0 for level in levels))


def _facet_part(group: Sequence[str], levels: TokenStatistics) -> Part:
    briefs = min(levels.rows, sum(levels.briefs(token) for token in group))
    return Part(None, briefs / levels.rows, briefs)


def class_plan(
    groups: Sequence[Sequence[str]],
    statistics: TokenStatistics,
    limit: int,
    *,
    rum: bool,
    keyword_share: float | None = None,
) -> ClassPlan:
    """How to read the newest `limit` briefs holding a token of each group (a class, with its
    FILTER values): RUM's ordered scan, a GIN bitmap sorted by day, or the planner's choice
    (which walks the day index when matches are dense). `keyword_share`: the share of briefs
    `keyword:` keeps (`keyword_share`), each tested row by row, when the query has one."""
    if not groups:
        return "planner"
    rows = statistics.rows
    sizes = [min(rows, sum(statistics.briefs(token) for token in group)) for group in groups]
    in_class = max(rows * math.prod(size / rows for size in sizes), 1.0)
    kept = 1.0 if keyword_share is None else keyword_share
    matches = max(in_class * kept, 1.0)
    # The keyword is read (TOASTed) only on rows already in the class; a walk tests the class
    # first too, so its cost is in the rows it passes.
    keyword_tests = 0.0 if keyword_share is None else ROW_TEST_US
    walk = ROW_TEST_US * limit * rows / matches
    bitmap = POSTING_US * min(sizes) + (HEAP_ROW_US + keyword_tests) * in_class
    ordered = RUM_POSTING_US * sum(sizes) + keyword_tests * limit / kept if rum else math.inf
    if ordered < min(walk, bitmap):
        return "rum"
    # Tokens that go together (`meta` and `entity:meta`) have more matches than independence
    # says, which makes a bitmap dearer and a walk cheaper: a bitmap is forced only when even
    # every brief of its rarest token matching would not cost much more than the walk.
    worst = (POSTING_US + HEAP_ROW_US) * min(sizes)
    return "bitmap" if bitmap < walk and worst < BITMAP_RISK * walk else "planner"
