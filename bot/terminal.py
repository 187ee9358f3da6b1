"""Rendered messages as plain terminal text, for local mode and the CLI."""

from __future__ import annotations

import re
from typing import Any

from bot.render import Message

DIVIDER = "-" * 40
# Briefs are untrusted: C0/C1 control characters could drive the terminal (ANSI escapes).
_CONTROL_CHARACTERS = {
    code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"
}


def message_to_text(message: Message) -> str:
    """The message as a person would read it in Slack, as plain text without styling codes."""
    if not message.blocks:
        return display_text(message.text)
    shown = (block_to_text(block) for block in message.blocks)
    return "\n\n".join(text for text in shown if text)


# Our templates' own Slack markup (brief text cannot hold a raw `<`: it arrives escaped).
_DATE_TOKEN = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LABELLED_LINK = re.compile(r"<([^|<>]+)\|([^<>]+)>")


def display_text(escaped: str) -> str:
    """Slack's date tokens and labelled links as their text, `&amp;` `&lt;` `&gt;` undone,
    control characters dropped."""
    escaped = _DATE_TOKEN.sub(r"\1", escaped)
    escaped = _LABELLED_LINK.sub(r"\2 (\1)", escaped)
    unescaped = escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return unescaped.translate(_CONTROL_CHARACTERS)


def block_to_text(block: dict[str, Any]) -> str:
    """One Block Kit block as plain text ("" for blocks with nothing to read)."""
    match block.get("type"):
        case "header":
            title = _text_of(block.get("text"))
            return f"{title}\n{'=' * len(title)}"
        case "section":
            return _section_text(block)
        case "context":
            return "  ".join(filter(None, map(_element_text, block.get("elements", []))))
        case "divider":
            return DIVIDER
        case "actions":
            return "  ".join(filter(None, map(_element_text, block.get("elements", []))))
        case _:
            return ""


def _section_text(block: dict[str, Any]) -> str:
    parts = [_text_of(block.get("text")), *map(_text_of, block.get("fields", []))]
    if accessory := block.get("accessory"):
        parts.append(_element_text(accessory))
    return "\n".join(part for part in parts if part)


def _element_text(element: dict[str, Any]) -> str:
    """A context or actions element: its text, a button as `[label] url`, an image's alt text."""
    match element.get("type"):
        case "mrkdwn" | "plain_text":
            return _text_of(element)
        case "image":
            return f"[image: {display_text(element.get('alt_text', ''))}]"
        case _ if "text" in element:
            label = f"[{_text_of(element['text'])}]"
            return f"{label} {display_text(element['url'])}" if element.get("url") else label
        case _:
            return ""


def _text_of(text_object: Any) -> str:
    if isinstance(text_object, dict):
        return display_text(str(text_object.get("text", "")))
    return ""
