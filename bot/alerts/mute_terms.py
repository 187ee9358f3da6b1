"""What `mute FILTER for DURATION` and `mute FILTER until YYYY-MM-DD` ask for (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import OptionError
from bot.filters import SignalFilter, parse_filter

MAX_MUTE = timedelta(days=366)
DURATION_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
MUTE_EXAMPLE = "`mute entity:Meta for 6h` or `mute ai-advances until 2026-12-01`"
_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_TAIL = re.compile(r"\s+(for|until)\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MuteRequest:
    signal_filter: SignalFilter
    until: datetime  # UTC


def parse_mute(text: str, *, now: datetime, zone: ZoneInfo) -> MuteRequest:
    """`FILTER for 30m|6h|1d|2w` or `FILTER until YYYY-MM-DD` (midnight in `zone`)."""
    tail = _TAIL.search(" " + text)
    if tail is None:
        raise OptionError(f"Say for how long: {MUTE_EXAMPLE}.")
    filter_text = (" " + text)[: tail.start()].strip()
    if not filter_text:
        raise OptionError(f"Say which briefs to mute: {MUTE_EXAMPLE}.")
    keyword, value = tail.group(1).lower(), tail.group(2)
    until = now + parse_duration(value) if keyword == "for" else _until_date(value, now, zone)
    return MuteRequest(parse_filter(filter_text), until)


def parse_duration(value: str) -> timedelta:
    """`30m`, `6h`, `1d`, `2w`: more than nothing and at most a year."""
    matched = _DURATION.fullmatch(value.strip().lower())
    if matched is None:
        raise OptionError(
            f"`{value}` is not a duration: use a number and m, h, d or w, e.g. `for 30m`, "
            "`for 6h`, `for 1d`, `for 2w`."
        )
    length = int(matched.group(1)) * DURATION_UNITS[matched.group(2)]
    if length <= timedelta(0):
        raise OptionError(f"`{value}` mutes for no time at all: use e.g. `for 1h` or `for 1d`.")
    if length > MAX_MUTE:
        raise OptionError(
            f"`{value}` is longer than a year: mute for at most a year, e.g. `for 52w`."
        )
    return length


def _until_date(value: str, now: datetime, zone: ZoneInfo) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise OptionError(
            f"`{value}` is not a date: use YYYY-MM-DD, e.g. `until 2026-12-01`."
        ) from None
    until = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    if until <= now:
        raise OptionError(
            f"`{value}` has already begun: give a later date, e.g. `until {_tomorrow(now, zone)}`."
        )
    if until - now > MAX_MUTE:
        raise OptionError(f"`{value}` is more than a year away: mute for at most a year.")
    return until


def _tomorrow(now: datetime, zone: ZoneInfo) -> str:
    return (now.astimezone(zone).date() + timedelta(days=1)).isoformat()
