"""The search QUERY grammar (CONTRACT.md, "Slash commands"): text in, SearchQuery out, no SQL.

A QUERY is free text plus the FILTER field terms (same tokenizer, `bot.filter_terms.tokenize`):

    muse spark                  words, all required
    "muse spark"  secur*        a phrase; a prefix
    entity:Meta -keyword:rumour topic:, entity:, category:, source:, keyword:, with `-` excludes
    -rumour  -"closed source"   a `-` before free text excludes it as a keyword (substring)
    since:2026-04-01 until:2026-04-30     inclusive dates (published)

Decisions a caller should know:
- Unlike a FILTER, a bare word is free text, never a topic. There are no boolean operators:
  `AND`, `OR`, `NOT`, `NEAR(` are ordinary words.
- Free-text terms with no letter or digit (`&`, `--`) are dropped; a query left with nothing
  at all is an error. A lone `*` or `-` is an error.
- Free text is matched by index tokens (`text_terms`, `bot.search.tokens`): a word, or a phrase of
  several, the last one maybe a prefix. Only the backends (`bot.search.backends`) write SQL or
  full-text syntax, from tokens ([a-z0-9]+) alone, so user text never acts as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from bot.errors import FilterError
from bot.filter_terms import DATE_FIELDS, RawTerm, blank_control_chars, check_term, echo, tokenize
from bot.filters import FIELDS, SignalFilter, filter_from_terms, join_alternatives
from bot.search.tokens import tokens

QUERY_FIELDS = (*FIELDS, *DATE_FIELDS)
MAX_QUERY_TERMS = 40

TermKind = Literal["word", "phrase", "prefix"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

EMPTY_QUERY_MESSAGE = (
    'Tell me what to search for, like `muse spark`, `"closed source"` or '
    "`entity:Meta since:2026-04-01`."
)
LONE_STAR_MESSAGE = "A `*` goes right after the start of a word, like `secur*`."
SHORT_PREFIX_MESSAGE = (
    "`{written}` would match almost every word. Give at least two letters before the `*`, "
    "like `ll*`."
)


@dataclass(frozen=True, slots=True)
class Term:
    """One free-text search term: a word, a "quoted phrase", or the start of a word (`secur*`)."""

    text: str
    kind: TermKind = "word"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed QUERY: free-text terms (all required) plus field constraints and a date range.

    `filter` holds the field terms only (and free text excluded with `-`, as keywords);
    `since` and `until` are inclusive dates of `published`.
    """

    terms: tuple[Term, ...] = ()
    filter: SignalFilter = field(default_factory=SignalFilter)
    since: date | None = None
    until: date | None = None

    @property
    def is_empty(self) -> bool:
        """True when the query has no terms and no constraints at all."""
        return (
            not self.terms
            and self.filter.is_everything
            and self.since is None
            and self.until is None
        )

    def describe(self) -> str:
        """Plain language: `briefs matching “muse” and “spark”, from entity Meta, since …`."""
        phrases = self.filter.phrases()
        if self.terms:
            shown = [_describe_term(term) for term in self.terms]
            phrases.insert(0, f"matching {join_alternatives(shown, 'and')}")
        if self.since:
            phrases.append(f"since {self.since.isoformat()}")
        if self.until:
            phrases.append(f"until {self.until.isoformat()}")
        return f"briefs {', '.join(phrases)}" if phrases else "all briefs"


@dataclass
class _QueryParts:
    """What parse_query has collected so far."""

    terms: list[Term] = field(default_factory=list)
    field_terms: list[RawTerm] = field(default_factory=list)
    dates: dict[str, date] = field(default_factory=dict)


def parse_query(text: str) -> SearchQuery:
    """Parse a search QUERY as typed in Slack; raise FilterError with a friendly reason."""
    raw_terms = tokenize(text, max_terms=MAX_QUERY_TERMS)
    if not raw_terms:
        raise FilterError(EMPTY_QUERY_MESSAGE)
    parts = _QueryParts()
    for term in raw_terms:
        check_term(term, QUERY_FIELDS)
        _add_term(parts, term)
    query = SearchQuery(
        terms=tuple(parts.terms),
        filter=filter_from_terms(parts.field_terms),
        since=parts.dates.get("since"),
        until=parts.dates.get("until"),
    )
    _reject_backwards_range(query)
    if query.is_empty:
        raise FilterError(
            f"There's nothing to search for in `{echo(blank_control_chars(text).strip())}`. "
            "Use words or phrases, like `muse spark`."
        )
    return query


def _add_term(parts: _QueryParts, term: RawTerm) -> None:
    if term.field in DATE_FIELDS:
        _add_date(parts, term)
    elif term.field is not None:
        parts.field_terms.append(term)
    elif term.negated:
        excluded = _free_text_term(term).text
        parts.field_terms.append(replace(term, field="keyword", value=excluded))
    else:
        free_text = _free_text_term(term)
        if has_token_chars(free_text.text):
            parts.terms.append(free_text)


def _free_text_term(term: RawTerm) -> Term:
    if term.quoted:
        return Term(term.value, "phrase")
    if not term.value.endswith("*"):
        return Term(term.value, "word")
    start = term.value.rstrip("*")
    if not start:
        raise FilterError(LONE_STAR_MESSAGE)
    start_tokens = tokens(start)
    if len(start_tokens) == 1 and len(start_tokens[0]) == 1:
        raise FilterError(SHORT_PREFIX_MESSAGE.format(written=echo(term.written)))
    return Term(start, "prefix")


def _add_date(parts: _QueryParts, term: RawTerm) -> None:
    assert term.field is not None
    if term.negated:
        raise FilterError(
            "Dates can't be excluded with `-`. Set the range with `since:` and `until:`, "
            "like `since:2026-04-01 until:2026-04-30`."
        )
    if term.field in parts.dates:
        raise FilterError(f"Use `{term.field}:` only once.")
    parts.dates[term.field] = _parse_date(term.field, term.value)


def _parse_date(field_name: str, value: str) -> date:
    if _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise FilterError(
        f"`{field_name}:{echo(value)}` isn't a date I can read. "
        f"Use YYYY-MM-DD, like `{field_name}:2026-04-23`."
    )


def _reject_backwards_range(query: SearchQuery) -> None:
    if query.since and query.until and query.until < query.since:
        raise FilterError(
            f"`until:{query.until.isoformat()}` is before `since:{query.since.isoformat()}`. "
            "Swap the dates, or pick a later `until:`."
        )


def _describe_term(term: Term) -> str:
    return f"“{term.text}…”" if term.kind == "prefix" else f"“{term.text}”"


def no_hit_hints(query: SearchQuery) -> list[str]:
    """What to try when nothing matched, most useful first (at most three)."""
    hints = []
    if query.filter.include or query.filter.exclude:
        hints.append("Drop a filter (`entity:`, `topic:`, `keyword:` …) to widen the search.")
    if query.since or query.until:
        hints.append("Widen the dates, or leave out `since:` and `until:`.")
    if any(term.kind == "phrase" for term in query.terms):
        hints.append("Take the quotes off a phrase to find its words apart.")
    if len(query.terms) > 1:
        hints.append("Use fewer words: a brief must contain every one.")
    long_words = [term.text for term in query.terms if term.kind == "word" and len(term.text) > 4]
    if long_words:
        hints.append(
            f"Try the start of a word, like `{long_words[0][:4]}*`, to catch its other forms."
        )
    return hints[:3] or ["Check the spelling, or try the start of a word, like `llam*`."]


def has_token_chars(text: str) -> bool:
    """True when the text has a word the search index would see (`bot.search.tokens.tokens`)."""
    return bool(tokens(text))


@dataclass(frozen=True, slots=True)
class TextTerm:
    """A free-text term as index tokens: one, or a phrase of several; the last maybe a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


def text_terms(query: SearchQuery) -> tuple[TextTerm, ...]:
    """The query's free-text terms as index tokens, without repeats; terms with none are dropped.

    A word the tokenizer splits (`closed-source`, `gpt東京`) is a phrase of its tokens, as in the
    index. A term that repeats (or a word already required as a phrase's only word) adds nothing.
    """
    found: dict[TextTerm, None] = {}
    for term in query.terms:
        term_tokens = tuple(tokens(term.text))
        if term_tokens:
            found.setdefault(TextTerm(term_tokens, prefix=term.kind == "prefix"))
    return tuple(found)
