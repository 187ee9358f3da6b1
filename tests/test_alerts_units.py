"""The pure parts of shaped alerts: the OPTIONS grammar, digest schedules across DST changes,
mute durations, overlap routing and the splitting of long digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.digest_lines import MAX_CHARS, MAX_LINES, DigestLine, grouped, split_into_parts
from bot.alerts.mute_terms import parse_duration, parse_mute
from bot.alerts.options import AlertOptions, parse_subscription, split_options
from bot.alerts.schedule import parse_schedule
from bot.alerts.targets import DIGEST, MUTED, POST, route_signal
from bot.errors import FilterError, OptionError
from bot.filters import parse_filter
from bot.signal import Signal

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")


# --- OPTIONS ------------------------------------------------------------------------------------


def test_options_are_read_anywhere_among_the_filter_terms() -> None:
    signal_filter, options = parse_subscription(
        'digest=weekly@Monday@8:05 ai-advances "a=b" tz=europe/london format=COMPACT'
    )

    assert signal_filter.canonical == "topic:a-b topic:ai-advances"
    assert options.canonical == "digest=weekly@mon@08:05 tz=Europe/London format=compact"
    assert parse_subscription(f"all {options.canonical}")[1] == options


def test_no_options_means_posts_as_they_arrive_in_full() -> None:
    assert parse_subscription("entity:Meta")[1] == AlertOptions()
    assert AlertOptions().describe() == "as they arrive"
    assert split_options('keyword:"x=y" entity:Meta') == ('keyword:"x=y" entity:Meta', [])


@pytest.mark.parametrize(
    ("text", "named", "example"),
    [
        ("all colour=red", "colour=", "digest=daily@08:00"),
        ("all digest=daily@25:00", "25:00", "digest=daily@08:00"),
        ("all digest=daily@7", "`7`", "HH:MM"),
        ("all digest=hourly", "digest=hourly", "digest=weekly@mon@08:00"),
        ("all digest=weekly@fun@08:00", "fun", "mon…sun"),
        ("all digest=weekly@08:00", "weekly@08:00", "weekly@mon@08:00"),
        ("all tz=Mars/Olympus", "Mars/Olympus", "tz=Europe/London"),
        ("all format=tiny", "format=tiny", "format=compact"),
        ("all format=", "format=", "format=compact"),
        ("all format=full format=compact", "format=", "format=compact"),
        ("digest=daily@08:00", "Say which briefs", "subscribe ai-advances digest=daily@08:00"),
    ],
)
def test_bad_options_name_the_word_and_give_an_example(text: str, named: str, example: str) -> None:
    with pytest.raises(OptionError) as raised:
        parse_subscription(text)

    assert named in str(raised.value)
    assert example in str(raised.value)


# --- digest schedules ---------------------------------------------------------------------------


def test_daily_digest_keeps_local_time_across_the_autumn_change() -> None:
    schedule = parse_schedule("daily@08:00")
    assert schedule is not None
    due, seen = datetime(2026, 10, 30, 13, 0, tzinfo=UTC), []
    for _ in range(4):
        due = schedule.next_after(due, NEW_YORK)
        seen.append(due)

    assert [moment.astimezone(NEW_YORK).strftime("%d %H:%M") for moment in seen] == [
        "31 08:00",
        "01 08:00",
        "02 08:00",
        "03 08:00",
    ]
    assert [moment.hour for moment in seen] == [12, 13, 13, 13]  # EDT, then EST


def test_a_time_skipped_by_the_spring_change_still_gives_one_digest_that_day() -> None:
    schedule = parse_schedule("daily@01:30")
    assert schedule is not None

    first = schedule.next_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), LONDON)
    second = schedule.next_after(first, LONDON)
    third = schedule.next_after(second, LONDON)

    assert [moment.astimezone(LONDON).day for moment in (first, second, third)] == [29, 30, 31]
    assert third - second == timedelta(days=1)


def test_a_time_that_happens_twice_gives_one_digest() -> None:
    schedule = parse_schedule("daily@01:30")
    assert schedule is not None

    first = schedule.next_after(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), LONDON)
    second = schedule.next_after(first, LONDON)

    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST, the first one
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_weekly_digest_falls_on_its_day() -> None:
    schedule = parse_schedule("weekly@mon@08:00")
    assert schedule is not None

    due = schedule.next_after(NOW, LONDON)  # Friday 27 Nov

    assert due == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert schedule.next_after(due, LONDON) == due + timedelta(weeks=1)


# --- mutes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)), ("2w", timedelta(weeks=2))],
)
def test_durations(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("entity:Meta for 0h", "0h"),
        ("entity:Meta for 53w", "53w"),
        ("entity:Meta for 2y", "2y"),
        ("entity:Meta until 2026-11-01", "2026-11-01"),
        ("entity:Meta until 2028-01-01", "2028-01-01"),
        ("entity:Meta until 1st-december", "1st-december"),
        ("entity:Meta", "for how long"),
        ("for 1d", "which briefs"),
    ],
)
def test_bad_mutes_name_the_word(text: str, named: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse_mute(text, now=NOW, zone=LONDON)

    assert named in str(raised.value)


def test_mute_until_a_date_ends_at_its_midnight_in_the_persons_zone() -> None:
    request = parse_mute("ai advances until 2026-12-01", now=NOW, zone=NEW_YORK)

    assert request.signal_filter.canonical == "topic:ai-advances"
    assert request.until == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


# --- overlap ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sub:
    id: int
    channel_id: str
    filter: str
    digest: str | None = None
    format: str = "full"


BRIEF = Signal(
    title="Muse Spark", published=NOW, key="k", entity="Meta", topic="AI Advances", source="s"
)


def route(
    *subscriptions: Sub, mutes: dict[str, list[str]] | None = None
) -> list[tuple[str, int, str, str]]:
    muted = {
        channel: [parse_filter(text) for text in texts] for channel, texts in (mutes or {}).items()
    }
    return [
        (target.channel_id, target.subscription_id, target.state, target.format)
        for target in route_signal(BRIEF, subscriptions, muted, parse_filter)
    ]


def test_a_brief_matching_two_subscriptions_of_a_channel_goes_once_by_the_most_immediate() -> None:
    digest = Sub(1, "C1", "all", digest="daily@08:00")
    compact = Sub(2, "C1", "entity:Meta", format="compact")
    full = Sub(3, "C1", "ai-advances")
    weekly = Sub(4, "C2", "all", digest="weekly@mon@08:00")
    daily = Sub(5, "C2", "entity:Meta", digest="daily@09:00")
    elsewhere = Sub(6, "C3", "entity:OpenAI")

    assert route(digest, compact, full, weekly, daily, elsewhere) == [
        ("C1", 3, POST, "full"),
        ("C2", 5, DIGEST, "full"),
    ]
    assert route(digest, compact) == [("C1", 2, POST, "compact")]


def test_a_muted_channel_records_the_brief_as_muted() -> None:
    targets = route(
        Sub(1, "C1", "all"),
        Sub(2, "U1", "all", digest="daily@08:00"),
        Sub(3, "C2", "all"),
        mutes={"C1": ["entity:meta"], "U1": ["topic:ai-advances"], "C2": ["entity:openai"]},
    )

    assert targets == [("C1", 1, MUTED, "full"), ("U1", 2, MUTED, "full"), ("C2", 3, POST, "full")]


# --- digest splitting ---------------------------------------------------------------------------


def line(number: int, topic: str, title: str = "") -> DigestLine:
    return DigestLine(
        f"id{number:04}",
        title or f"Brief {number}",
        "Meta",
        "RELEASE",
        topic,
        NOW + timedelta(minutes=number),
    )


def test_lines_group_by_topic_oldest_first() -> None:
    lines = [line(3, "Security"), line(1, "AI Advances"), line(2, ""), line(0, "Security")]

    groups = grouped(lines)

    assert [(group.topic, [item.signal_id for item in group.lines]) for group in groups] == [
        ("AI Advances", ["id0001"]),
        ("Security", ["id0000", "id0003"]),
        ("Other briefs", ["id0002"]),
    ]


def test_a_long_period_is_split_into_parts_never_cut() -> None:
    lines = [line(number, f"Topic {number % 7}", "T" * 250) for number in range(300)]

    parts = split_into_parts(lines)

    assert len(parts) > 1
    assert sorted(item.signal_id for part in parts for item in part) == sorted(
        item.signal_id for item in lines
    )
    for part in parts:
        assert len(part) + len({item.topic for item in part}) <= MAX_LINES
        assert sum(item.cost for item in part) <= MAX_CHARS
