"""The pure parts of delivery: token buckets, backoff, error classification, revision notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web import SlackResponse

from bot.deliver.outcome import DeliveryLimits, Verdict
from bot.deliver.pacing import ChannelBucket, Pace, WorkspaceBucket
from bot.deliver.revisions import changed_fields, field_digests, revision_note
from bot.deliver.slack_poster import classify_error
from bot.deliver.throttle import WorkspaceThrottle
from bot.signal import Section, Signal

T0 = datetime(2026, 4, 23, 12, tzinfo=UTC)
ONE_PER_SECOND = Pace(per_second=1.0, burst=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_channel_bursts_then_sends_one_per_second() -> None:
    bucket = ChannelBucket.full(ONE_PER_SECOND, T0)
    ready = []
    for _ in range(5):
        sent_at = max(bucket.ready_at, T0)
        bucket = bucket.after_send(ONE_PER_SECOND, sent_at)
        ready.append((bucket.ready_at - T0).total_seconds())
    assert ready == pytest.approx([0, 0, 1, 2, 3])


def test_a_quiet_channel_refills_up_to_its_burst_only() -> None:
    bucket = ChannelBucket.full(ONE_PER_SECOND, T0)
    for _ in range(3):
        bucket = bucket.after_send(ONE_PER_SECOND, T0)
    later = bucket.after_send(ONE_PER_SECOND, at(3600))
    assert later.tokens == pytest.approx(2)
    assert later.ready_at == at(3600)


def test_retry_after_holds_a_channel_until_exactly_then() -> None:
    held = ChannelBucket.held_until(at(30), ONE_PER_SECOND, now=at(0))
    assert held.ready_at == at(30)
    assert held.at == at(0), "the time of the refused attempt"
    after = held.after_send(ONE_PER_SECOND, at(30))
    assert after.ready_at == at(31)


def test_the_workspace_bucket_hands_out_whole_tokens_at_its_rate() -> None:
    bucket = WorkspaceBucket(Pace(per_second=10, burst=5), now=0.0)
    assert bucket.take_up_to(8, now=0.0) == 5
    assert bucket.take_up_to(8, now=0.0) == 0
    assert bucket.seconds_until_token(now=0.0) == pytest.approx(0.1)
    assert bucket.take_up_to(8, now=0.35) == 3
    assert bucket.whole_tokens(now=0.35) == 0


def test_more_live_workers_share_the_workspace_cap() -> None:
    limits = DeliveryLimits(workspace_per_minute=600, pace_margin=1.0)
    throttle = WorkspaceThrottle(limits.rate_learning, 0.5, now=0.0)
    assert throttle.take_up_to("T1", 100, now=0.0) == 5  # half a second of 10/s
    throttle.share_between(4, now=0.0)
    assert throttle.take_up_to("T1", 100, now=1.0) == 1  # 2.5/s now: burst 1.25
    assert limits.channel_bucket.per_second == pytest.approx(1.0)


@pytest.mark.parametrize("attempts", [1, 2, 3, 8, 30])
def test_backoff_grows_with_jitter_and_stays_bounded(attempts: int) -> None:
    limits = DeliveryLimits(first_backoff=timedelta(seconds=2), max_backoff=timedelta(minutes=10))
    ceiling = min(timedelta(seconds=2) * 2 ** (attempts - 1), timedelta(minutes=10))
    delays = {limits.backoff(attempts) for _ in range(20)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1, "jittered"


def slack_answer(status: int, body: dict[str, Any], headers: dict[str, Any]) -> SlackResponse:
    return SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers,
        status_code=status,
    )


@pytest.mark.parametrize(
    ("status", "error", "headers", "verdict", "retry_after", "ambiguous"),
    [
        (429, "ratelimited", {"Retry-After": "7"}, Verdict.RETRY, 7.0, False),
        (429, "ratelimited", {"retry-after": ["3"]}, Verdict.RETRY, 3.0, False),
        (429, "ratelimited", {}, Verdict.RETRY, 1.0, False),
        (200, "is_archived", {}, Verdict.PAUSE, None, False),
        (200, "channel_not_found", {}, Verdict.PAUSE, None, False),
        (200, "not_in_channel", {}, Verdict.PAUSE, None, False),
        (200, "invalid_auth", {}, Verdict.STOP, None, False),
        (200, "token_revoked", {}, Verdict.STOP, None, False),
        (200, "account_inactive", {}, Verdict.STOP, None, False),
        (500, "internal_error", {}, Verdict.RETRY, None, True),
        (503, "", {}, Verdict.RETRY, None, True),
        (200, "invalid_blocks", {}, Verdict.FAIL, None, False),
        (200, "msg_too_long", {}, Verdict.FAIL, None, False),
    ],
)
def test_slack_answers_decide_the_verdict(
    status: int,
    error: str,
    headers: dict[str, Any],
    verdict: Verdict,
    retry_after: float | None,
    ambiguous: bool,
) -> None:
    outcome = classify_error(slack_answer(status, {"ok": False, "error": error}, headers))
    assert (outcome.verdict, outcome.retry_after, outcome.ambiguous) == (
        verdict,
        retry_after,
        ambiguous,
    )


def brief(**changes: Any) -> Signal:
    fields: dict[str, Any] = {
        "title": "Meta ships Muse Spark",
        "published": T0,
        "key": "k1",
        "source": "optyx",
        "summary": "A closed model.",
        "sections": (Section("The News", "It shipped."), Section("Impact", "Large.")),
    }
    return Signal(**(fields | changes))


def test_changed_fields_names_what_a_reader_sees_changing() -> None:
    before = field_digests(brief())
    after = field_digests(
        brief(
            title="Meta ships Muse Spark 2",
            sections=(Section("The News", "It shipped late."), Section("Risks", "Some.")),
        )
    )
    assert changed_fields(before, after) == [
        "the title",
        "the section “The News”",
        "a new section “Risks”",
        "the section “Impact” (removed)",
    ]
    assert changed_fields(before, before) == []


def test_the_revision_note_lists_changes_and_escapes_headings() -> None:
    before = field_digests(brief())
    revised = brief(summary="An open model.", sections=(Section("<!here> & co", "x"),))
    note = revision_note(before, revised, revision=2)
    assert note.startswith("Revised: the summary, ")
    assert "(revision 2)" in note
    assert "<!here>" not in note
    assert "&lt;!here&gt; &amp; co" in note
    assert revision_note(None, revised, 3).startswith("This brief was revised (revision 3)")
