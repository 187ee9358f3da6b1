"""The exact top k of the ranking (bot.search.rank) over every match, read from the index.

Every term of a query has a few possible levels: a word 1..LEVELS, a phrase or a prefix
TITLE_LEVEL or BODY_LEVEL. Briefs whose terms have the same levels form a *class*, and share one
relevance (the sum of the levels), so within a class the newest brief ranks first; the index
hands out any class newest first (one query, LIMIT k), because it is ordered by day
(`published_day`, bot.search.document).

Classes are visited from the highest sum down, skipping levels no brief has for a term. Each adds
its newest k; a class whose sum plus the largest recency boost is below the k-th best score ends
the walk, since every later class has a sum at most as high. So the answer is the exact top k of
the declared function, however old the best brief and however many briefs match; the work is a
few classes for a query with many matches. A query with few matches (at most FEW) is simpler
still: all of them are read and scored (bot.search.rank.score).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence

from bot.search.grammar import TextTerm
from bot.search.rank import BODY_LEVEL, LEVELS, RECENCY, TITLE_LEVEL, Scored, best_first, recency

# (levels of each term, limit) -> (published_day, seq) of the class's newest briefs, newest first
ClassReader = Callable[[tuple[int, ...], int], list[tuple[int, int]]]


def possible_levels(term: TextTerm) -> tuple[int, ...]:
    """The levels a term can have in a brief that holds it, highest first."""
    if len(term.tokens) == 1 and not term.prefix:
        return tuple(range(LEVELS, 0, -1))
    return (TITLE_LEVEL, BODY_LEVEL)


def is_word(term: TextTerm) -> bool:
    """A single whole word, whose level the index stores (a phrase or prefix has two classes)."""
    return len(term.tokens) == 1 and not term.prefix


def classes_by_sum(options: Sequence[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    """Every combination of one level per term, highest sum first (each option list descending)."""
    if not options or any(not levels for levels in options):
        return
    start = (0,) * len(options)
    queue = [(-sum(levels[0] for levels in options), start)]
    seen = {start}
    while queue:
        negative_sum, positions = heapq.heappop(queue)
        yield tuple(levels[at] for levels, at in zip(options, positions, strict=True))
        for term, at in enumerate(positions):
            if (
                at + 1 < len(options[term])
                and (following := (*positions[:term], at + 1, *positions[term + 1 :])) not in seen
            ):
                seen.add(following)
                drop = options[term][at] - options[term][at + 1]
                heapq.heappush(queue, (negative_sum + drop, following))


def top_k(
    options: Sequence[Sequence[int]], read_class: ClassReader, k: int, today: int
) -> list[Scored]:
    """The k best briefs, best first, visiting classes until none can enter the top k."""
    best: list[tuple[tuple[float, int, int], Scored]] = []  # a min-heap: best[0] is the k-th
    for levels in classes_by_sum(options):
        relevance = sum(levels)
        if len(best) == k and relevance + RECENCY < best[0][1].score:
            break
        for day, seq in read_class(levels, k):
            scored = Scored(relevance + recency(day, today), day, seq)
            if len(best) < k:
                heapq.heappush(best, (scored.key, scored))
            elif scored.key > best[0][0]:
                heapq.heapreplace(best, (scored.key, scored))
            else:
                break  # the class comes best first: the rest of it cannot enter either
    return best_first([scored for _, scored in best])
