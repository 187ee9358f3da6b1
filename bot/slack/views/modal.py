"""The subscribe modal's view: pickers for topics, entities and categories, a keyword, and how
many recent briefs the choices would have matched. A pure function of what to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.slack.views import checked_view, mrkdwn_text, plain_text
from bot.slack.views.modal_options import delivery_inputs
from bot.slack.views.modal_state import (
    CALLBACK_ID,
    CHANNEL_ACTION,
    CHANNEL_BLOCK,
    FIELD_LABELS,
    KEYWORD_ACTION,
    KEYWORD_BLOCK,
    KEYWORD_LENGTH,
    MAX_STATIC_OPTIONS,
    OPTION_TEXT,
    OPTION_VALUE,
    Choices,
    ModalTarget,
    Picker,
    pick_action,
)
from bot.store.facets import Facet
from bot.store.overview import is_personal


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
    blocks += delivery_inputs(choices.delivery)
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
