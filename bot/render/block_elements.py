"""Block elements parsed for validation, by a table of slack_sdk's own classes.

`slack_sdk`'s `BlockElement.parse` finds an element's class by walking every subclass of
`BlockElement` (some seventy) for each element it parses, which is most of the time validation
of a search reply takes (its buttons and context texts). The table below is built from the same
walk, once, keeping the first class for each type as `parse` does, so each element becomes the
very object slack_sdk would make; types the table does not know go through `parse` itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from slack_sdk.models.blocks import BlockElement, MarkdownTextObject, PlainTextObject

# The keys of a block that hold one element, and those that hold a list of them.
_ELEMENT_KEYS = ("accessory", "element")
_ELEMENT_LIST_KEYS = ("elements",)
# Blocks whose `elements` are not block elements (rich text holds its own kinds).
_OTHER_ELEMENT_LISTS = frozenset({"rich_text"})


@cache
def element_classes() -> dict[str, type[Any]]:
    """Element type -> the class `BlockElement.parse` picks for it."""
    classes: dict[str, type[Any]] = {}

    def walk(parent: type[BlockElement]) -> None:
        for subclass in parent.__subclasses__():
            element_type = getattr(subclass, "type", None)
            if isinstance(element_type, str):
                classes.setdefault(element_type, subclass)
            walk(subclass)

    walk(BlockElement)
    classes.setdefault(PlainTextObject.type, PlainTextObject)
    classes.setdefault(MarkdownTextObject.type, MarkdownTextObject)
    return classes


def parsed_element(raw: object) -> object:
    """One element as slack_sdk's class; anything unusual is left to `BlockElement.parse`."""
    if isinstance(raw, dict) and isinstance(raw.get("type"), str):
        element_class = element_classes().get(raw["type"])
        if element_class is not None:
            return element_class(**{key: value for key, value in raw.items() if key != "type"})
    return raw


def with_parsed_elements(block: dict[str, Any]) -> dict[str, Any]:
    """The block, its elements already parsed (a new dict: the block itself is left as it is)."""
    if block.get("type") in _OTHER_ELEMENT_LISTS:
        return block
    parsed = dict(block)
    for key in _ELEMENT_KEYS:
        if key in parsed:
            parsed[key] = parsed_element(parsed[key])
    for key in _ELEMENT_LIST_KEYS:
        if isinstance(parsed.get(key), list):
            parsed[key] = [parsed_element(element) for element in parsed[key]]
    return parsed
