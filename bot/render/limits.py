"""Slack's limits, held in one place: per-element fitting, and splitting into parts.

Every message and view goes through `fit_to_slack`, so `show ID`, search results, digests, the
App Home and modals all keep to the same limits. `split_into_parts` is what lets a long brief
continue in threaded replies: each part holds at most `Surface.blocks` blocks and
`Surface.text_budget` characters of block text. (Slack refuses a message whose block text adds
up to more than about 12,000 characters with `msg_blocks_too_long`, though it documents no such
limit; 11,000 leaves a margin.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.render.escape import as_text, safe_url, truncate_chars

Blocks = list[dict[str, Any]]
TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})


@dataclass(frozen=True, slots=True)
class SlackLimits:
    """Slack's Block Kit limits for one block and its elements (see SLACK.md)."""

    blocks: int = 50
    header_text: int = 150
    section_text: int = 3000
    section_fields: int = 10
    field_text: int = 2000
    context_elements: int = 10
    context_text: int = 3000
    actions_elements: int = 25
    button_text: int = 75
    button_value: int = 2000
    url: int = 3000
    block_or_action_id: int = 255
    fallback_text: int = 40_000
    # Ours, not Slack's: one block never holds more text than this, so any block fits a part.
    block_text: int = 6000


@dataclass(frozen=True, slots=True)
class Surface:
    """Where blocks are shown: how many blocks, and how much block text in all (None: no cap)."""

    name: str
    blocks: int
    text_budget: int | None


LIMITS = SlackLimits()
MESSAGE = Surface("message", blocks=50, text_budget=11_000)
VIEW = Surface("view", blocks=100, text_budget=None)  # modals and the App Home
SHORTENED_NOTE_ROOM = 120


def text_length(value: object) -> int:
    """Characters of text in text objects (`plain_text`, `mrkdwn`) anywhere in `value`."""
    if isinstance(value, list):
        return sum(text_length(item) for item in value)
    if not isinstance(value, dict):
        return 0
    own = value.get("text")
    if value.get("type") in TEXT_OBJECT_TYPES and isinstance(own, str):
        return len(own)
    return sum(text_length(item) for item in value.values() if isinstance(item, dict | list))


# --- one block at a time -------------------------------------------------------------------


def _fit_text(text_object: Any, limit: int) -> Any:
    """The text object cut to `limit`, None when it is blank; anything else as it is."""
    if not isinstance(text_object, dict) or not isinstance(text_object.get("text"), str):
        return text_object  # malformed: validation names it
    if not text_object["text"].strip():
        return None
    return {**text_object, "text": truncate_chars(text_object["text"], limit)}


def _fit_texts(text_objects: list[Any], limit: int, count: int, room: int) -> list[Any]:
    """Up to `count` non-blank text objects, each within `limit`, together within `room`."""
    kept: list[Any] = []
    for text_object in text_objects:
        if len(kept) == count or room <= 1:
            break
        if fitted := _fit_text(text_object, min(limit, room)):
            kept.append(fitted)
            room -= text_length(fitted)
    return kept


def _fit_element(element: dict[str, Any]) -> dict[str, Any] | None:
    """A button that Slack accepts, or None when its URL or value cannot be sent."""
    if element.get("type") != "button":
        return element
    if "url" in element and not safe_url(element["url"]):
        return None
    if len(as_text(element.get("value"))) > LIMITS.button_value:
        return None
    label = _fit_text(element.get("text"), LIMITS.button_text)
    return {**element, "text": label} if label else None


def _fit_header(block: dict[str, Any]) -> dict[str, Any] | None:
    text = _fit_text(block.get("text"), LIMITS.header_text)
    return {**block, "text": text} if text else None


def _fit_section(block: dict[str, Any]) -> dict[str, Any] | None:
    if "text" not in block and "fields" not in block:
        return block  # malformed: validation names it
    fitted = {key: value for key, value in block.items() if key not in {"text", "fields"}}
    if text := _fit_text(block.get("text"), LIMITS.section_text):
        fitted["text"] = text
    room = LIMITS.block_text - text_length(text)
    fields = _fit_texts(block.get("fields", []), LIMITS.field_text, LIMITS.section_fields, room)
    if fields:
        fitted["fields"] = fields
    accessory = _fit_element(block["accessory"]) if "accessory" in block else None
    if accessory is None:
        fitted.pop("accessory", None)
    else:
        fitted["accessory"] = accessory
    return fitted if "text" in fitted or "fields" in fitted else None


def _fit_context(block: dict[str, Any]) -> dict[str, Any] | None:
    elements = block.get("elements", [])
    texts = [element for element in elements if element.get("type") in TEXT_OBJECT_TYPES]
    kept = _fit_texts(texts, LIMITS.context_text, LIMITS.context_elements, LIMITS.block_text)
    others = [element for element in elements if element.get("type") not in TEXT_OBJECT_TYPES]
    kept = [*others, *kept][: LIMITS.context_elements]
    return {**block, "elements": kept} if kept else None


def _fit_actions(block: dict[str, Any]) -> dict[str, Any] | None:
    elements = [_fit_element(element) for element in block.get("elements", [])]
    kept = [element for element in elements if element][: LIMITS.actions_elements]
    return {**block, "elements": kept} if kept else None


BLOCK_FITTERS = {
    "header": _fit_header,
    "section": _fit_section,
    "context": _fit_context,
    "actions": _fit_actions,
}


def fit_blocks(blocks: Blocks) -> Blocks:
    """Each block within its own limits: long text cut, bad buttons and empty blocks dropped."""
    fitted = []
    for block in blocks:
        fit = BLOCK_FITTERS.get(block.get("type", ""))
        if (kept := fit(block) if fit else block) is not None:
            fitted.append(kept)
    return fitted


# --- identifiers -----------------------------------------------------------------------------


def _unique(identifier: str, seen: set[str]) -> str:
    """`identifier` cut to Slack's length, with a `_2`, `_3`… suffix if already used."""
    candidate = base = identifier[: LIMITS.block_or_action_id]
    number = 2
    while candidate in seen:
        suffix = f"_{number}"
        candidate = base[: LIMITS.block_or_action_id - len(suffix)] + suffix
        number += 1
    seen.add(candidate)
    return candidate


def _with_unique_id(item: dict[str, Any], key: str, seen: set[str]) -> dict[str, Any]:
    if not isinstance(item.get(key), str):
        return item
    return {**item, key: _unique(item[key], seen)}


def with_unique_ids(blocks: Blocks) -> Blocks:
    """Blocks whose block_ids, and whose elements' action_ids, are unique within the message."""
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    unique: Blocks = []
    for block in blocks:
        block = _with_unique_id(block, "block_id", block_ids)
        if "accessory" in block:
            accessory = _with_unique_id(block["accessory"], "action_id", action_ids)
            block = {**block, "accessory": accessory}
        if block.get("type") == "actions":
            elements = [
                _with_unique_id(item, "action_id", action_ids) for item in block["elements"]
            ]
            block = {**block, "elements": elements}
        unique.append(block)
    return unique


# --- a whole message or view -------------------------------------------------------------------


@dataclass(slots=True)
class _Room:
    blocks: int
    text: int | None

    def takes(self, block: dict[str, Any]) -> bool:
        """Take `block` if it fits what is left (True), else leave the room as it is."""
        size = text_length(block)
        if self.blocks < 1 or (self.text is not None and size > self.text):
            return False
        self.blocks -= 1
        if self.text is not None:
            self.text -= size
        return True


def _room(surface: Surface, reserved: Blocks | None = None, spare_text: int = 0) -> _Room:
    """What a part of `surface` can still take once `reserved` (and `spare_text`) are in it."""
    reserved = reserved or []
    budget = surface.text_budget
    text = None if budget is None else budget - text_length(reserved) - spare_text
    return _Room(surface.blocks - len(reserved), text)


def _take_fitting(blocks: Blocks, room: _Room) -> tuple[Blocks, Blocks]:
    """The leading blocks that fit in `room`, and the rest (order kept)."""
    for index, block in enumerate(blocks):
        if not room.takes(block):
            return blocks[:index], blocks[index:]
    return blocks, []


def _capped(blocks: Blocks, surface: Surface) -> Blocks:
    """Within the surface's block count and text budget; the last block then says how many
    blocks were left out."""
    kept, left_out = _take_fitting(blocks, _room(surface))
    if not left_out:
        return kept
    kept, more = _take_fitting(blocks, _room(surface, [{}], SHORTENED_NOTE_ROOM))
    note = f"_This {surface.name} was shortened: {len(more)} more blocks are not shown._"
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]


def fit_to_slack(blocks: Blocks, surface: Surface = MESSAGE) -> Blocks:
    """Blocks within Slack's limits for one message (or view): each block fitted, ids unique,
    and what does not fit the surface left out with a note saying so."""
    return _capped(with_unique_ids(fit_blocks(blocks)), surface)


def split_into_parts(
    head: Blocks, thread: Blocks, controls: Blocks, *, compact: bool, surface: Surface = MESSAGE
) -> list[Blocks]:
    """The post, then the threaded replies, each within the surface's limits, in order.

    The post holds `head`, then (unless `compact`) as much of `thread` as fits, then `controls`.
    What does not fit, and in compact form all of `thread`, continues in the replies.
    """
    flowing = head if compact else [*head, *thread]
    post, overflow = _take_fitting(flowing, _room(surface, controls))
    rest = [*overflow, *thread] if compact else overflow
    replies: list[Blocks] = []
    while rest:
        part, rest = _take_fitting(rest, _room(surface))
        if not part:  # one block larger than a whole part: fit_blocks prevents it
            part, rest = rest[:1], rest[1:]
        replies.append(part)
    return [[*post, *controls], *replies]
