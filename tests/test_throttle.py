"""Each workspace's rate: AIMD under the configured cap, per team, and the settings behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import run_cli

from bot.app import limits_from
from bot.config import Settings
from bot.deliver.outcome import DeliveryLimits
from bot.deliver.pacing import Pace
from bot.deliver.settle import rate_limit_explained
from bot.deliver.throttle import AdaptiveRate, RateLearning, WorkspaceThrottle
from bot.store.slack_state import ChannelPace

CAP = 20.0  # posts per second (1,200 a minute)


def test_an_unexplained_429_lowers_the_rate_once_per_window() -> None:
    rate = AdaptiveRate(RateLearning(CAP), now=0.0)
    for n in range(3):
        rate.went_through(now=n / 10)

    # Three posts taken, one refused: the rate falls to the share Slack took (3/4)...
    assert rate.rate_limited(started_at=1.0, now=1.1)
    assert rate.rate == pytest.approx(CAP * 0.75, rel=0.01)
    # ...and posts started before the new rate had a second to show teach nothing new.
    assert not rate.rate_limited(started_at=1.5, now=1.6)
    assert rate.rate == pytest.approx(CAP * 0.75, rel=0.01)


def test_the_decrease_is_between_a_half_and_a_tenth() -> None:
    refused_all = AdaptiveRate(RateLearning(CAP), now=0.0)
    refused_all.rate_limited(started_at=0.0, now=0.0)
    assert refused_all.rate == pytest.approx(CAP / 2)
    mostly_fine = AdaptiveRate(RateLearning(CAP), now=0.0)
    for _ in range(99):
        mostly_fine.went_through(now=0.0)
    mostly_fine.rate_limited(started_at=0.0, now=0.0)
    assert mostly_fine.rate == pytest.approx(CAP * 0.9)


def test_success_recovers_slowly_and_never_above_the_cap() -> None:
    rate = AdaptiveRate(RateLearning(CAP, recovery=0.1), now=0.0)
    rate.rate_limited(started_at=0.0, now=0.0)
    for second in range(1, 61):
        rate.went_through(now=float(second))
    # A tenth of the cap per minute of posts going through: 10/s + 2/s.
    assert rate.rate == pytest.approx(12)
    for second in range(61, 10_000):
        rate.went_through(now=float(second))
    assert rate.rate == CAP


def test_idle_time_earns_no_rate_back() -> None:
    rate = AdaptiveRate(RateLearning(CAP, recovery=0.1), now=0.0)
    rate.rate_limited(started_at=0.0, now=0.0)
    rate.went_through(now=3600.0)  # an hour without posting, then one post
    assert rate.rate == pytest.approx(10 + 2 / 60)


def test_the_rate_has_a_floor() -> None:
    rate = AdaptiveRate(RateLearning(CAP, floor_share=0.05), now=0.0)
    for n in range(10):
        rate.rate_limited(started_at=float(2 * n), now=float(2 * n))
    assert rate.rate == pytest.approx(1.0)


def test_one_workspace_slowed_down_leaves_another_at_full_speed() -> None:
    throttle = WorkspaceThrottle(RateLearning(CAP), burst_seconds=0.05, now=0.0)
    for n in range(5):
        throttle.rate_limited("TSLOW", started_at=float(n), now=float(n))

    assert throttle.per_minute("TSLOW") == pytest.approx(CAP * 60 / 32)
    assert throttle.per_minute("TFAST") == pytest.approx(CAP * 60)
    sent = {"TSLOW": 0, "TFAST": 0}
    for tick in range(1, 101):  # one simulated second, in 10 ms steps
        now = 5 + tick / 100
        for team in sent:
            sent[team] += throttle.take_up_to(team, 10, now)
    assert sent["TFAST"] == pytest.approx(CAP, abs=1.5)
    assert sent["TSLOW"] <= 2
    assert throttle.teams_to_skip(6.1) == frozenset({"TSLOW"})


def test_a_long_briefs_extra_parts_are_charged_to_its_workspace() -> None:
    throttle = WorkspaceThrottle(RateLearning(CAP), burst_seconds=0.1, now=0.0)
    assert throttle.take_up_to("T1", 1, now=0.0) == 1
    throttle.spend("T1", 2, now=0.0)  # the attempt posted three messages in all
    # Two tokens at first, one taken, two spent: a debt of one, and a token two away.
    assert throttle.seconds_until_token("T1", now=0.0) == pytest.approx(2 / CAP)
    assert throttle.take_up_to("T2", 2, now=0.0) == 2, "other workspaces are not charged"


def test_with_one_token_every_team_id_shares_one_bucket() -> None:
    throttle = WorkspaceThrottle(RateLearning(CAP), burst_seconds=0.1, now=0.0, per_team=False)
    assert throttle.take_up_to("T1", 5, 0.0) == 2
    assert throttle.take_up_to("T2", 5, 0.0) == 0
    assert throttle.teams_to_skip(0.0) is None


PACE = Pace(per_second=1.0, burst=3)
SENT_AT = datetime(2026, 4, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_post_before", "explained"),
    [(None, False), (timedelta(seconds=0.4), True), (timedelta(seconds=5), False)],
)
def test_a_429_is_the_channels_own_only_when_it_posted_within_the_second(
    last_post_before: timedelta | None, explained: bool
) -> None:
    pace = None
    if last_post_before is not None:
        at = SENT_AT - last_post_before
        pace = ChannelPace(channel_id="C1", tokens=1.0, refilled_at=at, ready_at=at)
    assert rate_limit_explained(pace, SENT_AT, PACE) is explained


def test_the_environment_sets_the_cap_and_the_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_BOT_POSTS_PER_MINUTE", "300")
    monkeypatch.setenv("SIGNAL_BOT_SEND_CONCURRENCY", "4")
    limits = limits_from(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (limits.workspace_per_minute, limits.concurrency) == (300, 4)
    assert limits_from(Settings(_env_file=None, signal_bot_posts_per_minute=1200)).concurrency == 4  # type: ignore[call-arg]


def test_the_shipped_defaults_are_the_contracts() -> None:
    limits = limits_from(Settings(_env_file=None))  # type: ignore[call-arg]
    assert limits == DeliveryLimits()
    assert (limits.workspace_per_minute, limits.concurrency) == (1200, 16)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIGNAL_BOT_POSTS_PER_MINUTE", "0"),
        ("SIGNAL_BOT_POSTS_PER_MINUTE", "lots"),
        ("SIGNAL_BOT_SEND_CONCURRENCY", "0"),
        ("SIGNAL_BOT_SEND_CONCURRENCY", "1000"),
    ],
)
def test_a_bad_limit_is_refused_with_its_name(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    code, _out, err = run_cli(capsys, "db", "upgrade")
    assert code == 2
    assert err.startswith(f"signal-bot: {variable}: ")
    assert "Traceback" not in err
