"""The subscription OPTIONS grammar: `name=value` words after (or among) the FILTER terms.

    subscribe ai-advances digest=daily@08:00 tz=Europe/London format=compact

| option | values | default |
|---|---|---|
| digest | off, daily@HH:MM, weekly@DAY@HH:MM | off |
| tz | an IANA zone | the subscriber's zone (users.info), else UTC |
| format | full, compact | full |

FILTER terms use `:`, options use `=`, so a word is an option when it starts with `name=`
outside double quotes. Every mistake raises OptionError naming the word, with an example.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.alerts.schedule import DigestSchedule, parse_schedule
from bot.errors import OptionError
from bot.filter_terms import DOUBLE_QUOTES
from bot.filters import SignalFilter, parse_filter

FORMATS = ("full", "compact")
OPTION_NAMES = ("digest", "tz", "format")
OPTION_EXAMPLES = {
    "digest": "`digest=daily@08:00`",
    "tz": "`tz=Europe/London`",
    "format": "`format=compact`",
}
_OPTION_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(.*)", re.DOTALL)
EMPTY_FILTER_WITH_OPTIONS = (
    "Say which briefs before the options, e.g. `subscribe ai-advances digest=daily@08:00` "
    "(or `subscribe all format=compact` for every brief)."
)


@dataclass(frozen=True, slots=True)
class AlertOptions:
    """How a subscription's briefs arrive: at once or in a digest, full or compact."""

    digest: DigestSchedule | None = None
    tz: str | None = None  # IANA name; None until the subscribe path settles it
    format: str = "full"

    @property
    def canonical(self) -> str:
        """The options as they would be typed, defaults left out; parses back equal."""
        words = []
        if self.digest is not None:
            words.append(f"digest={self.digest.canonical}")
        if self.tz and self.digest is not None:
            words.append(f"tz={self.tz}")
        if self.format != "full":
            words.append(f"format={self.format}")
        return " ".join(words)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz or "UTC")

    @property
    def immediate(self) -> bool:
        return self.digest is None

    def describe(self) -> str:
        """`as they arrive` / `in a daily digest at 08:00 (Europe/London)`, plus the format."""
        when = (
            "as they arrive"
            if self.digest is None
            else f"in {self.digest.describe()} ({self.tz or 'UTC'})"
        )
        return f"{when}, compact (analysis in a thread)" if self.format == "compact" else when

    def with_zone(self, tz: str | None) -> AlertOptions:
        return self if self.tz or tz is None else replace(self, tz=tz)


def split_options(text: str) -> tuple[str, list[str]]:
    """(the FILTER text, the option words), options recognised outside double quotes."""
    kept: list[str] = []
    options: list[str] = []
    for word, quoted in _words(text):
        (options if not quoted and _OPTION_WORD.fullmatch(word) else kept).append(word)
    return " ".join(kept), options


def parse_options(words: Sequence[str]) -> AlertOptions:
    """The options from `name=value` words; OptionError on anything unknown or malformed."""
    given: dict[str, str] = {}
    for word in words:
        matched = _OPTION_WORD.fullmatch(word)
        if matched is None:
            raise OptionError(
                f"`{word}` is not an option: write `name=value`, e.g. `digest=daily@08:00`."
            )
        name, value = matched.group(1).lower(), matched.group(2).strip()
        if name not in OPTION_NAMES:
            known = ", ".join(OPTION_EXAMPLES.values())
            raise OptionError(f"I don't know the option `{name}=`. The options are {known}.")
        if name in given:
            raise OptionError(f"`{name}=` is given twice; keep one, e.g. {OPTION_EXAMPLES[name]}.")
        if not value:
            raise OptionError(f"`{name}=` needs a value, e.g. {OPTION_EXAMPLES[name]}.")
        given[name] = value
    schedule = parse_schedule(given["digest"]) if "digest" in given else None
    tz = parse_zone(given["tz"]) if "tz" in given else None
    return AlertOptions(digest=schedule, tz=tz, format=parse_format(given.get("format", "full")))


def parse_subscription(text: str) -> tuple[SignalFilter, AlertOptions]:
    """`FILTER [OPTION…]` as typed after `subscribe`."""
    filter_text, option_words = split_options(text)
    options = parse_options(option_words)
    if not filter_text.strip() and option_words:
        raise OptionError(EMPTY_FILTER_WITH_OPTIONS)
    return parse_filter(filter_text), options


def parse_zone(name: str) -> str:
    """An IANA zone name as Python knows it (case-insensitive), or OptionError."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    if known := _zones_by_folded_name().get(name.casefold()):
        return known
    raise OptionError(
        f"`{name}` is not a time zone I know: use an IANA name, e.g. `tz=Europe/London` "
        "or `tz=America/New_York`."
    )


def parse_format(value: str) -> str:
    word = value.strip().lower()
    if word not in FORMATS:
        raise OptionError(
            f"`format={value}` is not a format: use `format=full` or `format=compact`."
        )
    return word


def is_known_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        parse_zone(name)
    except OptionError:
        return False
    return True


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def _words(text: str) -> list[tuple[str, bool]]:
    """Whitespace-separated words; a double-quoted stretch stays inside its word."""
    words: list[tuple[str, bool]] = []
    current: list[str] = []
    quoted = in_quotes = False
    for char in text:
        if char in DOUBLE_QUOTES:
            in_quotes, quoted = not in_quotes, True
        if char.isspace() and not in_quotes:
            if current:
                words.append(("".join(current), quoted))
            current, quoted = [], False
            continue
        current.append(char)
    if current:
        words.append(("".join(current), quoted))
    return words
