"""Terminal text for local mode and the CLI."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.deliver.terminal_poster import TerminalPoster
from bot.render import Message, Renderer
from bot.signal import Section, Signal
from bot.terminal import display_text, message_to_text

BRIEF = Signal(
    title="Meta Pivots To Closed-Source AI With 'Muse Spark'",
    published=datetime(2026, 4, 23, tzinfo=UTC),
    key="muse-spark",
    source="optyx",
    entity="Meta",
    category="PLATFORM RELEASE",
    topic="AI Advances",
    summary="Meta launched its first proprietary model.",
    sections=(Section("The News", "Muse Spark is API-only."),),
    url="https://optyx.example/signals/muse-spark",
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_brief_reads_as_plain_text(renderer: Renderer) -> None:
    text = message_to_text(renderer.render_signal(BRIEF))

    assert text == "\n\n".join(
        [
            f"{BRIEF.title}\n{'=' * len(BRIEF.title)}",
            f"Apr 23, 2026 · Meta · PLATFORM RELEASE · AI Advances · ID `{BRIEF.id}`",
            "Meta launched its first proprietary model.",
            "-" * 40,
            "*The News*\nMuse Spark is API-only.",
            "[Read the full brief] https://optyx.example/signals/muse-spark",
        ]
    )


def test_escaped_text_is_shown_as_written(renderer: Renderer) -> None:
    brief = replace(BRIEF, title="<!channel> & co", summary="a < b && c > d")

    text = message_to_text(renderer.render_signal(brief))

    assert text.startswith("<!channel> & co\n===============\n")
    assert "a < b && c > d" in text
    assert "&amp;" not in text
    assert "&lt;" not in text


def test_literal_entities_in_a_brief_survive_the_round_trip(renderer: Renderer) -> None:
    text = message_to_text(renderer.render_signal(replace(BRIEF, summary="write &lt; for <")))

    assert "write &lt; for <" in text


def test_control_characters_from_a_brief_never_reach_the_terminal(renderer: Renderer) -> None:
    brief = replace(BRIEF, summary="red \x1b[31malert\x1b[0m\x07 done\tok")

    text = message_to_text(renderer.render_signal(brief))

    assert "\x1b" not in text
    assert "\x07" not in text
    assert "red [31malert[0m done\tok" in text


def test_value_buttons_show_their_label(renderer: Renderer) -> None:
    message = renderer.render(
        "search_results.json.j2",
        query_text="muse",
        results=[SimpleNamespace(signal=BRIEF, snippet="\ue000Muse\ue001 Spark")],
        total=1,
        offset=0,
        page_size=5,
    )

    text = message_to_text(message)

    assert "*Muse* Spark" in text
    assert "[Show]" in text


def test_message_without_blocks_shows_its_fallback() -> None:
    assert message_to_text(Message(text="only &lt;text&gt;", blocks=[])) == "only <text>"


def test_unknown_blocks_and_elements_are_skipped() -> None:
    message = Message(
        text="x",
        blocks=[
            {"type": "video", "title": {"type": "plain_text", "text": "clip"}},
            {"type": "context", "elements": [{"type": "image", "alt_text": "logo & co"}]},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "body"},
                "fields": [{"type": "mrkdwn", "text": "field"}],
            },
        ],
    )

    assert message_to_text(message) == "[image: logo & co]\n\nbody\nfield"


def test_display_text_unescapes_only_slack_entities() -> None:
    assert display_text("&amp;lt; &lt;b&gt; &quot;") == "&lt; <b> &quot;"


def test_local_mode_prints_threaded_parts_and_deletions(renderer: Renderer) -> None:
    out = io.StringIO()
    poster = TerminalPoster(out)
    post, reply = renderer.render_brief(BRIEF)[0], Message("continued", [])

    parent = poster.post("local", post, {}).ts
    poster.post("local", reply, {}, thread_ts=parent)
    poster.delete("local", "1.000002")

    printed = out.getvalue()
    assert f"→ #local (in the thread of {parent})" in printed
    assert "#local: message 1.000002 deleted" in printed
    assert poster.find_thread("local", str(parent), "k") is None


def test_slack_date_tokens_and_labelled_links_read_as_their_text() -> None:
    shown = display_text(
        "until <!date^1795876983^{date_short_pretty} at {time}|2026-11-28 14:43 UTC> · "
        "<https://example.com/b|the brief> · &lt;!channel&gt;"
    )
    assert shown == "until 2026-11-28 14:43 UTC · the brief (https://example.com/b) · <!channel>"
