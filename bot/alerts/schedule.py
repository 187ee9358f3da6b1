"""Digest schedules: `daily@08:00` or `weekly@mon@08:00` in an IANA zone, DST-correct."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import OptionError

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS = tuple(name[:3] for name in DAY_NAMES)
DIGEST_EXAMPLE = "`digest=daily@08:00` or `digest=weekly@mon@08:00`"
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a digest is due: every day, or one weekday (0 = Monday), at a local wall time."""

    at: time
    weekday: int | None = None

    @property
    def canonical(self) -> str:
        clock = self.at.strftime("%H:%M")
        return (
            f"daily@{clock}" if self.weekday is None else f"weekly@{WEEKDAYS[self.weekday]}@{clock}"
        )

    def describe(self) -> str:
        clock = self.at.strftime("%H:%M")
        if self.weekday is None:
            return f"a daily digest at {clock}"
        return f"a weekly digest on {WEEKDAYS[self.weekday].capitalize()} at {clock}"

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first due instant strictly after `moment`, in UTC.

        Wall times are read in `zone`: a time skipped by a DST change falls just after the gap,
        and a time that occurs twice is taken the first time, so each day has exactly one.
        """
        local_day = moment.astimezone(zone).date()
        for offset in range(0, 9):
            day = local_day + timedelta(days=offset)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            due = datetime.combine(day, self.at, tzinfo=zone).astimezone(UTC)
            if due > moment:
                return due
        raise AssertionError("a weekly schedule always falls within 8 days")


def parse_schedule(value: str) -> DigestSchedule | None:
    """`off` -> None; `daily@HH:MM`; `weekly@DAY@HH:MM`; else OptionError naming the word."""
    word = value.strip().lower()
    if word == "off":
        return None
    kind, _, rest = word.partition("@")
    if kind == "daily" and rest:
        return DigestSchedule(_parse_time(rest, value))
    if kind == "weekly":
        day, _, clock = rest.partition("@")
        if not day or not clock:
            raise OptionError(
                f"`digest={value}` needs a day and a time: `weekly@DAY@HH:MM` with DAY one of "
                "mon…sun, e.g. `digest=weekly@mon@08:00`."
            )
        return DigestSchedule(_parse_time(clock, value), _parse_weekday(day))
    raise OptionError(f"`digest={value}` is not a schedule: use `off`, {DIGEST_EXAMPLE}.")


def _parse_weekday(day: str) -> int:
    for index, name in enumerate(DAY_NAMES):
        if day in (name, name[:3]):
            return index
    raise OptionError(f"`{day}` is not a day of the week: use mon…sun, e.g. {DIGEST_EXAMPLE}.")


def _parse_time(text: str, whole: str) -> time:
    matched = _TIME.fullmatch(text)
    hour, minute = (int(matched.group(1)), int(matched.group(2))) if matched else (99, 99)
    if hour > 23 or minute > 59:
        raise OptionError(
            f"`{text}` (in `digest={whole}`) is not a time of day: use 24-hour HH:MM, "
            f"e.g. {DIGEST_EXAMPLE}."
        )
    return time(hour, minute)
