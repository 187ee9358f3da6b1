"""What real Slack refuses in a message's content, for the fake Slack to refuse too.

The documented Block Kit limits (50 blocks, header 150, section text 3,000, 10 fields of 2,000,
10 context elements, button text 75, action_id 255, value 2,000, url 3,000, unknown block
types), duplicate block_ids and action_ids, and the undocumented cumulative limit: Slack answers
`msg_blocks_too_long` when a message's block text adds up to more than about 12,000 characters
(slackapi/bolt-js #2509, #2867). Written apart from the bot's renderer, so that a renderer bug
cannot hide in a shared helper.
"""

from typing import Any

from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_BLOCK_TEXT = 12_000  # observed refusals start somewhere above 11,300; we take the high end
MAX_TEXT = 40_000  # top-level text: Slack truncates beyond this
KNOWN_BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown"}
    | {"rich_text", "section", "video"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# Refusals that mean "the bot built a wrong message", as opposed to channel or token problems.
CONTENT_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "invalid_attachments"}
    | {"msg_too_long", "no_text", "invalid_metadata_format"}
)


class ContentRefused(Exception):
    """args: the Slack error name, then details."""


def text_length(value: Any) -> int:
    """Characters in every text object (plain_text or mrkdwn) inside `value`."""
    if isinstance(value, list):
        return sum(text_length(item) for item in value)
    if not isinstance(value, dict):
        return 0
    if value.get("type") in TEXT_TYPES and isinstance(value.get("text"), str):
        return len(value["text"])
    return sum(text_length(item) for item in value.values())


def _text(value: Any) -> str:
    return value.get("text", "") if isinstance(value, dict) else ""


def _over(what: str, value: str, limit: int) -> str | None:
    return f"{what} is longer than {limit} characters" if len(value) > limit else None


def _element_problem(element: Any) -> str | None:
    if not isinstance(element, dict):
        return "an element must be an object"
    if problem := _over("action_id", str(element.get("action_id", "")), 255):
        return problem
    if element.get("type") == "button":
        return (
            _over("button text", _text(element.get("text")), 75)
            or _over("value", str(element.get("value", "")), 2000)
            or _over("url", str(element.get("url", "")), 3000)
        )
    return None


def _block_problem(block: dict[str, Any]) -> str | None:
    kind = block.get("type")
    if kind not in KNOWN_BLOCK_TYPES:
        return f"unsupported type: {kind!r}"
    if problem := _over("block_id", str(block.get("block_id", "")), 255):
        return problem
    elements = block.get("elements", [])
    if kind == "header":
        if not isinstance(block.get("text"), dict) or block["text"].get("type") != "plain_text":
            return "a header's text must be plain_text"
        return _over("header text", _text(block["text"]), 150)
    if kind == "section":
        fields = block.get("fields", [])
        if len(fields) > 10:
            return "more than 10 fields"
        texts = [_over("section text", _text(block.get("text")), 3000)]
        texts += [_over("field text", _text(field), 2000) for field in fields]
        if "accessory" in block:
            texts.append(_element_problem(block["accessory"]))
        return next((problem for problem in texts if problem), None)
    if kind == "context" and len(elements) > 10:
        return "more than 10 context elements"
    if kind == "actions":
        if len(elements) > 25:
            return "more than 25 elements"
        return next(filter(None, map(_element_problem, elements)), None)
    return None


def _sdk_problem(block: dict[str, Any]) -> str | None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return "not a known block"
        parsed.validate_json()
    except Exception as error:  # any way the SDK model refuses a block, Slack would too
        return str(error) or type(error).__name__
    return None


def _ids(blocks: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    elements = [block["accessory"] for block in blocks if "accessory" in block]
    elements += [e for block in blocks if block.get("type") == "actions" for e in block["elements"]]
    return block_ids, [e["action_id"] for e in elements if "action_id" in e]


def check_blocks(blocks: Any) -> None:
    """Raise ContentRefused as Slack would answer these blocks."""
    if not isinstance(blocks, list):
        raise ContentRefused("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        raise ContentRefused("invalid_blocks", f"more than {MAX_BLOCKS} blocks")
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise ContentRefused("invalid_blocks", f"not an object [json-pointer:/blocks/{index}]")
        if problem := _block_problem(block) or _sdk_problem(block):
            raise ContentRefused("invalid_blocks", f"{problem} [json-pointer:/blocks/{index}]")
    for kind, ids in zip(("block_id", "action_id"), _ids(blocks), strict=True):
        if len(ids) != len(set(ids)):
            raise ContentRefused("invalid_blocks", f"duplicate {kind}")
    if (size := text_length(blocks)) > MAX_BLOCK_TEXT:
        raise ContentRefused("msg_blocks_too_long", f"{size} characters of block text")


def check_attachments(attachments: Any) -> None:
    if attachments is None:
        return
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise ContentRefused("invalid_attachments")


def check_message(params: dict[str, Any], *, required: bool) -> None:
    """Raise ContentRefused for a chat.postMessage / chat.update / response_url body Slack
    would refuse."""
    content = ("text", "blocks", "attachments")
    if required and not any(params.get(key) for key in content):
        raise ContentRefused("no_text")
    check_blocks(params.get("blocks", []))
    check_attachments(params.get("attachments"))
    metadata = params.get("metadata", {"event_type": "-"})
    if not isinstance(metadata, dict) or not metadata.get("event_type"):
        raise ContentRefused("invalid_metadata_format")


def stored_text(params: dict[str, Any]) -> str:
    """The top-level text as Slack keeps it: cut after 40,000 characters."""
    return str(params.get("text") or "")[:MAX_TEXT]
