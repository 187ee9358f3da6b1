"""Rendering: the bundled templates, the escaping filters, Slack's limits and validation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_slack import FakeSlack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block

from bot.errors import ConfigError
from bot.render import (
    LIMITS,
    MESSAGE,
    Message,
    Renderer,
    RenderError,
    escaped_chunks,
    fit_to_slack,
    highlight,
    mrkdwn,
    mrkdwn_chunks,
    plain,
    safe_url,
    slack_date,
    text_length,
    truncate_chars,
)
from bot.signal import Section, Signal

SEED_TITLE = "Meta Pivots To Closed-Source AI With 'Muse Spark'"
SEED_LEDE = (
    "In a significant strategic reversal, Meta launched its first proprietary, closed-weight AI "
    "model, Muse Spark, on April 8, 2026, just three days after releasing its open-source Llama 4 "
    "models, signaling a new hybrid approach to AI development and a material risk for entities "
    "dependent on Meta's open-source roadmap."
)
SEED_SECTIONS = (
    Section(
        "The News",
        "On April 8, 2026, Meta quietly released 'Muse Spark,' its first-ever proprietary, "
        "API-only large language model, developed by its new Meta Superintelligence Labs. This "
        "launch occurred immediately following the April 5, 2026, release of Llama 4 Scout and "
        "Maverick, which were distributed under Meta's traditional open-source framework. Muse "
        "Spark is not available as a downloadable model and represents a strategic shift, "
        "positioning Meta to compete directly with the closed ecosystems of OpenAI and Anthropic.",
    ),
    Section(
        "The OPTYX Analysis",
        "This move indicates that Meta has reached a ceiling on the strategic utility of fully "
        "open-sourcing its frontier models. The 'betrayal timeline'—releasing a major open-source "
        "model while simultaneously preparing a closed-source competitor—suggests a calculated "
        "transition to a dual-pronged strategy.",
    ),
    Section(
        "AI Governance Impact",
        "The introduction of Muse Spark creates a significant dependency risk for enterprises "
        "that have architected their AI stack around the assumption of a continued, fully "
        "open-source Llama series.",
    ),
)
SEED = Signal(
    title=SEED_TITLE,
    published=datetime(2026, 4, 23, tzinfo=UTC),
    key=SEED_TITLE,
    source="optyx",
    entity="Meta",
    category="PLATFORM RELEASE",
    topic="AI Advances",
    summary=SEED_LEDE,
    sections=SEED_SECTIONS,
)
BRIEF_URL = "https://optyx.example/signals/meta-muse-spark"

INJECTION = (
    "<!channel> <!here> <@U123ABC> <#C123> <!subteam^S1> <https://evil.example|click me> & done"
)
SIGNAL_TEXT_FIELDS = ("title", "entity", "category", "topic", "summary", "url", "key")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def assert_no_markup(message: Message) -> None:
    """No string Slack could read as a mention or link: no raw `<` or `>` anywhere."""
    payload = json.loads(json.dumps(message.as_kwargs()))
    for text in strings_in(payload):
        assert "<" not in text, text
        assert ">" not in text, text


def assert_within_limits(message: Message) -> None:
    assert 1 <= len(message.blocks) <= LIMITS.blocks
    assert len(message.text) <= LIMITS.fallback_text
    for block in message.blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= LIMITS.header_text
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= LIMITS.section_text
    action_ids = [
        element["action_id"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert len(action_ids) == len(set(action_ids))


def link_buttons(message: Message) -> list[dict[str, Any]]:
    return [
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]


def section_texts(message: Message) -> list[str]:
    return [block["text"]["text"] for block in message.blocks if block["type"] == "section"]


# --- the seed brief ----------------------------------------------------------------------------


def test_seed_brief_renders_header_provenance_lede_and_sections(renderer: Renderer) -> None:
    message = renderer.render_signal(SEED)

    assert [block["type"] for block in message.blocks] == [
        "header",
        "context",
        "section",
        "divider",
        "section",
        "section",
        "section",
        "actions",
    ]
    assert message.blocks[0]["text"] == {"type": "plain_text", "text": SEED_TITLE}
    provenance = message.blocks[1]["elements"][0]["text"]
    assert provenance == f"Apr 23, 2026 · Meta · PLATFORM RELEASE · AI Advances · ID `{SEED.id}`"
    texts = section_texts(message)
    assert texts[0] == SEED_LEDE
    assert [text.split("\n", 1)[0] for text in texts[1:]] == [
        "*The News*",
        "*The OPTYX Analysis*",
        "*AI Governance Impact*",
    ]
    assert texts[1] == f"*The News*\n{SEED_SECTIONS[0].body}"
    assert message.text.startswith(f"{SEED_TITLE} — In a significant strategic reversal")
    assert_within_limits(message)


def test_every_brief_ends_with_a_mute_menu_for_its_entity_and_topic(renderer: Renderer) -> None:
    menu = renderer.render_signal(SEED).blocks[-1]["elements"][0]

    assert menu["type"] == "overflow"
    assert menu["action_id"].startswith("mute")
    assert [option["text"]["text"] for option in menu["options"]] == [
        "Mute entity Meta here for 1 day",
        "Mute entity Meta here for 1 week",
        "Mute topic AI Advances here for 1 day",
        "Mute topic AI Advances here for 1 week",
    ]
    assert menu["options"][0]["value"] == f"entity:1d:{SEED.id}"


def test_a_brief_with_neither_entity_nor_topic_has_no_mute_menu(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, entity="", topic=""))

    assert all(block["type"] != "actions" for block in message.blocks)


def test_a_long_entity_name_keeps_the_mute_option_within_slack_limits(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, entity="<!channel> " + "x" * 300))

    menu = message.blocks[-1]["elements"][0]
    assert all(len(option["text"]["text"]) <= 75 for option in menu["options"])
    assert_within_limits(message)


def test_seed_brief_without_url_has_no_button(renderer: Renderer) -> None:
    message = renderer.render_signal(SEED)

    assert not link_buttons(message)


def test_brief_with_url_ends_with_read_the_full_brief_button(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, url=BRIEF_URL))

    assert message.blocks[-2] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Read the full brief"},
                "action_id": "open_brief",
                "url": BRIEF_URL,
            }
        ],
    }


def test_provenance_skips_empty_fields(renderer: Renderer) -> None:
    bare = replace(SEED, entity="", category="  ", topic="")

    provenance = renderer.render_signal(bare).blocks[1]["elements"][0]["text"]

    assert provenance == f"Apr 23, 2026 · ID `{bare.id}`"


def test_a_rendered_message_posts_to_slack_as_rendered(
    renderer: Renderer, slack: FakeSlack
) -> None:
    message = renderer.render_signal(SEED)
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    slack.add_channel("C0AI", "ai-news")

    client.chat_postMessage(channel="C0AI", **message.as_kwargs())
    (posted,) = client.conversations_history(channel="C0AI")["messages"]

    assert posted["text"] == message.text
    assert posted["blocks"] == message.blocks
    assert "Meta Pivots To Closed-Source AI" in posted["text"], "the notification fallback"


# --- untrusted text ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", SIGNAL_TEXT_FIELDS)
def test_markup_in_a_signal_field_is_escaped(renderer: Renderer, field: str) -> None:
    message = renderer.render_signal(replace(SEED, **({"url": BRIEF_URL} | {field: INJECTION})))

    assert_no_markup(message)
    assert_within_limits(message)


@pytest.mark.parametrize("part", ["heading", "body"])
def test_markup_in_a_section_is_escaped(renderer: Renderer, part: str) -> None:
    section = replace(Section("Heading", "Body"), **{part: INJECTION})

    message = renderer.render_signal(replace(SEED, sections=(section,)))

    assert_no_markup(message)
    assert any("&lt;!channel&gt;" in text for text in section_texts(message))


def test_markup_in_the_title_is_escaped_in_header_and_fallback(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, title=INJECTION))

    header = message.blocks[0]["text"]["text"]
    assert header.startswith("&lt;!channel&gt; &lt;!here&gt; &lt;@U123ABC&gt;")
    assert header.endswith("&amp; done")
    assert message.text.startswith("&lt;!channel&gt;")


def test_markup_in_a_url_path_gets_no_button(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, url="https://x.example/<!channel>"))

    assert not link_buttons(message)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://x.example/" + "a" * 4000,
        "ftp://x.example/brief",
        "https://x.example/a b",
        "https:///no-host",
        "",
        None,
    ],
)
def test_unsafe_url_gets_no_button(renderer: Renderer, url: str | None) -> None:
    message = renderer.render_signal(replace(SEED, url=url))

    assert not link_buttons(message)


# --- Slack's limits ----------------------------------------------------------------------------


def test_long_section_is_split_into_sections_within_limits(renderer: Renderer) -> None:
    words = [f"word{number}" for number in range(2000)]
    body = " ".join(words)
    assert len(body) > 15_000

    parts = renderer.render_brief(replace(SEED, sections=(Section("Long", body),)))

    texts = [text for part in parts for text in section_texts(part)][1:]
    assert len(texts) >= 5
    assert all(len(text) <= LIMITS.section_text for text in texts)
    assert texts[0].startswith("*Long*\n")
    assert " ".join(texts).removeprefix("*Long*\n").split() == words
    for part in parts:
        assert_within_limits(part)


def test_sixty_sections_continue_in_replies_with_nothing_left_out(renderer: Renderer) -> None:
    sections = tuple(Section(f"Part {number}", "Body.") for number in range(60))

    parts = renderer.render_brief(replace(SEED, sections=sections, url=BRIEF_URL))

    assert len(parts) == 2
    assert len(parts[0].blocks) == LIMITS.blocks
    assert parts[0].blocks[-1]["type"] == "actions", "the controls end the post"
    headings = [text.split("\n")[0] for part in parts for text in section_texts(part)]
    assert [heading for heading in headings if heading.startswith("*Part")] == [
        f"*Part {number}*" for number in range(60)
    ]
    for part in parts:
        assert_within_limits(part)


def test_a_message_over_the_text_budget_is_shortened_with_a_note() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "word " * 590}}] * 5

    fitted = fit_to_slack(blocks)

    assert text_length(fitted) <= MESSAGE.text_budget  # type: ignore[operator]
    assert len(fitted) == 4
    assert fitted[-1]["elements"][0]["text"] == (
        "_This message was shortened: 2 more blocks are not shown._"
    )


def test_long_title_is_cut_to_a_150_character_header(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, title="T" * 400))

    header = message.blocks[0]["text"]["text"]
    assert len(header) <= LIMITS.header_text
    assert header.endswith("…")


def test_header_of_ampersands_is_cut_between_entities(renderer: Renderer) -> None:
    message = renderer.render_signal(replace(SEED, title="&" * 149))

    assert re.fullmatch(r"(&amp;)+…", message.blocks[0]["text"]["text"])


def test_fit_to_slack_cuts_texts_and_drops_what_slack_refuses() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "B" * 100}}
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "H" * 200}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "S" * 4000}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "   "}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": str(n)} for n in range(12)],
        },
        {
            "type": "actions",
            "elements": [
                {**button, "action_id": "same", "url": "https://ok.example"},
                {**button, "action_id": "same", "value": "v"},
                {**button, "action_id": "bad_url", "url": "javascript:alert(1)"},
                {**button, "action_id": "long_url", "url": "https://x.example/" + "a" * 3000},
                {**button, "action_id": "big_value", "value": "v" * 2001},
            ],
        },
        {"type": "actions", "elements": [{**button, "action_id": "x", "url": "data:x"}]},
    ]

    fitted = fit_to_slack(blocks)

    assert [block["type"] for block in fitted] == ["header", "section", "context", "actions"]
    assert len(fitted[0]["text"]["text"]) == LIMITS.header_text
    assert len(fitted[1]["text"]["text"]) == LIMITS.section_text
    assert len(fitted[2]["elements"]) == LIMITS.context_elements
    buttons = fitted[3]["elements"]
    assert [element["action_id"] for element in buttons] == ["same", "same_2"]
    assert all(len(element["text"]["text"]) == LIMITS.button_text for element in buttons)


def test_fit_to_slack_drops_a_bad_accessory_but_keeps_its_section() -> None:
    bad_button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Open"},
        "action_id": "open",
        "url": "javascript:alert(1)",
    }
    image = {"type": "image", "image_url": "https://x.example/a.png", "alt_text": "logo"}
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": bad_button},
        {"type": "context", "elements": [image, {"type": "mrkdwn", "text": ""}]},
    ]

    assert fit_to_slack(blocks) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}},
        {"type": "context", "elements": [image]},
    ]


def test_fit_to_slack_makes_block_ids_unique() -> None:
    section = {"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": "x"}}

    fitted = fit_to_slack([section, section, {**section, "block_id": "b" * 300}])

    assert [block["block_id"] for block in fitted] == ["b", "b_2", "b" * 255]


def test_fallback_text_is_cut_to_slack_limit(tmp_path: Path) -> None:
    (tmp_path / "long.json.j2").write_text(
        '{"text": {{ ("&" * 20000)|mrkdwn|tojson }}, "blocks": []}', encoding="utf-8"
    )

    message = Renderer(tmp_path).render("long.json.j2")

    assert len(message.text) <= LIMITS.fallback_text
    assert re.fullmatch(r"(&amp;)+…", message.text)


# --- every template, every odd input -------------------------------------------------------


def search_result(signal: Signal, snippet: str = "") -> SimpleNamespace:
    return SimpleNamespace(signal=signal, snippet=snippet)


def subscription(**fields: Any) -> SimpleNamespace:
    defaults = {
        "id": 1,
        "canonical": "topic:ai-advances",
        "description": "AI Advances",
        "state": "active",
        "paused_reason": None,
    }
    return SimpleNamespace(**(defaults | fields))


BARE_SIGNAL = Signal(title="", published=datetime(2026, 1, 1, tzinfo=UTC))
ODD_TEXT = " \n\t" + INJECTION + "\u202e\x00\ue000" + "x" * 5000

ODD_CONTEXTS = {
    "signal, empty": ("signal.json.j2", {"signal": BARE_SIGNAL}),
    "signal, odd": (
        "signal.json.j2",
        {
            "signal": Signal(
                title=ODD_TEXT,
                published=datetime(2026, 1, 1, tzinfo=UTC),
                entity=ODD_TEXT,
                category=ODD_TEXT,
                topic=ODD_TEXT,
                summary=ODD_TEXT,
                sections=(Section(ODD_TEXT, ODD_TEXT), Section("", ""), Section(" ", ODD_TEXT)),
                url=ODD_TEXT,
            )
        },
    ),
    "search, none": (
        "search_results.json.j2",
        {"query_text": "", "results": [], "total": 0, "offset": 0, "page_size": 5},
    ),
    "search, odd": (
        "search_results.json.j2",
        {
            "query_text": ODD_TEXT,
            "results": [search_result(BARE_SIGNAL, ODD_TEXT), search_result(BARE_SIGNAL, " ")],
            "total": 99,
            "offset": 0,
            "page_size": 2,
        },
    ),
    "help, empty": ("help.json.j2", {"command": "", "subcommands": [], "error": None}),
    "help, odd": (
        "help.json.j2",
        {
            "command": ODD_TEXT,
            "subcommands": [SimpleNamespace(usage=ODD_TEXT, summary=ODD_TEXT)] * 30,
            "error": ODD_TEXT,
        },
    ),
    "subscriptions, empty": ("subscriptions.json.j2", {"channel_name": "", "subscriptions": []}),
    "subscriptions, odd": (
        "subscriptions.json.j2",
        {
            "channel_name": ODD_TEXT,
            "subscriptions": [
                subscription(id=ODD_TEXT, description=ODD_TEXT, canonical=ODD_TEXT),
                subscription(state="paused", paused_reason=ODD_TEXT, description=""),
                subscription(state=ODD_TEXT, description=None, canonical=None),
            ]
            * 40,
        },
    ),
    "notice, empty": ("notice.json.j2", {"lines": [], "emoji": ""}),
    "notice, odd": ("notice.json.j2", {"lines": [ODD_TEXT] * 5, "emoji": ODD_TEXT}),
}


@pytest.mark.parametrize(("template_name", "context"), ODD_CONTEXTS.values(), ids=ODD_CONTEXTS)
def test_every_template_renders_odd_input(
    renderer: Renderer, template_name: str, context: dict[str, Any]
) -> None:
    message = renderer.render(template_name, **context)

    assert message.text.strip()
    assert_within_limits(message)
    assert_no_markup(message)


def test_search_results_list_titles_snippets_and_buttons(renderer: Renderer) -> None:
    results = [
        search_result(SEED, "Meta released \ue000Muse\ue001 & more"),
        search_result(replace(SEED, key="other", title="Second"), ""),
    ]

    message = renderer.render(
        "search_results.json.j2",
        query_text="muse",
        results=results,
        total=12,
        offset=0,
        page_size=5,
    )

    texts = section_texts(message)
    assert texts[0] == "*12 briefs* match “muse” · showing 1–2"
    assert texts[1] == f"*{SEED_TITLE}*"
    assert texts[2] == "Meta released *Muse* &amp; more"
    assert texts[3] == "*Second*"
    buttons = [block["elements"][0] for block in message.blocks if block["type"] == "actions"]
    assert [(button["action_id"], button.get("value")) for button in buttons[:2]] == [
        ("show_brief_1", SEED.id),
        ("show_brief_2", results[1].signal.id),
    ]
    assert buttons[2]["action_id"] == "search_next"
    assert buttons[2]["text"]["text"] == "Next 5"
    assert json.loads(buttons[2]["value"]) == {"query_text": "muse", "offset": 5}
    assert message.text == "12 briefs match “muse” · showing 1–2"


def test_search_last_page_has_no_next_button(renderer: Renderer) -> None:
    message = renderer.render(
        "search_results.json.j2",
        query_text="muse",
        results=[search_result(SEED)],
        total=6,
        offset=5,
        page_size=5,
    )

    action_ids = [b["elements"][0]["action_id"] for b in message.blocks if b["type"] == "actions"]
    assert action_ids == ["show_brief_6"]


def test_search_without_results_suggests_what_to_try(renderer: Renderer) -> None:
    message = renderer.render(
        "search_results.json.j2",
        query_text="<!here> zebra",
        results=[],
        total=0,
        offset=0,
        page_size=5,
    )

    assert section_texts(message) == [
        "No briefs match “&lt;!here&gt; zebra”. "
        "Try fewer words, a prefix like `llam*`, or drop a filter."
    ]


def test_help_shows_the_error_first_then_usage(renderer: Renderer) -> None:
    subcommands = [
        SimpleNamespace(usage="subscribe FILTER", summary="subscribe this channel"),
        SimpleNamespace(usage="search QUERY", summary="past briefs, best first"),
    ]

    message = renderer.render(
        "help.json.j2", command="/signals", subcommands=subcommands, error="Unknown `frob`"
    )

    texts = section_texts(message)
    assert texts[0] == ":warning: Unknown `frob`"
    assert texts[-1] == (
        "`/signals subscribe FILTER` — subscribe this channel\n"
        "`/signals search QUERY` — past briefs, best first"
    )
    examples = " ".join(element["text"] for element in message.blocks[-1]["elements"])
    assert "`topic:ai-advances entity:Meta -keyword:rumour`" in examples


def test_help_without_error_starts_with_usage(renderer: Renderer) -> None:
    message = renderer.render("help.json.j2", command="/signals", subcommands=[], error=None)

    assert not section_texts(message)[0].startswith(":warning:")


def test_subscriptions_show_id_description_and_state(renderer: Renderer) -> None:
    subscriptions = [
        subscription(id=3),
        subscription(id=4, state="paused", paused_reason="the channel was archived"),
    ]

    message = renderer.render(
        "subscriptions.json.j2", channel_name="general", subscriptions=subscriptions
    )

    assert section_texts(message) == [
        "*2 subscriptions in #general*",
        "`#3` AI Advances — active\n"
        "`#4` AI Advances — :double_vertical_bar: paused: the channel was archived",
    ]


def test_no_subscriptions_says_how_to_subscribe(renderer: Renderer) -> None:
    message = renderer.render("subscriptions.json.j2", channel_name="#general", subscriptions=[])

    assert "/signals subscribe" in section_texts(message)[0]
    assert section_texts(message)[0].startswith("#general has no subscriptions")


def test_notice_escapes_each_line(renderer: Renderer) -> None:
    message = renderer.render(
        "notice.json.j2",
        lines=["Subscribed #general to <!channel>", "Filter: a & b"],
        emoji=":white_check_mark:",
    )

    assert [block["type"] for block in message.blocks] == ["section"]
    assert section_texts(message) == [
        ":white_check_mark: Subscribed #general to &lt;!channel&gt;\nFilter: a &amp; b"
    ]


# --- template loading and template bugs ---------------------------------------------------------


def test_templates_dir_overrides_bundled_templates(tmp_path: Path) -> None:
    (tmp_path / "notice.json.j2").write_text(
        '{"text": "custom", "blocks": [{"type": "section", "text": {"type": "mrkdwn", '
        '"text": {{ ("Custom: " ~ lines|join(" ")|mrkdwn)|tojson }}}}]}',
        encoding="utf-8",
    )
    renderer = Renderer(tmp_path)

    notice = renderer.render("notice.json.j2", lines=["<hi>"], emoji=":x:")
    signal = renderer.render_signal(SEED)

    assert section_texts(notice) == ["Custom: &lt;hi&gt;"]
    assert signal.blocks[0]["type"] == "header"


def test_missing_templates_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TEMPLATES_DIR"):
        Renderer(tmp_path / "missing")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('{"text": "x", "blocks": [{"type": "divider"},]}', "not valid JSON"),
        ("", "not valid JSON"),
        ('["not", "an", "object"]', "JSON object"),
        ('{"blocks": []}', '"text"'),
        ('{"text": "x", "blocks": "nope"}', '"blocks"'),
        ('{"text": "x", "blocks": [{"type": "no_such_block"}]}', "unknown block type"),
        ('{"text": "x", "blocks": [{"type": "section"}]}', "block 0"),
        ('{"text": "x", "blocks": [{"type": "actions", "elements": [7]}]}', "malformed"),
        (
            '{"text": "x", "blocks": [{"type": "header", '
            '"text": {"type": "mrkdwn", "text": "x"}}]}',
            "plain_text",
        ),
        ('{"text": {{ missing|tojson }}, "blocks": []}', "missing"),
        ('{"text": {% if %}', "TemplateSyntaxError"),
    ],
)
def test_template_bug_raises_naming_the_template(tmp_path: Path, source: str, reason: str) -> None:
    (tmp_path / "broken.json.j2").write_text(source, encoding="utf-8")

    with pytest.raises(RenderError, match=r"broken\.json\.j2") as caught:
        Renderer(tmp_path).render("broken.json.j2")

    assert reason in str(caught.value)


def test_unknown_template_raises_naming_it(renderer: Renderer) -> None:
    with pytest.raises(RenderError, match=r"nowhere\.json\.j2"):
        renderer.render("nowhere.json.j2")


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        (
            "*bold* _it_ `code` :emoji: \"quote\" 'apos'",
            "*bold* _it_ `code` :emoji: \"quote\" 'apos'",
        ),
        (None, ""),
        (42, "42"),
    ],
)
def test_mrkdwn_escapes_exactly_ampersand_and_angle_brackets(text: object, escaped: str) -> None:
    assert mrkdwn(text) == escaped
    assert plain(text) == escaped


def test_mrkdwn_chunks_prefer_paragraph_then_line_then_word_breaks() -> None:
    first, second, third = "a" * 55, "b" * 20, "c" * 30

    assert mrkdwn_chunks(f"{first}\n\n{second}\n{third}", 100) == [first, f"{second}\n{third}"]
    assert mrkdwn_chunks(f"{first}\n{second} {third}", 100) == [first, f"{second} {third}"]
    assert mrkdwn_chunks(f"{first} {second} {third} x", 100) == [f"{first} {second}", f"{third} x"]
    assert mrkdwn_chunks("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
    assert mrkdwn_chunks("word " * 30, 20) == ["word word word word"] * 7 + ["word word"]
    assert mrkdwn_chunks("   ") == []


def test_mrkdwn_chunks_never_split_an_entity() -> None:
    chunks = mrkdwn_chunks("&<>" * 3000, 997)

    assert all(len(chunk) <= 997 for chunk in chunks)
    assert all(re.fullmatch(r"(&amp;|&lt;|&gt;)+", chunk) for chunk in chunks)
    assert "".join(chunks) == mrkdwn("&<>" * 3000)


def test_escaped_chunks_refuses_a_limit_that_cannot_hold_an_entity() -> None:
    with pytest.raises(ValueError, match="too small"):
        escaped_chunks("&amp;", 4)


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("abcdefghij", 5, "abcd…"),
        ("ab &amp; cd", 7, "ab…"),
        ("ab&lt;cd", 5, "ab…"),
        ("ab&lt;cd", 7, "ab&lt;…"),
    ],
)
def test_truncate_chars_never_splits_an_entity(text: str, limit: int, cut: str) -> None:
    assert truncate_chars(text, limit) == cut


def test_highlight_escapes_then_bolds_hits() -> None:
    assert highlight("<b>\ue000llama\ue001</b> & \ue000meta\ue001") == (
        "&lt;b&gt;*llama*&lt;/b&gt; &amp; *meta*"
    )


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 4, 23, 22, 0, tzinfo=UTC), date(2026, 4, 23), datetime(2026, 4, 23, 9)],
)
def test_slack_date_reads_like_slack(moment: datetime | date) -> None:
    assert slack_date(moment) == "Apr 23, 2026"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://optyx.example/a?b=1#c", True),
        ("http://optyx.example", True),
        ("HTTPS://OPTYX.EXAMPLE/", True),
        ("https://optyx.example/" + "a" * 2978, True),
        ("https://optyx.example/" + "a" * 2979, False),
        ("javascript:alert(1)", False),
        ("mailto:a@b.example", False),
        ("//optyx.example/a", False),
        ("https://optyx.example/<!channel>", False),
        ("https://optyx.example/a|click", False),
        ("https://optyx.example/\x1b", False),
        ("https://[::1", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url_accepts_only_http_urls_slack_takes(url: str | None, safe: bool) -> None:
    assert safe_url(url) == (url if safe else "")


# --- anything a source can send ----------------------------------------------------------------

any_text = st.text(max_size=400)
long_text = st.text(max_size=5000)


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    sections = draw(
        st.lists(st.builds(Section, heading=any_text, body=long_text), max_size=4).map(tuple)
    )
    return Signal(
        title=draw(any_text),
        published=draw(st.datetimes(timezones=st.just(UTC))),
        key=draw(any_text),
        source=draw(any_text),
        entity=draw(any_text),
        category=draw(any_text),
        topic=draw(any_text),
        summary=draw(long_text),
        sections=sections,
        url=draw(st.none() | any_text | any_text.map(lambda path: "https://x.example/" + path)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal=signals(), snippet=any_text, query_text=any_text)
def test_any_unicode_renders_valid_messages_without_markup(
    renderer: Renderer, signal: Signal, snippet: str, query_text: str
) -> None:
    brief = renderer.render_signal(signal)
    results = renderer.render(
        "search_results.json.j2",
        query_text=query_text,
        results=[search_result(signal, snippet)],
        total=9,
        offset=0,
        page_size=5,
    )

    for message in (brief, results):
        assert_within_limits(message)
        assert_no_markup(message)
