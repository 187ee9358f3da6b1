"""The subscription FILTER grammar: parsing, canonical forms, matching and friendly errors."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import FilterError
from bot.filter_terms import MAX_TEXT_LENGTH, RawTerm, tokenize
from bot.filters import SignalFilter, parse_filter
from bot.signal import Section, Signal

META_BRIEF = Signal(
    title="Meta Pivots To Closed-Source AI With 'Muse Spark'",
    published=datetime(2026, 4, 23, tzinfo=UTC),
    source="optyx",
    entity="Meta",
    category="PLATFORM RELEASE",
    topic="AI Advances",
    summary="Meta   released Muse\nSpark as a closed model.",
    sections=(
        Section("The News", "Meta announced the model on Tuesday."),
        Section("The OPTYX Analysis", "A rumour says the weights will never ship."),
        Section("AI Governance Impact", "Regulators take note of Meta’s shift."),
    ),
)
SECURITY_BRIEF = Signal(
    title="Patch Tuesday",
    published=datetime(2026, 4, 14, tzinfo=UTC),
    source="feeds",
    entity="Microsoft",
    category="Vulnerability",
    topic="Security",
    summary="Seventy fixes.",
)


# --- tokenizer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Meta", [RawTerm("Meta", written="Meta")]),
        ('"AI  Advances"', [RawTerm("AI Advances", quoted=True, written='"AI  Advances"')]),
        ("“AI Advances”", [RawTerm("AI Advances", quoted=True, written="“AI Advances”")]),
        ("‘AI Advances’", [RawTerm("AI Advances", quoted=True, written="‘AI Advances’")]),
        ("Meta’s", [RawTerm("Meta’s", written="Meta’s")]),
        ("'90s", [RawTerm("'90s", written="'90s")]),
        (
            'Entity:"Open AI"',
            [RawTerm("Open AI", field="entity", quoted=True, written='Entity:"Open AI"')],
        ),
        (
            "-keyword:rumour",
            [RawTerm("rumour", field="keyword", negated=True, written="-keyword:rumour")],
        ),
        ("entity:", [RawTerm("", field="entity", written="entity:")]),
        (
            'Open"AI"',
            [RawTerm("Open", written="Open"), RawTerm("AI", quoted=True, written='"AI"')],
        ),
        ("a\x00b", [RawTerm("a", written="a"), RawTerm("b", written="b")]),
        ("10:30", [RawTerm("10:30", written="10:30")]),
    ],
)
def test_tokenize(text: str, expected: list[RawTerm]) -> None:
    assert tokenize(text, max_terms=20) == expected


# --- parsing and canonical forms ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("AI Advances", "topic:ai-advances"),
        ("ai-advances", "topic:ai-advances"),
        ('topic:"ai advances"', "topic:ai-advances"),
        ("TOPIC:AI-Advances", "topic:ai-advances"),
        ('"AI Advances"', "topic:ai-advances"),
        ("“AI Advances”", "topic:ai-advances"),
        ("‘AI Advances’", "topic:ai-advances"),
        ("  AI\tAdvances  ", "topic:ai-advances"),
        ("AI Advances, Security", "topic:ai-advances topic:security"),
        ('Security "AI Advances"', "topic:ai-advances topic:security"),
        ("entity:Meta AI Advances", "topic:ai-advances entity:meta"),
        ('entity:"Open AI"', "entity:open-ai"),
        ("entity:Meta entity:Google", "entity:google entity:meta"),
        ("Entity:META entity:meta", "entity:meta"),
        ('category:"PLATFORM RELEASE"', "category:platform-release"),
        ("source:optyx", "source:optyx"),
        ("keyword:Rumour", "keyword:rumour"),
        ('keyword:"Muse   Spark"', 'keyword:"muse spark"'),
        ("keyword:Meta’s", 'keyword:"meta\'s"'),
        ("all", "all"),
        ("ALL", "all"),
        ('"all"', "topic:all"),
        ("-entity:Meta", "all -entity:meta"),
        ("all -entity:Meta", "all -entity:meta"),
        ("-keyword:rumour AI Advances", "topic:ai-advances -keyword:rumour"),
        ('-"some topic"', "all -topic:some-topic"),
        ("-Some Topic", "all -topic:some-topic"),
        ("Meta -Security Updates", "topic:meta -topic:security-updates"),
        ("Meta’s, Meta's", "topic:meta-s"),
    ],
)
def test_canonical(text: str, canonical: str) -> None:
    parsed = parse_filter(text)
    assert parsed.canonical == canonical
    assert parse_filter(canonical) == parsed


@pytest.mark.parametrize(
    "equivalent",
    [
        ("AI Advances", "ai-advances", 'topic:"ai advances"', "“AI Advances”", "topic:AI-ADVANCES"),
        ("entity:Meta AI Advances", '"ai advances" Entity:meta', "topic:ai-advances entity:META"),
        ("-keyword:rumour Security", "Security -keyword:RUMOUR", 'security -keyword:"rumour"'),
        ("all -entity:Meta", "-entity:meta", "-entity:Meta all"),
    ],
)
def test_equivalent_filters_are_equal(equivalent: tuple[str, ...]) -> None:
    filters = [parse_filter(text) for text in equivalent]
    assert len({f.canonical for f in filters}) == 1
    assert len(set(filters)) == 1


def test_include_and_exclude_shape() -> None:
    parsed = parse_filter(
        'AI Advances, Security entity:Meta keyword:"Muse Spark" -source:feeds -keyword:rumour'
    )
    assert dict(parsed.include) == {
        "topic": frozenset({"ai-advances", "security"}),
        "entity": frozenset({"meta"}),
        "keyword": frozenset({"muse spark"}),
    }
    assert dict(parsed.exclude) == {
        "source": frozenset({"feeds"}),
        "keyword": frozenset({"rumour"}),
    }
    assert list(parsed.include) == ["topic", "entity", "keyword"]


def test_all_is_everything() -> None:
    assert parse_filter("all").is_everything
    assert SignalFilter().is_everything
    assert not parse_filter("all -entity:Meta").is_everything
    assert not parse_filter("Meta").is_everything


def test_constructed_filter_normalizes_values() -> None:
    built = SignalFilter(include={"topic": {"AI Advances"}}, exclude={"keyword": {"RUMOUR"}})
    assert built == parse_filter("AI Advances -keyword:rumour")
    assert hash(built) == hash(parse_filter("ai-advances -keyword:Rumour"))


def test_constructed_filter_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="colour"):
        SignalFilter(include={"colour": frozenset({"red"})})


def test_filter_is_frozen() -> None:
    parsed = parse_filter("Meta")
    with pytest.raises(AttributeError):
        parsed.include = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        parsed.include["entity"] = frozenset({"x"})  # type: ignore[index]


# --- describe ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "description"),
    [
        (
            "AI Advances, Security entity:Meta -keyword:rumour",
            "briefs with topic AI Advances or Security, from entity Meta, not mentioning “rumour”",
        ),
        ("all", "all briefs"),
        (
            "all -entity:Meta -source:feeds",
            "all briefs not from entity Meta, not from source feeds",
        ),
        ('category:"Platform Release"', "briefs in category Platform Release"),
        ('keyword:"Muse Spark"', "briefs mentioning “Muse Spark”"),
        ("-Security", "all briefs without topic Security"),
        ("a, b, c", "briefs with topic a, b or c"),
        ("topic:ai-advances", "briefs with topic ai-advances"),
    ],
)
def test_describe(text: str, description: str) -> None:
    assert parse_filter(text).describe() == description


# --- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matches_meta", "matches_security"),
    [
        ("all", True, True),
        ("AI Advances", True, False),
        ("ai-advances", True, False),
        ('"ai advances"', True, False),
        ("AI Advances, Security", True, True),  # OR within a field
        ("Security entity:Meta", False, False),  # AND across fields
        ("AI Advances entity:Meta", True, False),
        ("entity:meta", True, False),
        ('category:"platform release"', True, False),
        ("category:platform-release", True, False),
        ("source:OPTYX", True, False),
        ("source:feeds", False, True),
        ("-entity:Meta", False, True),
        ("all -topic:security", True, False),
        ("AI Advances, Security -source:feeds", True, False),
        ("keyword:PIVOTS", True, False),  # title
        ('keyword:"muse spark"', True, False),  # summary, across a newline and spaces
        ("keyword:rumour", True, False),  # section body
        ('keyword:"optyx analysis"', True, False),  # section heading
        ("keyword:Meta’s", True, False),  # typographic apostrophe in the body
        ("keyword:meta's", True, False),
        ("keyword:seventy", False, True),
        ("keyword:microsoft", False, True),  # entity
        ("-keyword:rumour", False, True),
        ("keyword:rumour keyword:seventy", True, True),
        ("keyword:.*", False, False),  # plain text, never a regex
        ('keyword:"spark as a"', True, False),
        ('keyword:"ai advances"', False, False),  # the topic is not keyword text
        ("keyword:\"meta pivots to closed-source ai with 'muse spark'\"", True, False),
        ('keyword:"spark\' meta"', False, False),  # never spans two parts
    ],
)
def test_matches(text: str, matches_meta: bool, matches_security: bool) -> None:
    parsed = parse_filter(text)
    assert parsed.matches(META_BRIEF) is matches_meta
    assert parsed.matches(SECURITY_BRIEF) is matches_security


def test_matches_a_signal_with_empty_fields() -> None:
    bare = Signal(title="Untitled", published=datetime(2026, 1, 1, tzinfo=UTC))
    assert parse_filter("all").matches(bare)
    assert parse_filter("-entity:Meta").matches(bare)
    assert not parse_filter("AI Advances").matches(bare)


def test_matches_non_ascii_names() -> None:
    signal = Signal(title="t", published=datetime(2026, 1, 1, tzinfo=UTC), entity="東京  電力")
    assert parse_filter('entity:"東京 電力"').matches(signal)
    assert parse_filter("entity:'Ünïcode'").matches(
        Signal(title="t", published=datetime(2026, 1, 1, tzinfo=UTC), entity="Unicode")
    )


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word_in_message"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("foo:bar", "topic:"),
        ("foo:bar", "`foo:`"),
        ("since:2026-01-01", "only works in search"),
        ("entity:", "entity:Meta"),
        ("entity: Meta", "no space"),
        ('entity:""', "nothing between the quotes"),
        ('""', "nothing between the quotes"),
        ('"AI Advances', "closing quote"),
        ("entity:“Open AI", "closing quote"),
        ("-", "-entity:Meta"),
        ("Meta - Security", "no space"),
        ("-,", "-entity:Meta"),
        ("-all", "exclude every brief"),
        ("all entity:Meta", "all -entity:Meta"),
        ('all "AI Advances"', "all -entity:Meta"),
        ("all AI", "quote it"),
        ("entity:Meta -entity:META", "include and exclude"),
        ('"AI Advances" -ai-advances', "include and exclude"),
        ("x" * (MAX_TEXT_LENGTH + 1), "limit is 500"),
        (" ".join(["word"] * 21), "more than 20 terms"),
    ],
)
def test_errors_are_friendly(text: str, word_in_message: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    message = str(raised.value)
    assert word_in_message in message
    assert len(message) < 300


def test_twenty_terms_are_fine() -> None:
    assert parse_filter(" ".join(f"keyword:w{n}" for n in range(20))).include["keyword"]


def test_exactly_the_length_limit_is_fine() -> None:
    assert parse_filter("x" * MAX_TEXT_LENGTH).include["topic"] == {"x" * MAX_TEXT_LENGTH}


def test_error_echo_is_truncated() -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter('"' + "y" * 400)
    assert "y" * 60 not in str(raised.value)


# --- properties -------------------------------------------------------------------------------

filter_words = st.sampled_from(
    [
        "all", "ALL", "-", "-all", "AI", "Advances", "ai-advances", "Meta", "Meta’s", "'90s",
        ",", "Security,", '"', "“", "”", "‘", "’", "'", "entity:", "Entity:", "topic:",
        "category:", "source:", "keyword:", "foo:", "since:", "-entity:", "-keyword:", "-",
        '"AI Advances"', "“Open AI”", "‘x y’", "东京", "ß", "İ", "Ω", "*", ":", "--", "é",
    ]
)  # fmt: skip
filter_like_text = st.lists(st.one_of(filter_words, st.text(max_size=6)), max_size=12).map(
    lambda parts: " ".join(parts)
)
glued_text = st.lists(st.one_of(filter_words, st.text(max_size=4)), max_size=10).map("".join)
# Any code point, lone surrogates included: JSON can carry them as `\ud800` escapes.
any_code_points = st.text(alphabet=st.characters(codec=None), max_size=40)
any_text = st.one_of(st.text(max_size=80), any_code_points, filter_like_text, glued_text)


def parse_or_none(text: str) -> SignalFilter | None:
    try:
        return parse_filter(text)
    except FilterError:
        return None


@settings(max_examples=500)
@given(any_text)
@example('entity:‘"’')
@example("keyword:'a \"b' c'")
def test_any_text_gives_a_filter_or_a_short_friendly_error(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except FilterError as error:
        message = str(error)
        assert message.strip(), "the person is told what is wrong"
        assert "\n" not in message, "one line"
        assert len(message) <= 300, "short, and never the whole input echoed"
        return
    assert parsed.describe(), "the subscribe reply can say what it will receive"
    assert parse_filter(parsed.canonical) == parsed


@settings(max_examples=500)
@given(any_text)
@example("keyword:'a b'")
@example("Ω İ ß")
def test_canonical_round_trips(text: str) -> None:
    parsed = parse_or_none(text)
    if parsed is None:
        return
    reparsed = parse_filter(parsed.canonical)
    assert reparsed == parsed
    assert reparsed.canonical == parsed.canonical
    assert hash(reparsed) == hash(parsed)


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from(["Meta,", '"AI Advances"', "-keyword:rumour", "source:x", "y,", "z,"]))
)
def test_term_order_does_not_matter(terms: list[str]) -> None:
    # Bare words carry a comma: a run of bare words is one name, so its word order counts.
    forwards = parse_or_none(" ".join(terms))
    backwards = parse_or_none(" ".join(reversed(terms)))
    if forwards is not None and backwards is not None:
        assert forwards.canonical == backwards.canonical


QUOTE_CHARACTERS = "'\"“”„‟‘’"
# Any name that can stand between quotes: every code point but quotes and lone surrogates.
entity_names = st.text(
    alphabet=st.characters(blacklist_characters=QUOTE_CHARACTERS, blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300)
@given(entity_names)
@example("Meta")
@example("\xad")  # a soft hyphen alone is a name, if an odd one
@example(" \t\x00")
def test_an_entity_filter_matches_its_own_name(name: str) -> None:
    signal = Signal(title="t", published=datetime(2026, 1, 1, tzinfo=UTC), entity=name)
    if all(char.isspace() or unicodedata.category(char) == "Cc" for char in name):
        with pytest.raises(FilterError, match="nothing between the quotes"):
            parse_filter(f"entity:'{name}'")
        return
    assert parse_filter(f"entity:'{name}'").matches(signal)
