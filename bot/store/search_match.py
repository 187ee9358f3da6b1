"""What search asks a full-text index (`Match`), and the interface both indexes offer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sqlalchemy import ColumnElement, Select

from bot.query import TextTerm

# The prefix lengths FTS5 indexes (migration 0004: prefix='2 3').
PREFIX_LENGTHS = (2, 3)

FieldValues = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Match:
    """Every term (in the title only, or anywhere), FILTER name values, and a date range."""

    terms: tuple[TextTerm, ...]
    title_only: bool = False
    include: FieldValues = field(default_factory=dict)
    exclude: FieldValues = field(default_factory=dict)
    since: date | None = None
    until: date | None = None


class FullTextIndex(Protocol):
    def newest(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Select[int]:
        """`seq` of the newest `limit` rows above `above_seq` that match and pass `where`."""

    def newest_seqs(
        self,
        match: Match,
        *,
        limit: int,
        above_seq: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> list[int]:
        """The same rows, fetched in the way that suits this index best."""
