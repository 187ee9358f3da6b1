"""The brief text format parser: the seed exactly, tolerated variants, rejected garbage."""

import dataclasses
import json
import random
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.signal import Section, Signal
from bot.sources.brief_format import (
    MAX_BRIEF_BYTES,
    decode_utf8,
    parse_brief,
    read_brief_file,
)

FIXTURE = Path(__file__).parent / "fixtures" / "briefs" / "seed_meta_muse_spark.txt"
SHARED_SEED = Path(__file__).parents[2] / "shared" / "seeds" / "000_3be27eefc42fbbb3.txt"
SEED = FIXTURE.read_bytes().decode("utf-8")

TITLE = "Meta Pivots To Closed-Source AI With 'Muse Spark'"
LEDE = (
    "In a significant strategic reversal, Meta launched its first proprietary, closed-weight AI "
    "model, Muse Spark, on April 8, 2026, just three days after releasing its open-source Llama 4 "
    "models, signaling a new hybrid approach to AI development and a material risk for entities "
    "dependent on Meta's open-source roadmap."
)
DATE_LINE = "Apr 23, 2026"
METADATA_LINE = (
    "[ORIGIN_NODE: AI Advances][SYS_TIMESTAMP: 2026-04-23]"
    "[REF: Meta Pivots To Closed-Source AI With 'Muse Spark']"
)
FOOTER = "OPTYX Intelligence Engine\n\nAutomated Analysis\n\nView Intelligence Model\n"
LINE_OF = {line: number for number, line in enumerate(SEED.split("\n"), start=1) if line}


def seed_with(old: str, new: str) -> str:
    """The seed with `old` (which must occur exactly once) replaced by `new`."""
    assert SEED.count(old) == 1, old
    return SEED.replace(old, new)


def parse(text: str) -> Signal:
    return parse_brief(text, file="brief.txt")


SEED_SIGNAL = parse(SEED)


# --- the seed, field by field -----------------------------------------------------------------


def test_seed_fixture_is_a_byte_exact_copy_of_the_shared_seed() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("the shared seed folder is not next to this checkout")
    assert FIXTURE.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_every_field() -> None:
    signal = read_brief_file(FIXTURE)

    assert signal.published == datetime(2026, 4, 23, tzinfo=UTC)
    assert signal.published.utcoffset() is not None
    assert signal.entity == "Meta"
    assert signal.category == "PLATFORM RELEASE"
    assert signal.topic == "AI Advances"
    assert signal.title == TITLE
    assert signal.summary == LEDE
    assert signal.key == TITLE  # the REF value, which in this brief repeats the title
    assert signal.url is None
    assert signal.source == ""
    assert [section.heading for section in signal.sections] == [
        "The News",
        "The OPTYX Analysis",
        "AI Governance Impact",
    ]


@pytest.mark.parametrize(
    ("index", "starts", "ends"),
    [
        (0, "On April 8, 2026, Meta quietly released 'Muse Spark,'", "OpenAI and Anthropic."),
        (1, "This move indicates that Meta has reached a ceiling", "a purely open ecosystem."),
        (2, "The introduction of Muse Spark creates a significant", "new commercial ambitions."),
    ],
)
def test_seed_section_bodies(index: int, starts: str, ends: str) -> None:
    body = SEED_SIGNAL.sections[index].body
    assert body.startswith(starts)
    assert body.endswith(ends)
    assert "\n" not in body
    assert "OPTYX Intelligence Engine" not in body


def test_seed_keeps_unicode_punctuation() -> None:
    assert "timeline'—releasing" in SEED_SIGNAL.sections[1].body


def test_seed_file_name_is_not_the_source() -> None:
    assert read_brief_file(FIXTURE).source == ""


# --- variants that read exactly like the seed -------------------------------------------------

SAME_AS_SEED: dict[str, Callable[[str], str]] = {
    "crlf": lambda text: text.replace("\n", "\r\n"),
    "cr": lambda text: text.replace("\n", "\r"),
    "bom": lambda text: "\ufeff" + text,
    "bom and crlf": lambda text: "\ufeff" + text.replace("\n", "\r\n"),
    "extra blank lines": lambda text: text.replace("\n", "\n\n\n"),
    "blank lines around": lambda text: "\n\n  \n" + text + "\n\n\n",
    "trailing spaces": lambda text: text.replace("\n", "  \t\n"),
    "trailing newline after metadata": lambda text: text + "\n",
    "indented lines": lambda text: text.replace("\n", "\n   "),
    "no footer": lambda text: text.replace(FOOTER, ""),
    "footer in one paragraph": lambda text: text.replace(FOOTER, FOOTER.replace("\n\n", "\n")),
    "footer glued to last body": lambda text: text.replace("ambitions.\n\n", "ambitions.\n"),
    "unknown footer lines": lambda text: text.replace(FOOTER, "Signal Desk\n\nRead More\n"),
    "metadata glued to footer": lambda text: text.replace("Model\n[", "Model["),
    "metadata after a blank line": lambda text: text.replace("Model\n[", "Model\n\n\n["),
    "unknown metadata keys": lambda text: text.replace(
        "[REF:", "[CONFIDENCE: 0.93][SYS_NODE_ID: x-17][REF:"
    ),
    "metadata pairs spaced": lambda text: text.replace("][", "] ["),
    "metadata keys in other case": lambda text: text.replace("[ORIGIN_NODE:", "[origin node:"),
    "no navigation line": lambda text: text.replace("Back to Live Signals\n", ""),
    "other navigation line": lambda text: text.replace("Back to Live Signals", "← All briefs"),
    "long month": lambda text: text.replace(DATE_LINE, "April 23, 2026"),
    "iso date": lambda text: text.replace(DATE_LINE, "2026-04-23"),
    "day first": lambda text: text.replace(DATE_LINE, "23 Apr 2026"),
    "weekday": lambda text: text.replace(DATE_LINE, "Thursday, April 23rd, 2026"),
    "date with a time note": lambda text: text.replace(DATE_LINE, "Apr 23, 2026 · 4 min read"),
    "blank line inside the header": lambda text: text.replace("Meta\nPLATFORM", "Meta\n\nPLATFORM"),
    "zero-width spaces": lambda text: text.replace("\nThe News\n", "\n\u200bThe News\u200b\n"),
    "non-breaking spaces": lambda text: text.replace("\nMeta\n", "\n\u00a0Meta\u00a0\n"),
    "stray control character": lambda text: text.replace("PLATFORM", "PLAT\x07FORM"),
}


@pytest.mark.parametrize("transform", SAME_AS_SEED.values(), ids=SAME_AS_SEED.keys())
def test_variant_reads_like_the_seed(transform: Callable[[str], str]) -> None:
    assert parse(transform(SEED)) == SEED_SIGNAL


# --- variants that change some fields ---------------------------------------------------------


def test_no_metadata_line() -> None:
    signal = parse(seed_with(METADATA_LINE, ""))
    assert signal == dataclasses.replace(SEED_SIGNAL, topic="", key="")
    assert signal.effective_key.startswith("sha256:")


def test_lede_only() -> None:
    text = f"{DATE_LINE}\nMeta\nPLATFORM RELEASE\n\n{TITLE}\n\n{LEDE}\n"
    signal = parse(text)
    assert (signal.title, signal.summary, signal.sections) == (TITLE, LEDE, ())


def test_no_lede_and_no_sections() -> None:
    signal = parse(f"{DATE_LINE}\nMeta\nPLATFORM RELEASE\n{TITLE}")
    assert (signal.title, signal.summary, signal.sections) == (TITLE, "", ())


def test_no_sections_but_footer_and_metadata() -> None:
    start = SEED.index("The News")
    signal = parse(SEED[:start] + FOOTER + METADATA_LINE)
    assert signal == dataclasses.replace(SEED_SIGNAL, sections=())


def test_sections_without_lede() -> None:
    signal = parse(seed_with(LEDE + "\n\n", ""))
    assert signal.summary == ""
    assert signal.sections == SEED_SIGNAL.sections


def test_unicode_everywhere() -> None:
    text = (
        seed_with(f"\n{TITLE}\n", "\n“Muse Spark” — Meta’s 闭源 turn: 한국어 & émigré ✓\n")
        .replace("\nMeta\n", "\nメタ・プラットフォームズ\n")
        .replace("The News", "Новости")
        .replace("AI Advances", "ИИ — прогресс")
    )
    signal = parse(text)
    assert signal.title == "“Muse Spark” — Meta’s 闭源 turn: 한국어 & émigré ✓"
    assert signal.entity == "メタ・プラットフォームズ"
    assert signal.sections[0].heading == "Новости"
    assert signal.topic == "ИИ — прогресс"


def test_cjk_heading_and_body() -> None:
    text = seed_with("The News\n\nOn April 8", "新闻\n\n2026年4月8日。On April 8")
    expected_body = "2026年4月8日。" + SEED_SIGNAL.sections[0].body
    assert parse(text).sections[0] == Section("新闻", expected_body)


def test_body_of_several_paragraphs_is_joined_with_a_blank_line() -> None:
    text = seed_with("Anthropic.\n", "Anthropic.\n\nA second paragraph.\n\n\n\nA third one.\n")
    body = parse(text).sections[0].body
    assert body.endswith("Anthropic.\n\nA second paragraph.\n\nA third one.")


def test_lede_glued_to_the_title() -> None:
    signal = parse(seed_with(f"{TITLE}\n\n", f"{TITLE}\n"))
    assert (signal.title, signal.summary) == (TITLE, LEDE)


def test_lede_of_several_paragraphs() -> None:
    text = seed_with(LEDE + "\n", LEDE + "\n\nMore context for the lede.\n")
    assert parse(text).summary == LEDE + "\n\nMore context for the lede."


def test_lines_of_one_paragraph_keep_their_line_breaks() -> None:
    text = seed_with("Anthropic.\n", "Anthropic.\n- first point\n- second point\n")
    assert parse(text).sections[0].body.endswith("Anthropic.\n- first point\n- second point")


def test_date_line_missing_uses_sys_timestamp() -> None:
    signal = parse(seed_with("Apr 23, 2026\n", "").replace("2026-04-23", "2026-04-20"))
    assert signal.published == datetime(2026, 4, 20, tzinfo=UTC)
    assert (signal.entity, signal.category, signal.title) == ("Meta", "PLATFORM RELEASE", TITLE)


def test_date_line_wins_over_sys_timestamp() -> None:
    signal = parse(seed_with("SYS_TIMESTAMP: 2026-04-23", "SYS_TIMESTAMP: 2025-01-01"))
    assert signal.published == datetime(2026, 4, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-04-20", datetime(2026, 4, 20, tzinfo=UTC)),
        ("2026-04-20T10:30:00Z", datetime(2026, 4, 20, 10, 30, tzinfo=UTC)),
        ("2026-04-20T10:30:00+02:00", datetime(2026, 4, 20, 8, 30, tzinfo=UTC)),
    ],
)
def test_sys_timestamp_formats(stamp: str, expected: datetime) -> None:
    text = seed_with("Apr 23, 2026\n", "").replace("2026-04-23", stamp)
    assert parse(text).published == expected


def test_iso_datetime_date_line_is_converted_to_utc() -> None:
    signal = parse(seed_with(DATE_LINE, "2026-04-23T01:30:00+05:00"))
    assert signal.published == datetime(2026, 4, 22, 20, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pair", "url"),
    [
        (
            "[URL: https://signals.example/briefs/meta-muse]",
            "https://signals.example/briefs/meta-muse",
        ),
        ("[LINK: http://signals.example/b?id=7&x=1]", "http://signals.example/b?id=7&x=1"),
        ("[URL: javascript:alert(1)]", None),
        ("[URL: ftp://signals.example/b]", None),
        ("[URL: /relative/path]", None),
        ("[URL: https://]", None),
    ],
)
def test_metadata_url(pair: str, url: str | None) -> None:
    assert parse(seed_with("[REF:", pair + "[REF:")).url == url


def test_ref_with_brackets_inside() -> None:
    assert parse(seed_with("'Muse Spark']", "'Muse Spark' [v2]]")).key == f"{TITLE} [v2]"


def test_empty_metadata_values_count_as_missing() -> None:
    signal = parse(seed_with("[SYS_TIMESTAMP: 2026-04-23]", "[SYS_TIMESTAMP: ][REF:  ]x"))
    assert signal.published == SEED_SIGNAL.published


def test_bracketed_text_glued_to_prose_is_not_metadata() -> None:
    text = seed_with("ambitions.\n", "ambitions. [note: draft]\n").replace(METADATA_LINE, "")
    assert parse(text).sections[2].body.endswith("ambitions. [note: draft]")


def test_trailing_heading_without_body_is_treated_as_footer() -> None:
    signal = parse(seed_with("View Intelligence Model", "View Intelligence Model\n\nRelated"))
    assert signal.sections == SEED_SIGNAL.sections


def test_heading_without_body_in_the_middle_is_kept_empty() -> None:
    signal = parse(seed_with("The OPTYX Analysis\n", "Interim\n\nThe OPTYX Analysis\n"))
    headings = [(section.heading, bool(section.body)) for section in signal.sections]
    assert headings[1:3] == [("Interim", False), ("The OPTYX Analysis", True)]


def test_file_and_line_default() -> None:
    with pytest.raises(ParseError) as caught:
        parse_brief("")
    assert (caught.value.file, caught.value.line) == ("<input>", 1)


# --- rejected input ---------------------------------------------------------------------------

HEADER = f"{DATE_LINE}\nMeta\nPLATFORM RELEASE\n"
RANDOM_BYTES = random.Random(20260423).randbytes(4096)

REJECTED: dict[str, tuple[str, int, str]] = {
    "empty": ("", 1, "empty"),
    "blank lines only": ("\n \n\t\r\n", 1, "empty"),
    "bom only": ("\ufeff", 1, "empty"),
    "no date anywhere": (
        seed_with("Apr 23, 2026\n", "").replace(METADATA_LINE, ""),
        2,
        "no date",
    ),
    "date too far down": ("Back to Live Signals\nMeta\nPLATFORM\nTitle\nApr 23, 2026\n", 2, "date"),
    "impossible date": (seed_with(DATE_LINE, "Feb 30, 2026"), 2, "invalid date"),
    "impossible iso date": (seed_with(DATE_LINE, "2026-13-01"), 2, "invalid date"),
    "malformed sys timestamp": (
        seed_with("2026-04-23]", "23/04/2026]"),
        LINE_OF[METADATA_LINE],
        "SYS_TIMESTAMP",
    ),
    "malformed sys timestamp glued": (
        seed_with("Model\n[", "Model[").replace("2026-04-23]", "soon]"),
        LINE_OF["View Intelligence Model"],
        "SYS_TIMESTAMP",
    ),
    "no title": (HEADER, 4, "no title"),
    "no title, blank lines after": (HEADER + "\n\n\n", 4, "no title"),
    "footer where the title should be": (HEADER + "\nOPTYX Intelligence Engine\n", 5, "title"),
    "no entity": (f"{DATE_LINE}\n", 2, "no entity"),
    "title of 5000 characters": (HEADER + "\n" + "x" * 5000 + "\n\nLede.", 5, "title"),
    "entity is a paragraph": (f"{DATE_LINE}\n{LEDE}\nCAT\n{TITLE}", 2, "entity"),
    "category missing, so the lede is the title": (
        f"{DATE_LINE}\nMeta\n{TITLE}\n\n{LEDE * 2}",
        5,
        "title",
    ),
    "title of punctuation": (HEADER + "—…—\n\nLede.", 4, "title"),
    "metadata line only": (METADATA_LINE, 1, "no entity"),
    "metadata line without a date": ("[ORIGIN_NODE: AI Advances][REF: x]", 1, "no date"),
    "json object": (json.dumps({"title": TITLE, "published": "2026-04-23"}), 1, "JSON"),
    "json list": ("\n\n" + json.dumps([{"title": TITLE}], indent=2), 3, "JSON"),
    "broken json object": ('{"title": "x",\n', 1, "JSON"),
    "random bytes": (RANDOM_BYTES.decode("utf-8", errors="replace"), 1, "binary"),
    "nul bytes": (seed_with("Meta\n", "Me\x00ta\n"), 3, "NUL"),
    "latin-1 mojibake of binary": (RANDOM_BYTES.decode("latin-1"), 1, "binary"),
    "python source": ('"""Module."""\n\nimport os\n\n\ndef main():\n    pass\n', 1, "no date"),
    "html page": ("<!DOCTYPE html>\n<html><head><title>x</title></head></html>", 1, "no date"),
    "csv": ("title,published\nMeta,2026-04-23\n", 1, "no date"),
    "lorem ipsum": (LEDE * 40, 1, "no date"),
    "one huge line": ("a" * 200_000, 1, "no date"),
}


@pytest.mark.parametrize(("text", "line", "reason"), REJECTED.values(), ids=REJECTED.keys())
def test_rejected(text: str, line: int, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(text)
    error = caught.value
    assert (error.file, error.line) == ("brief.txt", line), error.reason
    assert reason.lower() in error.reason.lower()
    assert str(error).startswith(f"brief.txt:{line}: ")


def test_rejected_line_counts_crlf_as_one_line() -> None:
    text = seed_with("2026-04-23]", "x]").replace("\n", "\r\n")
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.line == LINE_OF[METADATA_LINE]


# --- reading files ----------------------------------------------------------------------------


def test_read_brief_file_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "brief.txt"
    path.write_bytes(b"\xef\xbb\xbf" + SEED.replace("\n", "\r\n").encode())
    assert read_brief_file(path) == SEED_SIGNAL


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_read_brief_file_invalid_utf8_names_the_line(tmp_path: Path, newline: bytes) -> None:
    path = tmp_path / "bad.txt"
    lines = SEED.encode().split(b"\n")
    lines[2] = b"Me\xfft\xc3a"
    path.write_bytes(newline.join(lines))
    with pytest.raises(ParseError) as caught:
        read_brief_file(path)
    assert (caught.value.file, caught.value.line) == (str(path), 3)
    assert "UTF-8" in caught.value.reason


def test_read_brief_file_utf16_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(SEED.encode("utf-16"))
    with pytest.raises(ParseError) as caught:
        read_brief_file(path)
    assert caught.value.file == str(path)


def test_read_brief_file_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.txt"
    path.write_bytes(RANDOM_BYTES)
    with pytest.raises(ParseError) as caught:
        read_brief_file(path)
    assert caught.value.file == str(path)
    assert caught.value.line >= 1


def test_read_brief_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(SEED.encode() + b"x" * MAX_BRIEF_BYTES)
    with pytest.raises(ParseError) as caught:
        read_brief_file(path)
    assert (caught.value.file, caught.value.line) == (str(path), 1)


def test_decode_utf8_drops_only_a_leading_bom() -> None:
    assert decode_utf8(b"\xef\xbb\xbfabc") == "abc"
    assert decode_utf8("é".encode()) == "é"


# --- never anything but a Signal or ParseError ------------------------------------------------

SEED_LINES = SEED.split("\n")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_gives_signal_or_parse_error(text: str) -> None:
    check_signal_or_parse_error(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from([*SEED_LINES, "", "[SYS_TIMESTAMP: 2026-04-23]", "[URL: http://x]"]),
            st.text(max_size=40),
        ),
        max_size=30,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_brief_shaped_text_gives_signal_or_parse_error(lines: list[str], newline: str) -> None:
    check_signal_or_parse_error(newline.join(lines))


@settings(max_examples=200)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_give_signal_or_parse_error(data: bytes) -> None:
    check_signal_or_parse_error(data.decode("utf-8", errors="replace"))


def check_signal_or_parse_error(text: str) -> None:
    """What a person sees either way: an error pointing at a line of their file, or a brief
    whose title and lede come from the text (never invented), with a timezone-aware date."""
    outcome = parse_or_error(text)
    if isinstance(outcome, ParseError):
        line_count = len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        assert outcome.file == "brief.txt"
        # What is missing after the last line (a date, a title) is reported just past it.
        assert 1 <= outcome.line <= line_count + 1, (outcome.line, line_count)
        assert outcome.reason.strip()
        assert str(outcome) == f"brief.txt:{outcome.line}: {outcome.reason}"
        return
    words = visible_words(text)
    assert outcome.title
    assert visible_words(outcome.title) in words
    assert visible_words(outcome.summary) in words
    assert outcome.published.utcoffset() is not None


def visible_words(text: str) -> str:
    """The text as a reader sees it: control characters gone, whitespace collapsed, and in NFC
    as the parser stores it (U+F900 豈 is U+8C48 豈 to a reader)."""
    kept = "".join(c for c in text if c in "\t\n\r" or unicodedata.category(c) not in ("Cc", "Cf"))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def parse_or_error(text: str) -> Signal | ParseError:
    try:
        return parse(text)
    except ParseError as error:
        return error
