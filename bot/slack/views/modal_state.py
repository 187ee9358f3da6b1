"""What the subscribe modal holds: where it posts, what is picked, and reading it back.

`choices_from_state` reads a submitted or changed view; `filter_text` turns the choices into the
FILTER a person would type, so the modal goes through the very same `subscribe` as a command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import FilterError
from bot.filters import SignalFilter, fold
from bot.slack.views.modal_options import DeliveryChoice, delivery_from_state
from bot.store.facets import Facet

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
    delivery: DeliveryChoice = field(default_factory=DeliveryChoice)

    @property
    def empty(self) -> bool:
        return not self.keyword.strip() and not any(self.picked.values())


@dataclass(frozen=True, slots=True)
class Picker:
    """A field's options: listed in the view (at most 100), or looked up as the person types."""

    field: str
    options: Sequence[Facet] = ()
    external: bool = False


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
    return Choices(
        picked=picked,
        keyword=keyword.strip(),
        channel_id=channel,
        delivery=delivery_from_state(values),
    )


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


def subscription_text(choices: Choices, kept: str = "") -> str:
    """What a person would type after `subscribe`: the FILTER, then the option words."""
    return " ".join(part for part in (filter_text(choices, kept), choices.delivery.words()) if part)


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
