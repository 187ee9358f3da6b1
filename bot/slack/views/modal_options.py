"""The subscribe modal's delivery options (issue 9's `digest=`, `tz=`, `format=`): their fields,
reading them back, and the option words a person would type after the FILTER."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.alerts.options import AlertOptions
from bot.alerts.schedule import WEEKDAYS
from bot.slack.views import plain_text

DIGEST_BLOCK, TIME_BLOCK, TZ_BLOCK, FORMAT_BLOCK = "digest", "digest_time", "tz", "format"
DIGEST_ACTION, TIME_ACTION = "modal_digest", "modal_digest_time"
TZ_ACTION, FORMAT_ACTION = "modal_tz", "modal_format"
OPTION_BLOCKS = (DIGEST_BLOCK, TIME_BLOCK, TZ_BLOCK, FORMAT_BLOCK)
DEFAULT_TIME = "08:00"
DIGESTS = {
    "off": "Each brief as it arrives",
    "daily": "A daily digest",
    **{f"weekly@{day}": f"A weekly digest on {day.capitalize()}" for day in WEEKDAYS},
}
FORMATS = {"full": "Full: the whole brief", "compact": "Compact: analysis in a thread"}


@dataclass(frozen=True, slots=True)
class DeliveryChoice:
    """The options as the form holds them."""

    digest: str = "off"  # a key of DIGESTS
    time: str = DEFAULT_TIME  # HH:MM
    tz: str = ""
    format: str = "full"

    def words(self) -> str:
        """`digest=daily@08:00 tz=Europe/London format=compact`, defaults left out."""
        words = []
        if self.digest != "off":
            words.append(f"digest={self.digest}@{self.time or DEFAULT_TIME}")
            if self.tz.strip():
                words.append(f"tz={self.tz.strip()}")
        if self.format != "full":
            words.append(f"format={self.format}")
        return " ".join(words)

    @classmethod
    def of(cls, options: AlertOptions) -> DeliveryChoice:
        """An existing subscription's options, for the form to edit."""
        if options.digest is None:
            return cls(format=options.format)
        kind, _, clock = options.digest.canonical.rpartition("@")
        return cls(digest=kind, time=clock, tz=options.tz or "", format=options.format)


def delivery_from_state(values: Mapping[str, Any]) -> DeliveryChoice:
    digest = _selected(values, DIGEST_BLOCK, DIGEST_ACTION)
    fmt = _selected(values, FORMAT_BLOCK, FORMAT_ACTION)
    time = str(_element(values, TIME_BLOCK, TIME_ACTION).get("selected_time") or DEFAULT_TIME)
    tz = str(_element(values, TZ_BLOCK, TZ_ACTION).get("value") or "")
    return DeliveryChoice(
        digest=digest if digest in DIGESTS else "off",
        time=time,
        tz=tz.strip(),
        format=fmt if fmt in FORMATS else "full",
    )


def option_block_for(error: str) -> str | None:
    """Which option field an error from the options grammar is about, if any."""
    lowered = error.lower()
    for word, block in (("tz=", TZ_BLOCK), ("zone", TZ_BLOCK), ("digest", DIGEST_BLOCK)):
        if word in lowered:
            return block
    return FORMAT_BLOCK if "format" in lowered else None


def delivery_inputs(choice: DeliveryChoice) -> list[dict[str, Any]]:
    return [
        _input(
            DIGEST_BLOCK,
            "Delivery",
            _select(DIGEST_ACTION, DIGESTS, choice.digest),
            "A digest lists every matching brief of the period in one message.",
        ),
        _input(
            TIME_BLOCK,
            "Digest time",
            {"type": "timepicker", "action_id": TIME_ACTION, "initial_time": choice.time},
        ),
        _input(
            TZ_BLOCK,
            "Time zone",
            {
                "type": "plain_text_input",
                "action_id": TZ_ACTION,
                "max_length": 64,
                "placeholder": plain_text("e.g. Europe/London", 150),
                **({"initial_value": choice.tz} if choice.tz else {}),
            },
            "Of the digest time; empty: your time zone in Slack.",
        ),
        _input(FORMAT_BLOCK, "Format", _radio(FORMAT_ACTION, FORMATS, choice.format)),
    ]


def _input(block_id: str, label: str, element: dict[str, Any], hint: str = "") -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": plain_text(label, 2000),
        "element": element,
    }
    if hint:
        block["hint"] = plain_text(hint, 2000)
    return block


def _options(choices: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"text": plain_text(text, 75), "value": value} for value, text in choices.items()]


def _select(action_id: str, choices: Mapping[str, str], chosen: str) -> dict[str, Any]:
    options = _options(choices)
    initial = next(option for option in options if option["value"] == chosen)
    return {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "initial_option": initial,
    }


def _radio(action_id: str, choices: Mapping[str, str], chosen: str) -> dict[str, Any]:
    options = _options(choices)
    initial = next(option for option in options if option["value"] == chosen)
    return {
        "type": "radio_buttons",
        "action_id": action_id,
        "options": options,
        "initial_option": initial,
    }


def _selected(values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    chosen = _element(values, block_id, action_id).get("selected_option")
    return str(chosen.get("value", "")) if isinstance(chosen, Mapping) else ""


def _element(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    element = block.get(action_id) if isinstance(block, Mapping) else None
    return element if isinstance(element, Mapping) else {}
