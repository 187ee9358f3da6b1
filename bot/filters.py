"""The subscription FILTER grammar (CONTRACT.md, "Slash commands"), read by the tokenizer it
shares with the search QUERY grammar (`bot.filter_terms`).

A FILTER is a list of terms separated by whitespace:

    AI Advances                 one topic: consecutive bare words name a single topic
    AI Advances, Security       two topics: a comma ends a run of bare words
    "AI Advances"  topic:"ai advances"  ai-advances      the same topic
    entity:Meta  entity:"Open AI"  category:NAME  source:NAME  keyword:WORD  keyword:"a phrase"
    -entity:Meta  -keyword:rumour  -"some topic"  -Some Topic      a `-` prefix excludes
    all                         every brief

Decisions a caller should know:
- Terms of one field are OR-ed, fields are AND-ed, excludes remove.
- A run of bare words ends at a comma, a quoted phrase, a `field:` term or a `-` term; a `-`
  before a bare word excludes the whole run it starts (`-Security Updates`).
- Only excludes (`-entity:Meta`) means "everything except", exactly like `all -entity:Meta`.
  `all` next to an include term (`all entity:Meta`, `all AI`) is an error, as is `-all`, as is
  including and excluding the same value (`entity:Meta -entity:meta`). Quote a topic that is
  literally called "all".
- Names (topic, entity, category, source) compare by `name_key` (slugify with whitespace
  normalized): `ai-advances` = `AI Advances`. Keywords compare by `fold` (lowercase, single
  spaces, typographic apostrophes ‘ ’ as '), as a substring of the brief's title, summary,
  section headings and bodies, and entity.
- Double quotes (" “ ” „ ‟) always delimit a phrase, and a quote mark ends a bare word
  (`entity:Open"AI"` is `entity:Open` then `"AI"`). Single quotes (' ‘ ’) delimit a phrase only
  when they open a value and a closing one is followed by whitespace or the end; anywhere else
  they are apostrophes (`Meta’s`). So values never contain double quote marks.
- Text is limited to MAX_TEXT_LENGTH characters and MAX_FILTER_TERMS terms (words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType

from bot.errors import FilterError
from bot.filter_terms import (
    LONE_MINUS_MESSAGE,
    RawTerm,
    blank_control_chars,
    check_term,
    echo,
    tokenize,
)
from bot.signal import Signal, slugify

NAME_FIELDS = ("topic", "entity", "category", "source")
FIELDS = (*NAME_FIELDS, "keyword")
MAX_FILTER_TERMS = 20


# Values of this shape read back the same without quotes (every slug has it).
_PLAIN_VALUE = re.compile(r"[a-z0-9][a-z0-9-]*")
_APOSTROPHES = str.maketrans({"‘": "'", "’": "'"})
# `fold` of ASCII text in one step: controls as spaces, letters lowercased (the rest is kept).
_ASCII_FOLD = str.maketrans({code: blank_control_chars(chr(code)).lower() for code in range(128)})

_INCLUDE_WORDING = {
    "topic": "with topic",
    "entity": "from entity",
    "category": "in category",
    "source": "from source",
    "keyword": "mentioning",
}
_EXCLUDE_WORDING = {
    "topic": "without topic",
    "entity": "not from entity",
    "category": "not in category",
    "source": "not from source",
    "keyword": "not mentioning",
}

EMPTY_FILTER_MESSAGE = (
    "The filter is empty. Try a topic like `AI Advances`, a field like `entity:Meta`, "
    "or `all` for every brief."
)


# --- values ---------------------------------------------------------------------------------------


# Names repeat from brief to brief (a few hundred entities, categories, topics and sources
# among a million briefs), and each stored brief and each filter match asks for several.
@lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """How topic, entity, category and source names compare: `AI  Advances` -> `ai-advances`."""
    return slugify(" ".join(blank_control_chars(name).translate(_APOSTROPHES).split()))


def fold(text: str) -> str:
    """How keywords and the text they are found in compare: lowercase, single spaces."""
    if text.isascii():  # the same, twice as fast (every stored brief folds all its text)
        return " ".join(text.translate(_ASCII_FOLD).split())
    return " ".join(blank_control_chars(text).lower().translate(_APOSTROPHES).split())


def normalized_value(field_name: str, value: str) -> str:
    """The stored form of a value of `field_name`: a name key, or a folded keyword."""
    return fold(value) if field_name == "keyword" else name_key(value)


# --- the filter -----------------------------------------------------------------------------------


FieldValues = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class SignalFilter:
    """A parsed FILTER: which signals a subscription (or `latest`, or a search) wants.

    `include` and `exclude` map a field name to the set of values for it, read-only:

        {"topic": frozenset({"ai-advances", "security"}), "keyword": frozenset({"muse spark"})}

    Field names are from FIELDS (topic, entity, category, source, keyword), in that order, and
    only fields with at least one value appear. Name fields hold `name_key` slugs (compare with
    `name_key(column)`); `keyword` holds `fold`ed text (lowercase, single spaces, ’ as '), to be
    found as a substring of `keyword_text(signal)` (title, summary, sections, entity). A signal
    matches when, for every field in `include`, it has one of the values, and it has none of the
    values in `exclude`. `labels` keeps the user's spelling, for display only: it takes no part
    in equality, and values given at construction are normalized.
    """

    include: FieldValues = field(default_factory=dict)
    exclude: FieldValues = field(default_factory=dict)
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "include", _frozen_field_values(self.include))
        object.__setattr__(self, "exclude", _frozen_field_values(self.exclude))
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    def __hash__(self) -> int:
        return hash((frozenset(self.include.items()), frozenset(self.exclude.items())))

    @property
    def is_everything(self) -> bool:
        """True when the filter lets every signal through (`all`)."""
        return not self.include and not self.exclude

    @property
    def canonical(self) -> str:
        """The normalized, order-independent text stored and compared; it parses back equal."""
        included = [
            _canonical_term(name, value, "") for name, value in _sorted_values(self.include)
        ]
        excluded = [
            _canonical_term(name, value, "-") for name, value in _sorted_values(self.exclude)
        ]
        return " ".join(included or ["all"]) + "".join(f" {term}" for term in excluded)

    def matches(self, signal: Signal) -> bool:
        """True when the signal has a value of every included field and no excluded value."""
        wanted = all(_field_hits(signal, name, values) for name, values in self.include.items())
        return wanted and not any(
            _field_hits(signal, name, values) for name, values in self.exclude.items()
        )

    def describe(self) -> str:
        """Plain language: `briefs with topic AI Advances or Security, not mentioning “rumour”`."""
        listed = ", ".join(self.phrases())
        if not self.include:
            return f"all briefs {listed}" if listed else "all briefs"
        return f"briefs {listed}"

    def phrases(self) -> list[str]:
        """One phrase per constrained field, includes first: `from entity Meta`."""
        included = [
            self._phrase(name, values, _INCLUDE_WORDING) for name, values in self.include.items()
        ]
        excluded = [
            self._phrase(name, values, _EXCLUDE_WORDING) for name, values in self.exclude.items()
        ]
        return included + excluded

    def _phrase(self, name: str, values: frozenset[str], wording: Mapping[str, str]) -> str:
        shown = [self._label(name, value) for value in sorted(values)]
        return f"{wording[name]} {join_alternatives(shown, 'or')}"

    def _label(self, name: str, value: str) -> str:
        label = self.labels.get((name, value), value)
        return f"“{label}”" if name == "keyword" else label


def join_alternatives(items: list[str], conjunction: str) -> str:
    """`A`, `A or B`, `A, B or C`."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _frozen_field_values(values: FieldValues) -> FieldValues:
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown filter fields: {sorted(unknown)}")
    frozen = {
        name: frozenset(normalized_value(name, value) for value in values[name])
        for name in FIELDS
        if values.get(name)
    }
    return MappingProxyType(frozen)


def _sorted_values(values: FieldValues) -> list[tuple[str, str]]:
    return [(name, value) for name, group in values.items() for value in sorted(group)]


def _canonical_term(name: str, value: str, sign: str) -> str:
    written = value if _PLAIN_VALUE.fullmatch(value) else f'"{value}"'
    return f"{sign}{name}:{written}"


def _field_hits(signal: Signal, name: str, values: frozenset[str]) -> bool:
    if name == "keyword":
        text = keyword_text(signal)
        return any(keyword in text for keyword in values)
    return name_key(getattr(signal, name)) in values


def keyword_text(signal: Signal) -> str:
    """The folded text keywords are looked for in (a search layer may store it for LIKE)."""
    # One line per part, so a keyword (which has no newline) never spans two parts.
    parts = [signal.title, signal.summary]
    for section in signal.sections:
        parts += [section.heading, section.body]
    parts.append(signal.entity)
    return "\n".join(map(fold, parts))


# --- building and parsing -------------------------------------------------------------------------


def filter_from_terms(terms: Iterable[RawTerm]) -> SignalFilter:
    """The SignalFilter for terms whose field is one of FIELDS (see `check_term`)."""
    include: dict[str, set[str]] = {}
    exclude: dict[str, set[str]] = {}
    labels: dict[tuple[str, str], str] = {}
    for term in terms:
        if term.field not in FIELDS:
            raise ValueError(f"not a filter field: {term.field!r}")
        value = normalized_value(term.field, term.value)
        (exclude if term.negated else include).setdefault(term.field, set()).add(value)
        labels.setdefault((term.field, value), term.value)
    _reject_contradictions(include, exclude, labels)
    return SignalFilter(
        include={name: frozenset(values) for name, values in include.items()},
        exclude={name: frozenset(values) for name, values in exclude.items()},
        labels=labels,
    )


def parse_filter(text: str) -> SignalFilter:
    """Parse a subscription FILTER as typed in Slack; raise FilterError with a friendly reason."""
    raw_terms = _merge_bare_words(tokenize(text, max_terms=MAX_FILTER_TERMS))
    if not raw_terms:
        raise FilterError(EMPTY_FILTER_MESSAGE)
    wants_all = False
    field_terms: list[RawTerm] = []
    for term in raw_terms:
        if _is_all(term):
            wants_all = True
        else:
            field_terms.append(_filter_term(term))
    if wants_all:
        _reject_all_with_includes(field_terms)
    return filter_from_terms(field_terms)


def _is_bare_word(term: RawTerm) -> bool:
    return term.field is None and not term.quoted


def _merge_bare_words(raw_terms: list[RawTerm]) -> list[RawTerm]:
    """Join each run of bare words into one topic name: `AI Advances` is one topic."""
    merged: list[RawTerm] = []
    run_open = False
    for term in raw_terms:
        if run_open and _is_bare_word(term) and not term.negated:
            merged[-1] = _joined(merged[-1], term)
        else:
            merged.append(term)
        run_open = _is_bare_word(term) and not term.value.endswith(",")
    return [term for term in map(_without_trailing_commas, merged) if not _is_lone_comma(term)]


def _joined(run: RawTerm, word: RawTerm) -> RawTerm:
    return replace(run, value=f"{run.value} {word.value}", written=f"{run.written} {word.written}")


def _is_lone_comma(term: RawTerm) -> bool:
    return _is_bare_word(term) and not term.value


def _without_trailing_commas(term: RawTerm) -> RawTerm:
    if not _is_bare_word(term):
        return term
    value = term.value.rstrip(",").rstrip()
    if term.negated and not value:
        raise FilterError(LONE_MINUS_MESSAGE)
    return replace(term, value=value)


def _is_all(term: RawTerm) -> bool:
    if not _is_bare_word(term) or term.value.lower().split(" ")[0] != "all":
        return False
    if term.negated:
        if term.value.lower() != "all":
            return False
        raise FilterError(
            "`-all` would exclude every brief. Name what to exclude instead, like `-entity:Meta`."
        )
    if term.value.lower() != "all":
        raise FilterError(
            f"`all` already means every brief, so it can't go with more words "
            f"(`{echo(term.written)}`). To name a topic that starts with “all”, quote it."
        )
    return True


def _filter_term(term: RawTerm) -> RawTerm:
    check_term(term, FIELDS)
    return term if term.field else replace(term, field="topic")


def _reject_all_with_includes(terms: list[RawTerm]) -> None:
    included = next((term for term in terms if not term.negated), None)
    if included is not None:
        raise FilterError(
            f"`all` already means every brief, so it can't go with `{echo(included.written)}`. "
            "Use `all` alone, drop it, or combine it only with exclusions like `all -entity:Meta`."
        )


def _reject_contradictions(
    include: Mapping[str, set[str]],
    exclude: Mapping[str, set[str]],
    labels: Mapping[tuple[str, str], str],
) -> None:
    for name, values in include.items():
        both = sorted(values & exclude.get(name, set()))
        if both:
            label = labels[(name, both[0])]
            written = f'"{label}"' if " " in label else label
            raise FilterError(
                f"You both include and exclude {name} {echo(label)}. Keep only one of "
                f"`{name}:{echo(written)}` or `-{name}:{echo(written)}`."
            )
