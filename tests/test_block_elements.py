"""Validation's element table makes exactly what slack_sdk's own parse makes, and still refuses
what slack_sdk refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block, BlockElement

from bot.render.block_elements import element_classes, parsed_element, with_parsed_elements
from bot.render.renderer import RenderError
from bot.render.renderer import _validate as validate

ELEMENTS: list[dict[str, Any]] = [
    {"type": "button", "text": {"type": "plain_text", "text": "Show"}, "value": "a1"},
    {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "url": "https://x.test/"},
    {"type": "mrkdwn", "text": "*bold* · `ID`"},
    {"type": "plain_text", "text": "plain", "emoji": True},
    {"type": "image", "image_url": "https://x.test/a.png", "alt_text": "a"},
    {
        "type": "static_select",
        "action_id": "mute",
        "placeholder": {"type": "plain_text", "text": "Mute"},
        "options": [{"text": {"type": "plain_text", "text": "1 day"}, "value": "1d"}],
    },
    {
        "type": "overflow",
        "options": [{"text": {"type": "plain_text", "text": "More"}, "value": "m"}],
    },
]


@pytest.mark.parametrize("raw", ELEMENTS, ids=lambda raw: raw["type"])
def test_an_element_becomes_what_slack_sdk_parse_makes(raw: dict[str, Any]) -> None:
    ours, theirs = parsed_element(raw), BlockElement.parse(raw)
    assert type(ours) is type(theirs)
    assert ours.to_dict() == theirs.to_dict()  # type: ignore[attr-defined, union-attr]


def test_the_table_holds_the_class_slack_sdk_parse_picks_for_each_type() -> None:
    table = element_classes()
    for raw in ELEMENTS:
        assert table[raw["type"]] is type(BlockElement.parse(raw))


def test_unknown_and_odd_elements_are_left_to_slack_sdk() -> None:
    odd = [{"type": "no_such_element"}, {"text": "no type"}, "not a dict"]
    for raw in odd:
        assert parsed_element(raw) is raw


def test_blocks_parse_to_the_same_json_and_the_block_itself_is_untouched() -> None:
    blocks = [
        {"type": "actions", "elements": ELEMENTS[:2]},
        {"type": "context", "elements": ELEMENTS[2:4]},
        {"type": "section", "text": ELEMENTS[2], "accessory": ELEMENTS[0]},
        {"type": "input", "label": ELEMENTS[3], "element": {"type": "plain_text_input"}},
    ]
    before = json.dumps(blocks)
    for raw in blocks:
        assert Block.parse(with_parsed_elements(raw)).to_dict() == Block.parse(raw).to_dict()  # type: ignore[union-attr]
    assert json.dumps(blocks) == before


def test_validation_still_refuses_a_block_slack_would() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Show"}, "value": "v"}
    blocks = [
        {"type": "context", "elements": [ELEMENTS[2]]},
        {"type": "actions", "elements": [button] * 26},  # an actions block holds 25
    ]

    with pytest.raises(RenderError, match=r"t\.json\.j2.*block 1 \('actions'\)") as caught:
        validate(blocks, "t.json.j2")
    assert "25" in str(caught.value)
