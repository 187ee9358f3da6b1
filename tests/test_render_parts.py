"""Splitting into parts: the post and its threaded replies each fit one Slack message, in order,
and together hold every word of the brief, whatever the brief (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fake_slack_blocks import check_message
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from bot.render import (
    MESSAGE,
    VIEW,
    Message,
    Renderer,
    RenderError,
    fit_to_slack,
    mrkdwn,
    split_into_parts,
    text_length,
)
from bot.signal import Section, Signal

BUDGET = MESSAGE.text_budget or 0


def section_block(size: int, label: str = "s") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": label * size}}


CONTROLS = [
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Go"},
                "action_id": "go",
                "url": "https://x.example",
            }
        ],
    }
]


@pytest.mark.parametrize(
    ("head", "thread", "compact", "expected"),
    [
        # Everything fits: one message, controls last.
        ([100], [100, 100], False, [[100, 100, 100, "controls"]]),
        # Full: the post takes sections until the budget, the rest continue in order.
        ([1000], [3000, 3000, 3000, 3000], False, [[1000, 3000, 3000, 3000, "controls"], [3000]]),
        # Compact: the post is the head and the controls; every section goes in the thread.
        ([1000], [3000, 3000, 3000, 3000], True, [[1000, "controls"], [3000] * 3, [3000]]),
        # Compact with nothing to thread: one message.
        ([1000], [], True, [[1000, "controls"]]),
        # A head too long for the post (a huge lede) continues before the sections.
        ([3000] * 5, [500], True, [[3000] * 3 + ["controls"], [3000, 3000, 500]]),
    ],
)
def test_split_into_parts_keeps_order_and_the_budget(
    head: list[int], thread: list[int], compact: bool, expected: list[list[object]]
) -> None:
    parts = split_into_parts(
        [section_block(n, "h") for n in head],
        [section_block(n, "t") for n in thread],
        CONTROLS,
        compact=compact,
    )

    sizes = [
        ["controls" if b["type"] == "actions" else len(b["text"]["text"]) for b in part]
        for part in parts
    ]
    assert sizes == expected
    assert all(text_length(part) <= BUDGET for part in parts)


def test_fifty_blocks_is_also_a_limit_of_each_part() -> None:
    parts = split_into_parts([], [section_block(1)] * 120, [], compact=False)

    assert [len(part) for part in parts] == [50, 50, 20]


# --- any brief ---------------------------------------------------------------------------------

word = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029",
    ),
    min_size=1,
    max_size=12,
)
huge_word = st.integers(3_001, 7_000).map(lambda size: "W" * size)
long_url = st.integers(100, 4_000).map(lambda size: "https://x.example/" + "p" * size)
separator = st.sampled_from([" ", "\n", "\r\n", "\n\n", "\r\n\r\n", "  "])


@st.composite
def passages(draw: st.DrawFn, max_chars: int) -> str:
    """A paragraph of unicode words, huge words and long URLs, repeated up to `max_chars`."""
    tokens = draw(st.lists(word | huge_word | long_url, max_size=12))
    seps = draw(st.lists(separator, min_size=len(tokens), max_size=len(tokens)))
    paragraph = "".join(token + sep for token, sep in zip(tokens, seps, strict=True))
    most = max_chars // len(paragraph) if paragraph else 0
    return paragraph * draw(st.integers(0, most))


@st.composite
def briefs(draw: st.DrawFn) -> Signal:
    """Briefs of 0 to 40 sections and 0 to about 200,000 characters."""
    count = draw(st.integers(0, 40))
    total = draw(st.sampled_from([2_000, 40_000, 200_000]))
    sections = tuple(
        Section(draw(st.text(max_size=60)), draw(passages(total // max(count, 1))))
        for _ in range(count)
    )
    return Signal(
        title=draw(st.text(max_size=200)),
        published=datetime(2026, 4, 23, tzinfo=UTC),
        key="k",
        entity=draw(st.text(max_size=30)),
        summary=draw(passages(8_000)),
        sections=sections,
        url=draw(st.none() | long_url),
    ).keyed("hypothesis")


def without_whitespace(text: str) -> str:
    return "".join(text.split())


def assert_every_word_is_there(signal: Signal, parts: list[Message]) -> None:
    """Every body's text, in order; and every word that fits a block, whole (not cut)."""
    texts = [
        block["text"]["text"]
        for part in parts
        for block in part.blocks
        if block["type"] == "section"
    ]
    shown = without_whitespace(" ".join(texts))
    whole_words = {word for text in texts for word in text.split()}
    for body in [signal.summary, *(section.body for section in signal.sections)]:
        assert without_whitespace(mrkdwn(body)) in shown
        fitting = {mrkdwn(word) for word in body.split() if len(mrkdwn(word)) <= 2000}
        assert fitting <= whole_words


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(signal=briefs(), brief_format=st.sampled_from(["full", "compact"]))
def test_any_brief_renders_to_parts_the_strict_fake_accepts_holding_every_word(
    signal: Signal, brief_format: str
) -> None:
    target(float(sum(len(section.body) for section in signal.sections)))  # seek long briefs
    parts = Renderer().render_brief(signal, brief_format)

    for part in parts:
        check_message({"text": part.text, "blocks": part.blocks}, required=True)
        assert text_length(part.blocks) <= BUDGET
        assert len(part.blocks) <= MESSAGE.blocks
    assert parts[0].blocks[0]["type"] == "header"
    assert_every_word_is_there(signal, parts)


def test_views_take_a_hundred_blocks_and_no_cumulative_text_budget() -> None:
    blocks = [section_block(3000)] * 120

    in_a_view = fit_to_slack(blocks, VIEW)
    in_a_message = fit_to_slack(blocks)

    assert len(in_a_view) == VIEW.blocks
    assert in_a_view[-1]["elements"][0]["text"] == (
        "_This view was shortened: 21 more blocks are not shown._"
    )
    assert len(in_a_message) == 4  # three sections and the note: 11,000 characters at most


def test_an_unknown_format_is_a_render_error_not_a_silent_default() -> None:
    signal = Signal(title="t", published=datetime(2026, 4, 23, tzinfo=UTC), key="k")

    with pytest.raises(RenderError, match="unknown format 'tiny'"):
        Renderer().render_brief(signal.keyed("x"), "tiny")


def test_a_view_template_is_rendered_within_view_limits() -> None:
    lines = [f"line {number} " + "x" * 2900 for number in range(3)]

    as_view = Renderer().render("notice.json.j2", surface=VIEW, emoji=":memo:", lines=lines)

    assert len(as_view.blocks) == 1
    assert len(as_view.blocks[0]["text"]["text"]) <= 3000  # each text of a view: 3,000 at most
