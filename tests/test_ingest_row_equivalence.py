"""The fast `new_row` stores exactly what the plain one did (tests/ingest_reference.py): the same
value in every column, for generated, seed, corpus and Hypothesis-made briefs."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import ingest_reference as reference
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.filters import fold, keyword_text, name_key
from bot.search.document import impacts, pairs, search_columns
from bot.search.rank import word_level, word_levels
from bot.search.tokens import MAX_DOCUMENT_TOKENS, tokens
from bot.signal import Section, Signal, short_id
from bot.sources.any_document import items_from_document
from bot.sources.brief_format import parse_brief
from bot.sources.json_signals import signals_from_payload
from bot.store.signals import NEW_ROW_COLUMNS, new_row

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def assert_same_rows(signal: Signal) -> None:
    fast, plain = new_row(signal), reference.new_row(signal)
    differing = [name for name, a, b in zip(NEW_ROW_COLUMNS, fast, plain, strict=True) if a != b]
    assert differing == [], f"{signal.title!r}: {differing}"
    assert [type(value) for value in fast] == [type(value) for value in plain]


def brief_generator() -> ModuleType:
    """benchmarks/brief_generator.py (benchmarks/ is not a package)."""
    if "brief_generator" in sys.modules:
        return sys.modules["brief_generator"]
    path = ROOT / "benchmarks" / "brief_generator.py"
    spec = importlib.util.spec_from_file_location("brief_generator", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["brief_generator"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_benchmarks_generated_briefs() -> None:
    generator = brief_generator().BriefGenerator(seed=7, total=100_000)
    for index in range(0, 100_000, 50):  # 2,000 briefs across the ten years
        brief = generator.brief(index)
        assert_same_rows(brief.keyed(brief.source))


def test_the_seed_brief_and_the_corpus_feeds() -> None:
    signals = [parse_brief((FIXTURES / "briefs" / "seed_meta_muse_spark.txt").read_text())]
    for feed in sorted((FIXTURES / "feeds").iterdir()):
        with contextlib.suppress(ParseError):  # some feeds are broken on purpose
            signals += [item.signal for item in items_from_document(feed.read_bytes(), name="x")]
    assert len(signals) > 200
    assert any(not signal.title.isascii() for signal in signals)  # accents, CJK
    for signal in signals:
        assert_same_rows(signal.keyed("corpus"))


# --- Hypothesis: the text the fast paths treat apart (ASCII or not, numbers, marks, long) -------

tricky_words = st.sampled_from(
    [
        "Café", "ZÜRICH", "東京", "gpt東京", "e\u0301te", "Straße", "ﬁle", "İstanbul", "ΣΑΣ",
        "a_b", "__x_1", "1e10abc", "4e1c", "12e3", "0", "x" * 70, "’quoted‘", "meta’s",
        "\x00", "\x1f", "\x7f", "\x85", "\u2028", "\u3000", "\t", "\n", " ", "",
        "GPT-4.5", "&&&", "Ａｂｃ１", "²½", "\u0301", "A" * 65 + "1e5",
    ]
)  # fmt: skip
ascii_text = st.text(alphabet=st.characters(max_codepoint=127), max_size=80)
unicode_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)  # what JSON can hold
field_text = st.one_of(
    ascii_text,
    unicode_text,
    st.lists(st.one_of(tricky_words, ascii_text), max_size=12).map(" ".join),
)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=5, minutes=30))]
    ),
)


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    sections = draw(st.lists(st.tuples(field_text, field_text), max_size=4))
    return Signal(
        title=draw(field_text) or "t",
        published=draw(moments),
        key=draw(st.sampled_from(["", "k", "東京"])),
        entity=draw(field_text),
        category=draw(field_text),
        topic=draw(field_text),
        summary=draw(field_text),
        sections=tuple(Section(heading, body) for heading, body in sections),
        url=draw(st.sampled_from([None, "https://example.com/a b", "https://例え.jp/x"])),
    ).keyed(draw(st.sampled_from(["cli", "OPTYX Feed", "Wire’s", "x\x00y"])))


@settings(max_examples=400, deadline=None)
@given(signals())
def test_hypothesis_briefs(signal: Signal) -> None:
    assert_same_rows(signal)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        field_text,
        st.text(alphabet=st.characters(codec=None), max_size=40),  # lone surrogates too
        st.lists(tricky_words, max_size=20).map("".join),
    )
)
@example("A\x00b\x1fc\x7fd\x85e")
@example("lone \ud800 surrogate")
@example("  many   spaces\tand\nlines  ")
def test_text_functions(text: str) -> None:
    assert tokens(text) == reference.tokens(text)
    assert fold(text) == reference.fold(text)
    assert name_key(text) == reference.name_key(text)


def test_budgets_of_twelve_thousand_tokens_cut_across_fields() -> None:
    words = " ".join(f"w{index % 500} 1e{index % 9}x" for index in range(4000))  # 12,000 tokens
    sections = (Section("Heading", words), Section("More", "after the budget"))
    signal = Signal(
        title=words,  # the title's own budget (200 tokens)
        published=datetime(2026, 4, 23, tzinfo=UTC),
        entity="Meta",
        summary=words[: len(words) // 3],
        sections=sections,
    ).keyed("cli")
    columns = search_columns(signal)
    assert len(columns["search_body"].split()) == MAX_DOCUMENT_TOKENS  # cut in the sections
    assert "budget" not in columns["search_body"]
    assert len(columns["search_title"].split()) == 200
    assert_same_rows(signal)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "1e5", "x_y"]), max_size=30), max_size=6))
def test_word_levels_and_the_index_texts(field_tokens: list[list[str]]) -> None:
    fields = [*field_tokens, *[[]] * (6 - len(field_tokens))]
    assert list(word_levels(fields).items()) == list(reference.word_levels(fields).items())
    assert all(word_level(token, fields) == level for token, level in word_levels(fields).items())
    title, body = " ".join(fields[0]), "\n".join(" ".join(field) for field in fields[1:])
    assert impacts(title, body) == reference.impacts(title, body)
    words = body.split()
    assert pairs(body) == " ".join(f"__{a}_{b}" for a, b in itertools.pairwise(words))


def test_the_ids_keyword_texts_and_hashes_of_json_signals() -> None:
    payload = {
        "title": "Meta’s Muse Spark",
        "published": "2026-04-23T09:30:00+02:00",
        "summary": "Ünïcödé \x00 text",
        "sections": [{"heading": "The News", "body": "1e10abc 東京"}],
        "url": "https://example.com/x",
    }
    (signal,) = signals_from_payload(payload)
    keyed = signal.keyed("OPTYX Feed")
    assert (
        keyed.id == reference.short_id("OPTYX Feed", keyed.key) == short_id("OPTYX Feed", keyed.key)
    )
    assert keyed.content_hash == reference.content_hash(keyed)
    assert keyword_text(keyed) == reference.keyword_text(keyed)
