"""What a search returns: a page of hits, with how complete it is."""

from __future__ import annotations

from dataclasses import dataclass

from bot.signal import Signal


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: the brief and a snippet whose hits are marked U+E000 … U+E001."""

    signal: Signal
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results.

    `total` is exact unless `more_than_total` (at least that many match).
    """

    hits: list[Hit]
    total: int
    offset: int
    more_than_total: bool = False
