"""The subscribe modal: pickers for topics, entities and categories, a keyword, and a preview.

`subscribe_modal` is a pure function of what to show; `choices_from_state` reads a submitted or
changed view back; `filter_text` turns the choices into the FILTER a person would type, so that
the modal goes through the very same `subscribe` as a typed command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import FilterError
from bot.filters import SignalFilter, fold
from bot.slack.views import checked_view, mrkdwn_text, plain_text
from bot.store.facets import Facet
from bot.store.overview import is_personal

CALLBACK_ID = "subscribe_modal"
PICKED_FIELDS = ("topic", "entity", "category")
FIELD_LABELS = {"topic": "Topics", "entity": "Entities", "category": "Categories"}
KEYWORD_BLOCK = "keyword"
CHANNEL_BLOCK = "channel"
MAX_STATIC_OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
KEYWORD_LENGTH = 200


def pick_action(field_name: str) -> str:
    return f"modal_pick_{field_name}"


KEYWORD_ACTION = "modal_keyword"
CHANNEL_ACTION = "modal_channel"


@dataclass(frozen=True, slots=True)
class ModalTarget:
    """Where the subscription goes, and which one is edited; travels in private_metadata."""

    channel_id: str = ""  # empty when opened from the App Home: the form asks for a channel
    channel_name: str = ""
    subscription_id: int | None = None
    kept: str = ""  # terms of an edited FILTER that the form cannot show (excludes, sources)

    def metadata(self) -> str:
        return json.dumps(
            {
                "c": self.channel_id,
                "n": self.channel_name,
                "s": self.subscription_id,
                "k": self.kept,
            }
        )

    @classmethod
    def from_metadata(cls, text: str) -> ModalTarget:
        try:
            data = json.loads(text or "{}")
            subscription_id = data.get("s")
            return cls(
                channel_id=str(data.get("c") or ""),
                channel_name=str(data.get("n") or ""),
                subscription_id=int(subscription_id) if subscription_id is not None else None,
                kept=str(data.get("k") or ""),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True, slots=True)
class Choices:
    """What the person has picked so far: slugs per field, and a keyword."""

    picked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keyword: str = ""
    channel_id: str = ""

    @property
    def empty(self) -> bool:
        return not self.keyword.strip() and not any(self.picked.values())


@dataclass(frozen=True, slots=True)
class Picker:
    """A field's options: listed in the view (at most 100), or looked up as the person types."""

    field: str
    options: Sequence[Facet] = ()
    external: bool = False


def subscribe_modal(
    target: ModalTarget,
    pickers: Sequence[Picker],
    choices: Choices,
    labels: Mapping[tuple[str, str], str],
    preview: int | None,
    *,
    days: int,
) -> dict[str, Any]:
    """The modal's view; `labels` names picked slugs, `preview` is None until something is."""
    editing = target.subscription_id is not None
    blocks: list[dict[str, Any]] = [_intro(target)]
    if not target.channel_id:
        blocks.append(_channel_input(choices.channel_id))
    blocks += [_picker_input(picker, choices, labels) for picker in pickers]
    blocks.append(_keyword_input(choices.keyword))
    if target.kept:
        kept = f"Also kept from the current filter: `{_escaped(target.kept)}`"
        blocks.append({"type": "context", "elements": [mrkdwn_text(kept)]})
    blocks.append(preview_block(preview, days))
    return checked_view(
        {
            "type": "modal",
            "callback_id": CALLBACK_ID,
            "title": plain_text("Edit subscription" if editing else "Subscribe", 24),
            "submit": plain_text("Save" if editing else "Subscribe", 24),
            "close": plain_text("Cancel", 24),
            "private_metadata": target.metadata(),
            "blocks": blocks,
        }
    )


def preview_block(preview: int | None, days: int) -> dict[str, Any]:
    if preview is None:
        text = (
            "Pick topics, entities or categories, or type a keyword, to see how many briefs "
            f"of the last {days} days would have matched."
        )
    else:
        noun = "brief" if preview == 1 else "briefs"
        text = f":mag: *{preview:,} {noun}* of the last {days} days would have matched."
    return {"type": "context", "block_id": "preview", "elements": [mrkdwn_text(text)]}


def option(facet: Facet) -> dict[str, Any]:
    """A picker option: the value's label and recent count; its value is the slug."""
    count = f" · {facet.count:,}" if facet.count else ""
    shown = facet.label[: OPTION_TEXT - len(count)]
    return {"text": plain_text(shown + count, OPTION_TEXT), "value": facet.slug}


def usable(facet: Facet) -> bool:
    """Slack refuses option values over 150 characters: such a value cannot be offered."""
    return 0 < len(facet.slug) <= OPTION_VALUE


def choices_from_state(values: Mapping[str, Any]) -> Choices:
    """A view's `state.values` (submitted or changed) as Choices; junk reads as nothing."""
    picked = {
        name: tuple(
            str(chosen.get("value", ""))
            for chosen in _element(values, name, pick_action(name)).get("selected_options") or []
            if chosen.get("value")
        )
        for name in PICKED_FIELDS
    }
    keyword = str(_element(values, KEYWORD_BLOCK, KEYWORD_ACTION).get("value") or "")
    channel = str(
        _element(values, CHANNEL_BLOCK, CHANNEL_ACTION).get("selected_conversation") or ""
    )
    return Choices(picked=picked, keyword=keyword.strip(), channel_id=channel)


def filter_text(choices: Choices, kept: str = "") -> str:
    """The FILTER a person would type for these choices (FilterError names a bad keyword)."""
    keyword = fold(choices.keyword)
    if any(mark in choices.keyword for mark in '"“”„‟'):
        raise FilterError("Leave out double quotes: the keyword is matched as one phrase.")
    include = {name: frozenset(values) for name, values in choices.picked.items() if values}
    if keyword:
        include["keyword"] = frozenset({keyword})
    picked = SignalFilter(include=include).canonical if include else ""
    return " ".join(part for part in (picked, kept) if part)


def choices_of_filter(signal_filter: SignalFilter) -> tuple[Choices, str]:
    """An existing subscription's FILTER as the form's choices, and the terms it cannot show."""
    picked = {name: tuple(sorted(signal_filter.include.get(name, ()))) for name in PICKED_FIELDS}
    keywords = sorted(signal_filter.include.get("keyword", ()))
    kept_include = {
        name: values
        for name, values in signal_filter.include.items()
        if name not in PICKED_FIELDS and (name != "keyword" or len(keywords) > 1)
    }
    keyword = keywords[0] if len(keywords) == 1 else ""
    kept_filter = SignalFilter(include=kept_include, exclude=signal_filter.exclude)
    kept = "" if kept_filter.is_everything else kept_filter.canonical.removeprefix("all ")
    return Choices(picked=picked, keyword=keyword), kept


def _element(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    element = block.get(action_id) if isinstance(block, Mapping) else None
    return element if isinstance(element, Mapping) else {}


def _intro(target: ModalTarget) -> dict[str, Any]:
    where = (
        f"#{_escaped(target.channel_name)}"
        if target.channel_name
        else (f"<#{target.channel_id}>" if target.channel_id else "a channel")
    )
    if target.subscription_id is not None:
        text = f"Change what subscription #{target.subscription_id} posts in {where}."
    elif is_personal(target.channel_id):
        text = "New briefs that match will come to you here, by direct message."
    else:
        text = (
            f"New briefs that match will be posted in {where}. "
            "Pick any mix; leave a field empty for any value."
        )
    return {"type": "section", "text": mrkdwn_text(text)}


def _channel_input(channel_id: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": CHANNEL_ACTION,
        "placeholder": plain_text("Choose a channel", 150),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if channel_id:
        element["initial_conversation"] = channel_id
    return {
        "type": "input",
        "block_id": CHANNEL_BLOCK,
        "label": plain_text("Post in", 2000),
        "element": element,
    }


def _picker_input(
    picker: Picker, choices: Choices, labels: Mapping[tuple[str, str], str]
) -> dict[str, Any]:
    chosen = [
        option(Facet(picker.field, slug, labels.get((picker.field, slug), slug), 0))
        for slug in choices.picked.get(picker.field, ())
    ]
    element: dict[str, Any] = {
        "action_id": pick_action(picker.field),
        "placeholder": plain_text(f"Any {FIELD_LABELS[picker.field].lower()}", 150),
    }
    if picker.external:
        element |= {"type": "multi_external_select", "min_query_length": 0}
    else:
        listed = [option(facet) for facet in picker.options if usable(facet)]
        element |= {"type": "multi_static_select", "options": listed[:MAX_STATIC_OPTIONS]}
        by_value = {listed_option["value"]: listed_option for listed_option in listed}
        picked = choices.picked.get(picker.field, ())
        chosen = [by_value[slug] for slug in picked if slug in by_value]
    if chosen:
        element["initial_options"] = chosen
    hint = "Most frequent first; type to find more." if picker.external else "Most frequent first."
    return {
        "type": "input",
        "block_id": picker.field,
        "optional": True,
        "dispatch_action": True,
        "label": plain_text(FIELD_LABELS[picker.field], 2000),
        "hint": plain_text(hint, 2000),
        "element": element,
    }


def _keyword_input(keyword: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": KEYWORD_ACTION,
        "max_length": KEYWORD_LENGTH,
        "placeholder": plain_text("e.g. muse spark", 150),
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    if keyword:
        element["initial_value"] = keyword[:KEYWORD_LENGTH]
    return {
        "type": "input",
        "block_id": KEYWORD_BLOCK,
        "optional": True,
        "dispatch_action": True,
        "label": plain_text("Keyword", 2000),
        "hint": plain_text(
            "A word or phrase the brief mentions. Press Enter to update the count.", 2000
        ),
        "element": element,
    }


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
