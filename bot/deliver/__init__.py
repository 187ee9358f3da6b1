"""Delivery: claim outbox rows -> render -> post or edit -> settle by the outcome.

outcome.py      verdicts, DeliveryLimits (as data) and the Poster protocol
pacing.py       token buckets: per channel (in the database) and workspace-wide (per process)
fanout.py       the concurrent loop: a bounded thread pool within the workspace cap
sender.py       one attempt: render once per revision, post, or edit and thread a note
settle.py       an outcome -> the row's next state (sent, retry, paused, stopped, failed)
reconcile.py    claims left by dead workers go back in line, marked unconfirmed
presence.py     each worker's lease: who is alive, and how the workspace cap is shared
revisions.py    what changed in a revised brief
digests.py      due digest periods -> digest rows, sent by a second fan-out on the same pacing
slack_poster.py / terminal_poster.py   the Posters
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.deliver.clock import Clock, SystemClock
from bot.deliver.digests import DigestOutbox
from bot.deliver.fanout import FanOut, FanOutTiming, Finished
from bot.deliver.outcome import DeliveryLimits, Outcome, Poster, Verdict
from bot.deliver.pacing import WorkspaceBucket
from bot.deliver.presence import Presence, new_worker_id
from bot.deliver.reconcile import reconcile_orphans
from bot.deliver.sender import Sender
from bot.deliver.settle import Settler, stop_reason
from bot.render import Renderer
from bot.store import outbox, slack_state
from bot.store.db import transaction
from bot.store.outbox import Claimed

__all__ = ["Deliverer", "DeliveryLimits", "DeliveryReport", "Outcome", "Poster", "Verdict"]

log = logging.getLogger(__name__)

SETTLE_RETRY_PAUSE = 0.5  # seconds before the one retry of a settle the database refused


@dataclass(slots=True)
class DeliveryReport:
    """How many attempts of one run came to each verdict."""

    counts: dict[str, int] = field(default_factory=dict)


class Deliverer:
    """Sends what the outbox holds through one Poster, concurrently and within Slack's limits."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        poster: Poster,
        renderer: Renderer,
        limits: DeliveryLimits | None = None,
        *,
        clock: Clock | None = None,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.poster = poster
        self.limits = limits = limits or DeliveryLimits()
        self.clock = clock = clock or SystemClock()
        self.worker = worker or new_worker_id()
        self.sender = Sender(
            poster,
            renderer,
            limits.history_margin,
            posts_per_attempt=max(int(limits.channel_pace.burst), 1),
        )
        self.settler = Settler(limits, self.worker)
        self.presence = Presence(sessions, self.worker, limits.worker_timeout, clock)
        self.bucket = WorkspaceBucket(limits.workspace_bucket(1), clock.monotonic())
        self.digests = DigestOutbox(sessions, poster, renderer, limits, clock, self.worker)
        self._stopped: str | None = None
        self._auth_checked_at: float | None = None
        self._delivering = threading.Lock()

    def deliver_pending(self) -> DeliveryReport:
        """Send every due row until nothing is due soon; a second caller leaves it to the first."""
        report = DeliveryReport()
        if not self._delivering.acquire(blocking=False):
            return report
        try:
            if self._sending_stopped():
                return report
            self.presence.keep_alive()
            share = self.limits.workspace_bucket(self.presence.live_workers)
            self.bucket.reshape(share, self.clock.monotonic())
            timing = FanOutTiming(self.limits.concurrency, self.limits.linger.total_seconds())
            report.counts.update(FanOut(self, self.bucket, self.clock, timing).run())
            if not self.stopped():
                self.digests.resume()
                report.counts.update(FanOut(self.digests, self.bucket, self.clock, timing).run())
        finally:
            self._delivering.release()
        return report

    def reconcile_stale_claims(self) -> int:
        """Put rows claimed by dead workers back in line; how many."""
        self.presence.keep_alive()
        return reconcile_orphans(
            self.sessions, self.limits, worker=self.worker, now=self.clock.now()
        )

    def stopped_reason(self) -> str | None:
        """Why sending is stopped for the workspace (shared by all workers), or None."""
        with transaction(self.sessions) as session:
            return slack_state.stopped_reason(session)

    def leave(self) -> None:
        """A clean shutdown: give up the presence lease at once."""
        self.presence.leave()

    # The fan-out's side of the work (bot.deliver.fanout.Work).

    def claim(self, limit: int) -> list[Claimed]:
        """Claim up to `limit` due rows for this worker."""
        self.presence.keep_alive()
        with transaction(self.sessions) as session:
            return outbox.claim_due(session, limit=limit, worker=self.worker, now=self.clock.now())

    def send(self, job: Claimed) -> Outcome:
        """One attempt at Slack for a claimed row."""
        return self.sender.send(job)

    def settle(self, finished: list[Finished[Claimed]]) -> None:
        """Record a round of outcomes in one transaction (retried once if the database balks)."""
        try:
            self._settle(finished)
        except SQLAlchemyError:
            log.warning("settling %d deliveries failed; trying once more", len(finished))
            self.clock.sleep(SETTLE_RETRY_PAUSE)
            self._settle(finished)
        for done in finished:
            if done.outcome.verdict is Verdict.STOP and self._stopped is None:
                self._stopped = stop_reason(done.outcome)
                log.error("%s", self._stopped)

    def release(self, jobs: list[Claimed]) -> None:
        """Put claimed rows that were never sent back in line."""
        with transaction(self.sessions) as session:
            outbox.release_claims(session, [job.id for job in jobs], self.worker)

    def seconds_until_due(self) -> float | None:
        """Seconds until the next row may be claimed; None when nothing is waiting."""
        with transaction(self.sessions) as session:
            due = outbox.next_due_at(session)
        return None if due is None else (due - self.clock.now()).total_seconds()

    def stopped(self) -> bool:
        return self._stopped is not None

    def _settle(self, finished: list[Finished[Claimed]]) -> None:
        with transaction(self.sessions) as session:
            self.settler.settle(session, finished, self.clock.now())

    def _sending_stopped(self) -> bool:
        """True while Slack refuses the token; asks Slack again now and then."""
        self._stopped = self.stopped_reason()
        if self._stopped is None or not self._auth_check_due():
            return self._stopped is not None
        if (check := self.poster.check_auth()).verdict is not Verdict.SENT:
            log.error("%s (checked again: %s)", self._stopped, check.error)
            return True
        with transaction(self.sessions) as session:
            slack_state.resume_workspace(session)
        log.warning("Slack accepts the bot token again: sending resumes")
        self._stopped = None
        return False

    def _auth_check_due(self) -> bool:
        now = self.clock.monotonic()
        every = self.limits.auth_check_every.total_seconds()
        if self._auth_checked_at is not None and now - self._auth_checked_at < every:
            return False
        self._auth_checked_at = now
        return True
