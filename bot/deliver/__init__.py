"""Delivery: claim outbox rows -> render -> post or edit -> settle by the outcome."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.deliver.outcome import DeliveryLimits, Outcome, Poster, Verdict
from bot.deliver.slack_poster import CHANNEL_PAUSE_REASONS, signal_metadata
from bot.render import Renderer
from bot.store import outbox
from bot.store.db import transaction
from bot.store.models import Delivery, utcnow
from bot.store.subscriptions import pause_channel

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        self.counts[verdict.value] = self.counts.get(verdict.value, 0) + 1


@dataclass(slots=True)
class WorkspaceHealth:
    """Set when Slack refused the token: nothing is sent until the operator fixes it."""

    stopped_reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Deliverer:
    """Sends what the outbox holds through one Poster."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        poster: Poster,
        renderer: Renderer,
        limits: DeliveryLimits | None = None,
    ) -> None:
        self.sessions = sessions
        self.poster = poster
        self.renderer = renderer
        self.limits = limits or DeliveryLimits()
        self.health = WorkspaceHealth()
        self._delivering = threading.Lock()

    def deliver_pending(self, *, batch: int = 50) -> DeliveryReport:
        """Send every due row, `batch` at a time, until none is due or the token is dead."""
        report = DeliveryReport()
        # One delivery loop per process: a second caller leaves the work to the running one.
        if not self._delivering.acquire(blocking=False):
            return report
        try:
            self._deliver_batches(batch, report)
        finally:
            self._delivering.release()
        return report

    def _deliver_batches(self, batch: int, report: DeliveryReport) -> None:
        while self.health.stopped_reason is None:
            with transaction(self.sessions) as session:
                claimed = [(row.id, row.state) for row in outbox.claim_due(session, limit=batch)]
            if not claimed:
                break
            for delivery_id, state in claimed:
                report.add(self._deliver_one(delivery_id, editing=state == "editing"))

    def _deliver_one(self, delivery_id: int, *, editing: bool) -> Verdict:
        with transaction(self.sessions) as session:
            row = session.get_one(Delivery, delivery_id)
            channel_id, ts, revision = row.channel_id, row.message_ts, row.signal.revision
            signal = row.signal.to_signal()
        try:
            message = self.renderer.render_signal(signal)
        except Exception as error:  # a template bug fails this row loudly, not the worker
            log.exception("rendering %s failed", signal.id)
            outcome = Outcome(Verdict.FAIL, error=f"render error: {error}")
        else:
            if editing and ts:
                outcome = self.poster.edit(channel_id, ts, message)
            else:
                outcome = self.poster.post(channel_id, message, signal_metadata(signal.key))
        self._settle(delivery_id, outcome, revision=revision, edited=editing)
        if editing and outcome.verdict is Verdict.SENT and ts:
            note = f"This brief was revised (revision {revision}); the message above is updated."
            self.poster.reply_in_thread(channel_id, ts, note)
        return outcome.verdict

    def _settle(self, delivery_id: int, outcome: Outcome, *, revision: int, edited: bool) -> None:
        with transaction(self.sessions) as session:
            row = session.get_one(Delivery, delivery_id)
            row.last_error = outcome.error
            if outcome.verdict is Verdict.SENT:
                _mark_sent(row, outcome, revision)
            elif outcome.verdict is Verdict.RETRY:
                self._schedule_retry(row, outcome, edited=edited)
            elif outcome.verdict is Verdict.PAUSE:
                self._pause(session, row, outcome)
            elif outcome.verdict is Verdict.STOP:
                self._stop(row, outcome)
            else:
                row.state = "failed"
                log.error("delivery %s to %s failed: %s", row.id, row.channel_id, outcome.error)

    def _schedule_retry(self, row: Delivery, outcome: Outcome, *, edited: bool) -> None:
        if row.attempts >= self.limits.max_attempts:
            row.state = "failed"
            log.error(
                "delivery %s gave up after %d attempts: %s", row.id, row.attempts, outcome.error
            )
            return
        delay = (
            timedelta(seconds=outcome.retry_after)
            if outcome.retry_after
            else self.limits.backoff(row.attempts)
        )
        row.state = "edit" if edited else "pending"
        row.next_attempt_at = utcnow() + delay

    def _pause(self, session: Session, row: Delivery, outcome: Outcome) -> None:
        reason = CHANNEL_PAUSE_REASONS.get(outcome.error or "", outcome.error or "unknown")
        row.state = "paused"
        pause_channel(session, row.channel_id, reason)
        session.execute(
            update(Delivery)
            .where(Delivery.channel_id == row.channel_id, Delivery.state.in_(["pending", "edit"]))
            .values(state="paused", last_error=outcome.error)
        )
        log.warning("paused channel %s: %s", row.channel_id, reason)

    def _stop(self, row: Delivery, outcome: Outcome) -> None:
        row.state = "pending"
        row.attempts -= 1  # not this row's fault
        with self.health.lock:
            self.health.stopped_reason = f"Slack refused the bot token: {outcome.error}"
        log.error("stopped sending: Slack answered %s; fix SLACK_BOT_TOKEN", outcome.error)

    def reconcile_stale_claims(self) -> int:
        """Rows a dead worker claimed: mark sent if Slack has the message, else make them due."""
        with transaction(self.sessions) as session:
            stale = outbox.stale_claims(session, older_than=self.limits.stale_claim_after)
        for row in stale:
            self._reconcile_one(row)
        return len(stale)

    def _reconcile_one(self, stale: Delivery) -> None:
        found = None
        if stale.state == "sending" and stale.claimed_at is not None:
            oldest = stale.claimed_at.timestamp() - 60
            found = self.poster.find_posted(stale.channel_id, stale.signal.key, oldest)
        with transaction(self.sessions) as session:
            row = session.get_one(Delivery, stale.id)
            if found:
                _mark_sent(row, Outcome.sent(found), row.signal.revision)
            else:
                row.state = "edit" if stale.state == "editing" else "pending"
                row.next_attempt_at = utcnow()


def _mark_sent(row: Delivery, outcome: Outcome, revision: int) -> None:
    row.state = "sent"
    row.message_ts = outcome.ts
    row.sent_at = utcnow()
    row.posted_revision = revision
    row.last_error = None
