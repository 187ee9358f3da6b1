"""Block Kit messages from Jinja2 templates: escaping filters, Slack's limits, validation.

Templates (`templates/*.json.j2`) produce `{"text": ..., "blocks": [...]}` as JSON. Every
untrusted value passes an escaping filter, then `tojson`. After rendering, `fit_to_slack` is the
one place that holds Slack's limits, and every block is validated with `slack_sdk`.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, Undefined
from jinja2.utils import htmlsafe_json_dumps
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.errors import ConfigError, SignalBotError
from bot.signal import Signal, as_utc

Blocks = list[dict[str, Any]]

ELLIPSIS = "…"
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Not allowed in a URL (RFC 3986) and meaningful to Slack's `<url|label>` markup.
URL_FORBIDDEN = frozenset('<>"`{}|\\^')
LONGEST_ENTITY = len("&amp;")
MIN_CHUNK = 2 * LONGEST_ENTITY


@dataclass(frozen=True, slots=True)
class SlackLimits:
    """Slack's Block Kit limits for a message (see SLACK.md)."""

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


LIMITS = SlackLimits()


class RenderError(SignalBotError):
    """A template that does not produce a valid message; the text names the template."""

    def __init__(self, template_name: str, reason: str) -> None:
        super().__init__(f"template {template_name!r}: {reason}")
        self.template_name = template_name
        self.reason = reason


@dataclass(frozen=True)
class Message:
    """A rendered Slack message: the notification fallback and the Block Kit blocks."""

    text: str
    blocks: Blocks

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `chat_postMessage`, `chat_update` or `respond`."""
        return {"text": self.text, "blocks": self.blocks}


# --- filters -------------------------------------------------------------------------------


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def mrkdwn(value: object) -> str:
    """Escape `&`, `<`, `>` (exactly those, `&` first) so Slack shows the text as written."""
    return _as_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(value: object) -> str:
    """Escape text for a `plain_text` object, the same way as mrkdwn for consistency."""
    return mrkdwn(value)


def _entity_safe_cut(text: str, cut: int) -> int:
    """Move `cut` back to the start of an `&…;` entity it would otherwise split."""
    amp = text.rfind("&", max(0, cut - LONGEST_ENTITY + 1), cut)
    if amp != -1 and text.find(";", amp) >= cut:
        return amp
    return cut


def truncate_chars(value: object, limit: int) -> str:
    """Cut escaped text to at most `limit` characters, ending in "…", never inside an entity."""
    text = _as_text(value)
    if len(text) <= limit:
        return text
    cut = _entity_safe_cut(text, max(limit - len(ELLIPSIS), 0))
    return text[:cut].rstrip() + ELLIPSIS


def _best_cut(text: str, limit: int) -> int:
    """Where to end the next chunk: a paragraph, line or word break in the back half, else hard."""
    for separator in ("\n\n", "\n", " "):
        position = text.rfind(separator, 0, limit + len(separator))
        if position >= limit // 2:
            return position
    return _entity_safe_cut(text, limit)


def escaped_chunks(text: str, limit: int = LIMITS.section_text) -> list[str]:
    """Split already-escaped text at paragraph, line or word breaks into pieces <= `limit`."""
    if limit < MIN_CHUNK:
        raise ValueError(f"chunk limit {limit} is too small (at least {MIN_CHUNK})")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece]


def mrkdwn_chunks(value: object, limit: int = LIMITS.section_text) -> list[str]:
    """Escape text, then split it at paragraph, line or word breaks into pieces <= `limit`."""
    return escaped_chunks(mrkdwn(value), limit)


def highlight(value: object) -> str:
    """Escape a search snippet and turn its hit markers (U+E000 … U+E001) into `*bold*`."""
    return mrkdwn(value).replace(HIGHLIGHT_START, "*").replace(HIGHLIGHT_END, "*")


def slack_date(value: datetime | date) -> str:
    """A date as Slack readers expect it: `Apr 23, 2026` (UTC, whatever the locale)."""
    moment = as_utc(value)
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def _is_url_character(character: str) -> bool:
    if character in URL_FORBIDDEN or character.isspace():
        return False
    return not unicodedata.category(character).startswith("C")


def safe_url(value: object) -> str:
    """The URL if it is a well-formed http(s) URL Slack accepts on a button, else ""."""
    url = _as_text(value)
    if not url or len(url) > LIMITS.url or not all(map(_is_url_character, url)):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in {"http", "https"} and parts.hostname else ""


def _refuse_in_json(value: object) -> NoReturn:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # names the missing variable
    raise TypeError(f"{type(value).__name__} cannot go into JSON")


def tojson(value: object) -> str:
    """Jinja's `tojson`, except that an undefined value fails with its own name."""
    return htmlsafe_json_dumps(value, default=_refuse_in_json, sort_keys=True)


FILTERS = {
    "mrkdwn": mrkdwn,
    "plain": plain,
    "mrkdwn_chunks": mrkdwn_chunks,
    "escaped_chunks": escaped_chunks,
    "truncate_chars": truncate_chars,
    "highlight": highlight,
    "slack_date": slack_date,
    "safe_url": safe_url,
    "tojson": tojson,
}


# --- Slack's limits, held in one place --------------------------------------------------------


def _fit_text(text_object: Any, limit: int) -> Any:
    """The text object cut to `limit`, None when it is blank; anything else as it is."""
    if not isinstance(text_object, dict) or not isinstance(text_object.get("text"), str):
        return text_object  # malformed: validation names it
    if not text_object["text"].strip():
        return None
    return {**text_object, "text": truncate_chars(text_object["text"], limit)}


def _fit_element(element: dict[str, Any]) -> dict[str, Any] | None:
    """A button that Slack accepts, or None when its URL or value cannot be sent."""
    if element.get("type") != "button":
        return element
    if "url" in element and not safe_url(element["url"]):
        return None
    if len(_as_text(element.get("value"))) > LIMITS.button_value:
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
    fields = [_fit_text(field, LIMITS.field_text) for field in block.get("fields", [])]
    if fields := [field for field in fields if field][: LIMITS.section_fields]:
        fitted["fields"] = fields
    accessory = _fit_element(block["accessory"]) if "accessory" in block else None
    if accessory is None:
        fitted.pop("accessory", None)
    else:
        fitted["accessory"] = accessory
    return fitted if "text" in fitted or "fields" in fitted else None


def _fit_context(block: dict[str, Any]) -> dict[str, Any] | None:
    elements = [_fit_text(element, LIMITS.context_text) for element in block.get("elements", [])]
    kept = [element for element in elements if element][: LIMITS.context_elements]
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


def _with_unique_ids(blocks: Blocks) -> Blocks:
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


def _capped(blocks: Blocks) -> Blocks:
    """At most 50 blocks; the last one then says how many were left out."""
    if len(blocks) <= LIMITS.blocks:
        return blocks
    left_out = len(blocks) - (LIMITS.blocks - 1)
    note = f"_This message was shortened: {left_out} more blocks are not shown._"
    shortened_note = {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}
    return [*blocks[: LIMITS.blocks - 1], shortened_note]


def fit_to_slack(blocks: Blocks) -> Blocks:
    """Blocks within Slack's limits: long text cut, bad buttons and empty blocks dropped."""
    fitted = []
    for block in blocks:
        fit = BLOCK_FITTERS.get(block.get("type", ""))
        if (kept := fit(block) if fit else block) is not None:
            fitted.append(kept)
    return _capped(_with_unique_ids(fitted))


# --- rendering ---------------------------------------------------------------------------------


def bundled_templates_dir() -> Path:
    """The templates shipped with signal-bot: inside the wheel, else the repository's folder."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


def build_environment(templates_dir: Path | None = None) -> Environment:
    """A Jinja environment loading overrides from `templates_dir` first, then the bundled ones."""
    search_path = [bundled_templates_dir()]
    if templates_dir is not None:
        if not Path(templates_dir).is_dir():
            raise ConfigError(f"TEMPLATES_DIR {str(templates_dir)!r} is not a directory")
        search_path.insert(0, Path(templates_dir))
    environment = Environment(
        loader=FileSystemLoader(search_path),
        undefined=StrictUndefined,
        autoescape=False,  # HTML escaping is wrong for Slack; the mrkdwn filters escape instead
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return environment


def _parse_payload(source: str, template_name: str) -> tuple[str, Blocks]:
    """The `text` and `blocks` a template produced, or a RenderError saying what is wrong."""
    try:
        payload = json.loads(source)
    except json.JSONDecodeError as error:
        line = source.splitlines()[error.lineno - 1] if source.strip() else ""
        excerpt = line[max(0, error.colno - 60) : error.colno + 20].strip()
        reason = f"output is not valid JSON: {error.msg} at line {error.lineno}: {excerpt!r}"
        raise RenderError(template_name, reason) from error
    if not isinstance(payload, dict):
        raise RenderError(template_name, "output must be a JSON object with text and blocks")
    text, blocks = payload.get("text"), payload.get("blocks")
    if not isinstance(text, str):
        raise RenderError(template_name, '"text" must be a string')
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise RenderError(template_name, '"blocks" must be a list of objects')
    return text, blocks


def _validate(blocks: Blocks, template_name: str) -> None:
    """Raise RenderError for the first block slack_sdk or Slack would refuse."""
    for index, raw in enumerate(blocks):
        where = f"block {index} ({raw.get('type')!r})"
        if raw.get("type") == "header" and raw["text"].get("type") != "plain_text":
            raise RenderError(template_name, f"{where}: a header's text must be plain_text")
        block = Block.parse(raw)
        if block is None:
            raise RenderError(template_name, f"{where}: unknown block type")
        try:
            block.validate_json()
        except SlackObjectFormationError as error:
            raise RenderError(template_name, f"{where}: {error}") from error


def _slack_ready(blocks: Blocks, template_name: str) -> Blocks:
    """The template's blocks fitted to Slack's limits and validated."""
    try:
        fitted = fit_to_slack(blocks)
        _validate(fitted, template_name)
    except (AttributeError, KeyError, TypeError) as error:
        raise RenderError(template_name, f"malformed block: {error!r}") from error
    return fitted


class Renderer:
    """Renders the Block Kit templates into messages Slack accepts."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.environment = build_environment(templates_dir)

    def render(self, template_name: str, **context: Any) -> Message:
        """Render `template_name` (e.g. `help.json.j2`) with `context` into a valid Message."""
        try:
            source = self.environment.get_template(template_name).render(**context)
        except (TemplateError, TypeError, ValueError) as error:
            raise RenderError(template_name, f"{type(error).__name__}: {error}") from error
        text, blocks = _parse_payload(source, template_name)
        fitted = _slack_ready(blocks, template_name)
        return Message(text=truncate_chars(text, LIMITS.fallback_text), blocks=fitted)

    def render_signal(self, signal: Signal) -> Message:
        """The message posted for one signal (`signal.json.j2`)."""
        return self.render("signal.json.j2", signal=signal)
