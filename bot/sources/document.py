"""A fetched document read into signals, lazily, so big ones are stored in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.signal import Signal


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One signal of a document; `dated` is False when the publisher gave no usable date."""

    signal: Signal
    dated: bool = True


@dataclass(slots=True)
class ParsedDocument:
    """The items of a feed or JSON document, and what was wrong with it short of failing."""

    items: Iterator[ParsedItem]
    count: int
    warnings: list[str] = field(default_factory=list)
