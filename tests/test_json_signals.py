"""JSON signal objects: validation, normalization, and errors that name the file, line and field."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.errors import ParseError
from bot.signal import Section, Signal
from bot.sources.json_signals import (
    SIGNAL_PAYLOAD,
    SignalIn,
    format_error_location,
    parse_json_signals,
    read_json_signal_file,
    signals_from_payload,
)

FULL_OBJECT: dict[str, Any] = {
    "title": "Meta Pivots To Closed-Source AI With 'Muse Spark'",
    "published": "2026-04-23",
    "key": "meta-muse-spark",
    "entity": "Meta",
    "category": "PLATFORM RELEASE",
    "topic": "AI Advances",
    "summary": "In a significant strategic reversal, Meta launched Muse Spark.",
    "url": "https://signals.example/briefs/meta-muse-spark",
    "sections": [
        {"heading": "The News", "body": "On April 8, 2026, Meta released 'Muse Spark'."},
        {"heading": "The OPTYX Analysis", "body": "A dual-pronged strategy."},
    ],
}
FULL_SIGNAL = Signal(
    title="Meta Pivots To Closed-Source AI With 'Muse Spark'",
    published=datetime(2026, 4, 23, tzinfo=UTC),
    key="meta-muse-spark",
    entity="Meta",
    category="PLATFORM RELEASE",
    topic="AI Advances",
    summary="In a significant strategic reversal, Meta launched Muse Spark.",
    sections=(
        Section("The News", "On April 8, 2026, Meta released 'Muse Spark'."),
        Section("The OPTYX Analysis", "A dual-pronged strategy."),
    ),
    url="https://signals.example/briefs/meta-muse-spark",
)


def minimal(**fields: Any) -> dict[str, Any]:
    return {"title": "A title", "published": "2026-04-23", **fields}


def only_signal(obj: object) -> Signal:
    (signal,) = signals_from_payload(obj)
    return signal


# --- accepted ---------------------------------------------------------------------------------


def test_full_object() -> None:
    assert signals_from_payload(FULL_OBJECT) == [FULL_SIGNAL]


def test_list_of_objects_keeps_order() -> None:
    second = minimal(title="Second")
    assert signals_from_payload([FULL_OBJECT, second]) == [FULL_SIGNAL, only_signal(second)]


def test_empty_list() -> None:
    assert signals_from_payload([]) == []


def test_minimal_object_defaults() -> None:
    assert only_signal(minimal()) == Signal(
        title="A title", published=datetime(2026, 4, 23, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2026-04-23", datetime(2026, 4, 23, tzinfo=UTC)),
        ("2026-04-23T09:30:00Z", datetime(2026, 4, 23, 9, 30, tzinfo=UTC)),
        ("2026-04-23T09:30:00+02:00", datetime(2026, 4, 23, 7, 30, tzinfo=UTC)),
        ("2026-04-23T09:30:00.123456-05:00", datetime(2026, 4, 23, 14, 30, 0, 123456, tzinfo=UTC)),
        ("2026-04-23T09:30", datetime(2026, 4, 23, 9, 30, tzinfo=UTC)),
        ("2026-04-23 09:30:00", datetime(2026, 4, 23, 9, 30, tzinfo=UTC)),
        ("  2026-04-23  ", datetime(2026, 4, 23, tzinfo=UTC)),
    ],
)
def test_published_is_aware_utc(published: str, expected: datetime) -> None:
    signal = only_signal(minimal(published=published))
    assert signal.published == expected
    assert signal.published.tzinfo is UTC


def test_strings_are_stripped() -> None:
    signal = only_signal(
        minimal(
            title="  Spaced title \n",
            entity=" Meta ",
            sections=[{"heading": " The News ", "body": "\n body \n"}],
        )
    )
    assert (signal.title, signal.entity) == ("Spaced title", "Meta")
    assert signal.sections == (Section("The News", "body"),)


def test_extra_keys_are_ignored() -> None:
    obj = minimal(id=7, tags=["a"], sections=[{"heading": "H", "body": "B", "order": 1}])
    assert only_signal(obj).sections == (Section("H", "B"),)


def test_nulls_mean_missing() -> None:
    signal = only_signal(minimal(key=None, entity=None, summary=None, url=None, sections=None))
    assert signal == only_signal(minimal())


@pytest.mark.parametrize("url", ["", "   "])
def test_blank_url_means_none(url: str) -> None:
    assert only_signal(minimal(url=url)).url is None


@pytest.mark.parametrize("url", ["http://x.example/a?b=1&c=2", "HTTPS://X.example/"])
def test_http_urls_are_kept(url: str) -> None:
    assert only_signal(minimal(url=url)).url == url


def test_unicode_is_kept() -> None:
    signal = only_signal(minimal(title="“Muse Spark” — Meta’s 闭源 turn", entity="メタ"))
    assert (signal.title, signal.entity) == ("“Muse Spark” — Meta’s 闭源 turn", "メタ")


def test_to_signal_leaves_source_empty() -> None:
    assert SignalIn.model_validate(FULL_OBJECT).to_signal().source == ""


# --- rejected by validation -------------------------------------------------------------------

INVALID: dict[str, tuple[object, str]] = {
    "no title": ({"published": "2026-04-23"}, "title"),
    "blank title": (minimal(title="   "), "title"),
    "title not a string": (minimal(title=42), "title"),
    "no published": ({"title": "x"}, "published"),
    "published not iso": (minimal(published="Apr 23, 2026"), "published"),
    "published a number": (minimal(published=1776902400), "published"),
    "published null": (minimal(published=None), "published"),
    "published impossible": (minimal(published="2026-02-30"), "published"),
    "url javascript": (minimal(url="javascript:alert(1)"), "url"),
    "url relative": (minimal(url="/briefs/1"), "url"),
    "url without host": (minimal(url="https://"), "url"),
    "sections not a list": (minimal(sections="The News"), "sections"),
    "section without heading": (minimal(sections=[{"body": "b"}]), "sections[0].heading"),
    "section body null": (
        minimal(sections=[{"heading": "a", "body": "b"}, {"heading": "h", "body": None}]),
        "sections[1].body",
    ),
    "second item": ([minimal(), minimal(published="soon")], "[1].published"),
    "item not an object": ([minimal(), "a title"], "[1]"),
    "payload a string": ("a title", ""),
    "payload a number": (3, ""),
}


@pytest.mark.parametrize(("payload", "path"), INVALID.values(), ids=INVALID.keys())
def test_validation_error_names_the_field(payload: object, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        signals_from_payload(payload)
    paths = [format_error_location(tuple(error["loc"])) for error in caught.value.errors()]
    assert path in paths


def test_tagged_payload_adapter_reports_one_shape() -> None:
    assert isinstance(SIGNAL_PAYLOAD.validate_python(minimal()), SignalIn)
    assert len(SIGNAL_PAYLOAD.validate_python([minimal(), minimal()])) == 2
    with pytest.raises(ValidationError) as caught:
        SIGNAL_PAYLOAD.validate_python([minimal(), {"title": ""}])
    assert {error["loc"][0] for error in caught.value.errors()} == {"list"}


@pytest.mark.parametrize(
    ("location", "text"),
    [
        ((), ""),
        (("title",), "title"),
        ((2, "published"), "[2].published"),
        (("sections", 0, "heading"), "sections[0].heading"),
        ((1, "sections", 3, "body"), "[1].sections[3].body"),
    ],
)
def test_format_error_location(location: tuple[int | str, ...], text: str) -> None:
    assert format_error_location(location) == text


# --- parse_json_signals: file, line, reason ---------------------------------------------------


def test_parse_json_text() -> None:
    assert parse_json_signals(json.dumps([FULL_OBJECT, FULL_OBJECT])) == [FULL_SIGNAL] * 2


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff" + json.dumps(FULL_OBJECT),
        json.dumps(FULL_OBJECT, indent=2).replace("\n", "\r\n"),
        "\n\n  " + json.dumps(FULL_OBJECT) + "\n\n",
    ],
    ids=["bom", "crlf", "surrounding whitespace"],
)
def test_parse_json_tolerates_encoding_noise(text: str) -> None:
    assert parse_json_signals(text) == [FULL_SIGNAL]


LIST_WITH_BAD_THIRD = """[
  {"title": "One", "published": "2026-04-21"},
  {
    "title": "Two",
    "published": "2026-04-22"
  },

  {
    "title": "Three",
    "published": "next week"
  }
]"""

REJECTED_JSON: dict[str, tuple[str, int, str]] = {
    "empty": ("", 1, "empty"),
    "whitespace": ("  \n\n", 1, "empty"),
    "syntax error": ('[\n  {"title": "a",\n   "published": }\n]', 3, "invalid JSON"),
    "trailing comma": ('{"title": "a", "published": "2026-04-23",\n}', 2, "invalid JSON"),
    "truncated": ('[{"title": "a",\n', 2, "invalid JSON"),
    "a brief": ("Back to Live Signals\nApr 23, 2026\n", 1, "invalid JSON"),
    "third object invalid": (LIST_WITH_BAD_THIRD, 8, "[2].published: "),
    "single object invalid": ('\n\n{"title": "",\n "published": "2026-04-23"}', 3, "title: "),
    "nested field path": (
        json.dumps([minimal(), minimal(sections=[{"heading": "h"}])], indent=1),
        6,
        "[1].sections[0].body: Field required",
    ),
    "several errors": ('{"url": "ftp://x"}', 1, "(and 2 more)"),
    "scalar payload": ('"just a string"', 1, "valid dictionary"),
    "nesting bomb": ("[" * 100_000 + "]" * 100_000, 1, "JSON"),
}


@pytest.mark.parametrize(
    ("text", "line", "reason"), REJECTED_JSON.values(), ids=REJECTED_JSON.keys()
)
def test_parse_json_rejected(text: str, line: int, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_json_signals(text, file="signals.json")
    error = caught.value
    assert (error.file, error.line) == ("signals.json", line), error.reason
    assert reason in error.reason
    assert "Value error, " not in error.reason


def test_parse_json_defaults_file_name() -> None:
    with pytest.raises(ParseError) as caught:
        parse_json_signals("{")
    assert caught.value.file == "<input>"


# --- files ------------------------------------------------------------------------------------


def test_read_json_signal_file(tmp_path: Path) -> None:
    path = tmp_path / "signals.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([FULL_OBJECT], ensure_ascii=False).encode())
    assert read_json_signal_file(path) == [FULL_SIGNAL]


def test_read_json_signal_file_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'[\n{"title": "a",\n"published": "2026-04-23", "entity": "\xff"}]')
    with pytest.raises(ParseError) as caught:
        read_json_signal_file(path)
    assert (caught.value.file, caught.value.line) == (str(path), 3)


def test_read_json_signal_file_validation_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "signals.json"
    path.write_text(LIST_WITH_BAD_THIRD, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_json_signal_file(path)
    assert str(caught.value).startswith(f"{path}:8: [2].published: ")


# --- never anything but signals or ParseError -------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["title", "published", "url", "sections", "heading", "body", "key"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(JSON_VALUES, st.integers(min_value=0, max_value=2))
def test_arbitrary_json_gives_signals_or_parse_error(value: object, indent: int) -> None:
    text = json.dumps(value, indent=indent or None)
    outcome = parse_or_error(text)
    if isinstance(outcome, ParseError):
        assert outcome.file == "f.json"
        assert 1 <= outcome.line <= text.count("\n") + 1
    else:
        assert all(isinstance(signal, Signal) for signal in outcome)


@settings(max_examples=200)
@given(st.text(max_size=200))
@example('{"title": " Spaced ", "published": "2026-04-23"}')
@example("[]")
def test_arbitrary_text_gives_signals_or_parse_error(text: str) -> None:
    outcome = parse_or_error(text)
    if isinstance(outcome, ParseError):
        assert outcome.file == "f.json"
        assert 1 <= outcome.line <= text.count("\n") + 1
        assert outcome.reason.strip()
        return
    payload = json.loads(text)
    objects = payload if isinstance(payload, list) else [payload]
    assert [signal.title for signal in outcome] == [str(o["title"]).strip() for o in objects]


def parse_or_error(text: str) -> list[Signal] | ParseError:
    try:
        return parse_json_signals(text, file="f.json")
    except ParseError as error:
        return error
