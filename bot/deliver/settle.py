"""Settling attempts: each outcome decides sent, retry, pause, stop or failed, written in one
transaction with the channels' pacing, so every worker sees the same state."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.deliver.fanout import Finished
from bot.deliver.outcome import DeliveryLimits, Outcome, Verdict
from bot.deliver.pacing import ChannelBucket
from bot.deliver.revisions import field_digests
from bot.deliver.slack_poster import pause_reason
from bot.store import outbox, slack_state
from bot.store.models import Delivery
from bot.store.outbox import UNCONFIRMED, Claimed
from bot.store.slack_state import ChannelPace
from bot.store.subscriptions import pause_channel

log = logging.getLogger(__name__)


def stop_reason(outcome: Outcome) -> str:
    """What /healthz and the logs say when Slack refuses the token."""
    return f"Slack refused the bot token ({outcome.error}): sending is stopped; fix SLACK_BOT_TOKEN"


class Settler:
    """Applies outcomes to the outbox rows this worker claimed."""

    def __init__(self, limits: DeliveryLimits, worker: str) -> None:
        self.limits = limits
        self.worker = worker

    def settle(self, session: Session, finished: list[Finished[Claimed]], now: datetime) -> int:
        """Record each outcome; returns how many claims were still ours to settle."""
        rows = outbox.owned_rows(session, [done.job.id for done in finished], self.worker)
        paces = slack_state.channel_paces(session, {done.job.channel_id for done in finished})
        for done in finished:
            row = rows.get(done.job.id)
            if row is None:
                log.warning("delivery %s: claim lost before settling", done.job.id)
                continue
            settling = _Settling(self.limits, session, paces, now, done.started_at)
            settling.apply(row, done.job, done.outcome)
        return len(rows)


class _Settling:
    """One outcome applied to one row."""

    def __init__(
        self,
        limits: DeliveryLimits,
        session: Session,
        paces: dict[str, ChannelPace],
        now: datetime,
        started_at: datetime,
    ) -> None:
        self.limits = limits
        self.session = session
        self.paces = paces
        self.now = now
        self.started_at = started_at  # when the call to Slack began

    def apply(self, row: Delivery, job: Claimed, outcome: Outcome) -> None:
        row.last_error = _error_text(outcome)
        if outcome.parts:  # also on failure: the parts that did go out are never posted again
            row.part_ts = list(outcome.parts)
            row.message_ts = outcome.parts[0] or row.message_ts
            if not job.editing:  # an edit cut short still owes its revision note
                row.posted_revision = job.revision
        if outcome.fallback:
            row.fallback_reason = outcome.fallback
        if outcome.verdict is Verdict.SENT:
            self._sent(row, job, outcome)
        elif outcome.verdict is Verdict.RETRY:
            self._retry(row, job, outcome)
        elif outcome.verdict is Verdict.PAUSE:
            self._pause(row, outcome)
        elif outcome.verdict is Verdict.MORE:
            self._more(row, job, outcome)
        elif outcome.verdict is Verdict.STOP:
            _back_in_line(row, job, self.now, refund=True)
            slack_state.stop_workspace(self.session, stop_reason(outcome), now=self.now)
        else:
            _fail(row, outcome)

    def _sent(self, row: Delivery, job: Claimed, outcome: Outcome) -> None:
        row.state = "sent"
        row.message_ts = outcome.ts or row.message_ts
        row.sent_at = self.now
        row.posted_revision = job.revision
        row.posted_fields = field_digests(job.signal)
        if job.editing:  # an edit renders every part again: its fallbacks are the whole story
            row.fallback_reason = outcome.fallback
        if row.signal.revision > job.revision:  # revised while in flight: the copy is stale
            row.state, row.next_attempt_at, row.attempts = "edit", self.now, 0
        self._took_token(job, outcome.writes)

    def _retry(self, row: Delivery, job: Claimed, outcome: Outcome) -> None:
        if outcome.rate_limited:
            row.attempts -= 1  # Slack said when; that is not a failure of this row
            row.rate_limited += 1
            if row.rate_limited > self.limits.max_rate_limited:
                _fail(row, outcome)
                return
            _back_in_line(row, job, self.now)
            retry_after = timedelta(seconds=outcome.retry_after or 1.0)
            self._save_pace(job.channel_id, ChannelBucket.held_until(self.now + retry_after))
            return
        if row.attempts >= self.limits.max_attempts:
            _fail(row, outcome)
            return
        _back_in_line(row, job, self.now + self.limits.backoff(row.attempts))
        self._took_token(job, outcome.writes)

    def _more(self, row: Delivery, job: Claimed, outcome: Outcome) -> None:
        """Parts went out and more are to come: back in line, due when the channel's pace says
        (the parts sent took its tokens); not a failed attempt."""
        _back_in_line(row, job, self.now, refund=True)
        self._took_token(job, outcome.writes)

    def _pause(self, row: Delivery, outcome: Outcome) -> None:
        reason = pause_reason(outcome.error, row.channel_id)
        row.state = "paused"
        pause_channel(self.session, row.channel_id, reason)
        self.session.execute(
            update(Delivery)
            .where(Delivery.channel_id == row.channel_id, Delivery.state.in_(outbox.WAITING))
            .values(state="paused", last_error=outcome.error)
            .execution_options(synchronize_session=False)
        )
        log.warning("paused channel %s: %s", row.channel_id, reason)

    def _took_token(self, job: Claimed, writes: int) -> None:
        pace = self.limits.channel_bucket
        stored = self.paces.get(job.channel_id)
        bucket = (
            ChannelBucket(stored.tokens, stored.refilled_at, stored.ready_at)
            if stored
            else ChannelBucket.full(pace, self.started_at)
        )
        self._save_pace(job.channel_id, bucket.after_send(pace, self.started_at, cost=writes))

    def _save_pace(self, channel_id: str, bucket: ChannelBucket) -> None:
        row = self.paces.get(channel_id)
        if row is None:
            row = self.paces[channel_id] = ChannelPace(channel_id=channel_id)
            self.session.add(row)
        row.tokens, row.refilled_at, row.ready_at = bucket.tokens, bucket.at, bucket.ready_at


def _error_text(outcome: Outcome) -> str | None:
    if outcome.error is None:
        return None
    return UNCONFIRMED + outcome.error if outcome.ambiguous else outcome.error


def _back_in_line(row: Delivery, job: Claimed, due: datetime, *, refund: bool = False) -> None:
    row.state = job.waiting_state
    row.next_attempt_at = due
    if refund:
        row.attempts -= 1


def _fail(row: Delivery, outcome: Outcome) -> None:
    row.state = "failed"
    log.error(
        "delivery %s to %s failed after %d attempt(s): %s",
        row.id,
        row.channel_id,
        row.attempts,
        row.last_error or outcome.error,
    )
