"""Block Kit messages from Jinja2 templates: parse, fit to Slack's limits, validate.

A template produces JSON: `{"text": ..., "blocks": [...]}`, and for content that may continue
in a thread also `"thread": [...]` (blocks that can move to threaded replies), `"controls":
[...]` (blocks that end the post) and `"thread_text"` (the replies' notification text).
`render` makes one message of it, `render_parts` the post and its threaded replies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.errors import ConfigError, SignalBotError
from bot.render.block_elements import with_parsed_elements
from bot.render.escape import FILTERS, truncate_chars
from bot.render.limits import (
    LIMITS,
    MESSAGE,
    Blocks,
    Surface,
    fit_blocks,
    fit_to_slack,
    split_into_parts,
    text_length,
    with_unique_ids,
)
from bot.signal import Signal

BriefFormat = Literal["full", "compact"]
BRIEF_FORMATS: tuple[str, ...] = get_args(BriefFormat)


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
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}

    @property
    def size(self) -> str:
        """How big it is, for logs: blocks and characters of block text."""
        return f"{len(self.blocks)} blocks, {text_length(self.blocks)} characters of block text"


@dataclass(frozen=True, slots=True)
class _Payload:
    text: str
    blocks: Blocks
    thread: Blocks = field(default_factory=list)
    controls: Blocks = field(default_factory=list)
    thread_text: str | None = None

    @property
    def all_blocks(self) -> Blocks:
        return [*self.blocks, *self.thread, *self.controls]


def bundled_templates_dir() -> Path:
    """The templates shipped with signal-bot: inside the wheel, else the repository's folder."""
    package = Path(__file__).parent.parent
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


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
        # Each template is read and compiled once per process: no stat() of its file on every
        # message (a changed TEMPLATES_DIR file is read at the next start).
        auto_reload=False,
    )
    environment.filters.update(FILTERS)
    return environment


def _block_list(payload: dict[str, Any], key: str, template_name: str) -> Blocks:
    blocks = payload.get(key, [])
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise RenderError(template_name, f'"{key}" must be a list of objects')
    return blocks


def _parse_payload(source: str, template_name: str) -> _Payload:
    """What a template produced, or a RenderError saying what is wrong."""
    try:
        payload = json.loads(source)
    except json.JSONDecodeError as error:
        line = source.splitlines()[error.lineno - 1] if source.strip() else ""
        excerpt = line[max(0, error.colno - 60) : error.colno + 20].strip()
        reason = f"output is not valid JSON: {error.msg} at line {error.lineno}: {excerpt!r}"
        raise RenderError(template_name, reason) from error
    if not isinstance(payload, dict):
        raise RenderError(template_name, "output must be a JSON object with text and blocks")
    text, thread_text = payload.get("text"), payload.get("thread_text")
    if not isinstance(text, str):
        raise RenderError(template_name, '"text" must be a string')
    if "blocks" not in payload:
        raise RenderError(template_name, '"blocks" must be a list of objects')
    if thread_text is not None and not isinstance(thread_text, str):
        raise RenderError(template_name, '"thread_text" must be a string')
    return _Payload(
        text,
        blocks=_block_list(payload, "blocks", template_name),
        thread=_block_list(payload, "thread", template_name),
        controls=_block_list(payload, "controls", template_name),
        thread_text=thread_text,
    )


def _validate(blocks: Blocks, template_name: str) -> None:
    """Raise RenderError for the first block slack_sdk or Slack would refuse."""
    for index, raw in enumerate(blocks):
        where = f"block {index} ({raw.get('type')!r})"
        if raw.get("type") == "header" and raw["text"].get("type") != "plain_text":
            raise RenderError(template_name, f"{where}: a header's text must be plain_text")
        block = Block.parse(with_parsed_elements(raw))
        if block is None:
            raise RenderError(template_name, f"{where}: unknown block type")
        try:
            block.validate_json()
        except SlackObjectFormationError as error:
            raise RenderError(template_name, f"{where}: {error}") from error


def _checked(template_name: str, fit: Callable[[], list[Blocks]]) -> list[Blocks]:
    """The parts `fit` makes, each block validated; malformed blocks name the template."""
    try:
        parts = fit()
        for part in parts:
            _validate(part, template_name)
    except (AttributeError, KeyError, TypeError) as error:
        raise RenderError(template_name, f"malformed block: {error!r}") from error
    return parts


def _split(payload: _Payload, *, compact: bool) -> list[Blocks]:
    """Each list of the payload fitted block by block, ids unique, then split into parts."""
    head, thread, controls = (
        fit_blocks(blocks) for blocks in (payload.blocks, payload.thread, payload.controls)
    )
    unique = with_unique_ids([*head, *thread, *controls])
    ends = len(head), len(head) + len(thread)
    return split_into_parts(
        unique[: ends[0]], unique[ends[0] : ends[1]], unique[ends[1] :], compact=compact
    )


def _fallback_text(text: str) -> str:
    return truncate_chars(text, LIMITS.fallback_text)


class Renderer:
    """Renders the Block Kit templates into messages Slack accepts."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.environment = build_environment(templates_dir)

    def render(self, template_name: str, *, surface: Surface = MESSAGE, **context: Any) -> Message:
        """Render `template_name` (e.g. `help.json.j2`) into one valid message (or view's
        blocks): what does not fit the surface is left out, with a note saying so."""
        payload = self._payload(template_name, context)
        (blocks,) = _checked(template_name, lambda: [fit_to_slack(payload.all_blocks, surface)])
        return Message(text=_fallback_text(payload.text), blocks=blocks)

    def render_parts(
        self, template_name: str, *, compact: bool = False, **context: Any
    ) -> list[Message]:
        """The post and its threaded continuations, each a valid message within the budget.

        Nothing is left out: what does not fit the post continues in the replies, in order.
        """
        payload = self._payload(template_name, {**context, "compact": compact})
        parts = _checked(template_name, lambda: _split(payload, compact=compact))
        return _as_messages(payload, parts)

    def render_brief(self, signal: Signal, brief_format: str = "full") -> list[Message]:
        """A brief as posted: the post, then its threaded continuations (`signal.json.j2`).

        `full`: the sections follow the lede in the post as far as they fit; `compact`: the post
        holds title, provenance, lede and controls, and every section goes in the thread.
        """
        if brief_format not in BRIEF_FORMATS:
            raise RenderError("signal.json.j2", f"unknown format {brief_format!r}")
        compact = brief_format == "compact"
        return self.render_parts("signal.json.j2", compact=compact, signal=signal)

    def render_signal(self, signal: Signal) -> Message:
        """The post of a brief (its first part): `render_brief` gives every part."""
        return self.render_brief(signal)[0]

    def render_fallback(self, signal: Signal) -> Message:
        """The minimal message sent when Slack refused a brief's rendering."""
        return self.render("signal_fallback.json.j2", signal=signal)

    def _payload(self, template_name: str, context: dict[str, Any]) -> _Payload:
        try:
            source = self.environment.get_template(template_name).render(**context)
        except (TemplateError, TypeError, ValueError) as error:
            raise RenderError(template_name, f"{type(error).__name__}: {error}") from error
        return _parse_payload(source, template_name)


def _as_messages(payload: _Payload, parts: list[Blocks]) -> list[Message]:
    post_text = _fallback_text(payload.text)
    thread_text = payload.thread_text or payload.text
    total = len(parts)
    replies = [
        Message(_fallback_text(f"{thread_text} (continued, {number}/{total})"), blocks)
        for number, blocks in enumerate(parts[1:], start=2)
    ]
    return [Message(post_text, parts[0]), *replies]
