"""Delivery: claim outbox rows -> render -> post or edit -> settle by the outcome.

outcome.py      verdicts, DeliveryLimits (as data) and the Poster protocol
pacing.py       token buckets: per channel (in the database) and workspace-wide (per process)
throttle.py     each workspace's bucket and its rate, learnt from Slack's 429s (AIMD)
fanout.py       the concurrent loop: a bounded thread pool within each workspace's rate
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

from bot import metrics
from bot.deliver.clock import Clock, SystemClock
from bot.deliver.digests import DigestOutbox
from bot.deliver.fanout import FanOut, FanOutTiming, Finished
from bot.deliver.outcome import DeliveryLimits, OnePoster, Outcome, Poster, TeamPosters, Verdict
from bot.deliver.presence import Presence, new_worker_id
from bot.deliver.reconcile import reconcile_orphans
from bot.deliver.sender import Sender
from bot.deliver.settle import Settler, stop_reason
from bot.deliver.throttle import WorkspaceThrottle
from bot.render import Renderer
from bot.store import outbox, slack_state
from bot.store.db import transaction
from bot.store.digests import ClaimedDigest
from bot.store.outbox import Claimed

__all__ = [
    "Deliverer",
    "DeliveryLimits",
    "DeliveryReport",
    "OnePoster",
    "Outcome",
    "Poster",
    "TeamPosters",
    "Verdict",
]

log = logging.getLogger(__name__)

SETTLE_RETRY_PAUSE = 0.5  # seconds before the one retry of a settle the database refused


@dataclass(slots=True)
class DeliveryReport:
    """How many attempts of one run came to each verdict."""

    counts: dict[str, int] = field(default_factory=dict)


class Deliverer:
    """Sends what the outbox holds through each workspace's Poster, concurrently and within
    Slack's limits."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        poster: Poster | TeamPosters,
        renderer: Renderer,
        limits: DeliveryLimits | None = None,
        *,
        clock: Clock | None = None,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.posters = poster if isinstance(poster, TeamPosters) else OnePoster(poster)
        self.limits = limits = limits or DeliveryLimits()
        self.clock = clock = clock or SystemClock()
        self.worker = worker or new_worker_id()
        self.sender = Sender(
            self.posters,
            renderer,
            limits.history_margin,
            posts_per_attempt=max(int(limits.channel_pace.burst), 1),
        )
        per_team = self.posters.per_team
        self.settler = Settler(limits, self.worker, per_team=per_team)
        self.presence = Presence(sessions, self.worker, limits.worker_timeout, clock)
        self.throttle = WorkspaceThrottle(
            limits.rate_learning,
            limits.workspace_burst_seconds,
            clock.monotonic(),
            per_team=per_team,
        )
        self._closing = threading.Event()
        self.digests = DigestOutbox(
            sessions,
            self.posters,
            renderer,
            limits,
            clock,
            self.worker,
            closing=self._closing.is_set,
        )
        self._stopped: str | None = None
        self._stopped_teams: frozenset[str] = frozenset()
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
            self.throttle.share_between(self.presence.live_workers, self.clock.monotonic())
            timing = FanOutTiming(self.limits.concurrency, self.limits.linger.total_seconds())
            report.counts.update(FanOut(self, self.throttle, self.clock, timing).run())
            if not self.stopped():
                self.digests.resume(self._stopped_teams)
                digests: FanOut[ClaimedDigest] = FanOut(
                    self.digests, self.throttle, self.clock, timing
                )
                report.counts.update(digests.run())
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
        """Why sending is stopped (shared by all workers): for the single token's workspace,
        or for each installed workspace Slack refused; None while all is well."""
        with transaction(self.sessions) as session:
            single = slack_state.stopped_reason(session)
            teams = slack_state.stopped_teams(session) if self.posters.per_team else {}
        reasons = ([single] if single else []) + list(teams.values())
        return "; ".join(reasons) or None

    def close(self) -> None:
        """Stop claiming: a run in progress finishes its sends in flight, then returns."""
        self._closing.set()

    def leave(self) -> None:
        """A clean shutdown: give up the presence lease at once."""
        self.presence.leave()

    # The fan-out's side of the work (bot.deliver.fanout.Work).

    def claim(self, limit: int, skip_teams: frozenset[str] = frozenset()) -> list[Claimed]:
        """Claim up to `limit` due rows for this worker, none for the `skip_teams`."""
        if self._closing.is_set():
            return []
        self.presence.keep_alive()
        with transaction(self.sessions) as session:
            return outbox.claim_due(
                session,
                limit=limit,
                worker=self.worker,
                now=self.clock.now(),
                skip_teams=skip_teams,
            )

    def send(self, job: Claimed) -> Outcome:
        """One attempt at Slack for a claimed row."""
        with metrics.delivery_seconds.time():
            return self.sender.send(job)

    def settle(self, finished: list[Finished[Claimed]]) -> None:
        """Record a round of outcomes in one transaction (retried once if the database balks)."""
        try:
            workspace_limited = self._settle(finished)
        except SQLAlchemyError:
            log.warning("settling %d deliveries failed; trying once more", len(finished))
            self.clock.sleep(SETTLE_RETRY_PAUSE)
            workspace_limited = self._settle(finished)
        self._learn_rates(finished, workspace_limited)
        now = self.clock.now()
        for done in finished:
            metrics.deliveries.labels(done.outcome.verdict.value).inc()
            if done.outcome.verdict is Verdict.STOP:
                self._note_stop(done)
            elif done.outcome.verdict is Verdict.SENT and not done.job.editing:
                metrics.delivery_lag_seconds.observe((now - done.job.created_at).total_seconds())

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
        return self._stopped is not None or self._closing.is_set()

    def stopped_teams(self) -> frozenset[str]:
        return self._stopped_teams

    def _settle(self, finished: list[Finished[Claimed]]) -> list[Finished[Claimed]]:
        with transaction(self.sessions) as session:
            return self.settler.settle(session, finished, self.clock.now())

    def _learn_rates(
        self, finished: list[Finished[Claimed]], workspace_limited: list[Finished[Claimed]]
    ) -> None:
        """Teach each workspace's throttle what Slack said (on the monotonic clock)."""
        now, moment = self.clock.now(), self.clock.monotonic()
        rate_limited = sum(1 for done in finished if done.outcome.rate_limited)
        metrics.slack_rate_limited.labels("workspace").inc(len(workspace_limited))
        metrics.slack_rate_limited.labels("channel").inc(rate_limited - len(workspace_limited))
        for done in workspace_limited:
            team, started = done.job.team_id, moment - (now - done.started_at).total_seconds()
            if self.throttle.rate_limited(team, started, moment):
                rate = self.throttle.per_minute(team)
                log.info(
                    "workspace %s: Slack's limit reached; now %.0f posts/min",
                    team or "(the bot token's)",
                    rate,
                    extra={"team": team},
                )
        for done in finished:
            if done.outcome.verdict in (Verdict.SENT, Verdict.MORE):
                self.throttle.went_through(done.job.team_id, moment)
                self.throttle.spend(done.job.team_id, done.outcome.writes - 1, moment)
        for team in {done.job.team_id if self.posters.per_team else "" for done in finished}:
            metrics.workspace_posts_per_minute.labels(team).set(self.throttle.per_minute(team))

    def _note_stop(self, done: Finished[Claimed]) -> None:
        if not self.posters.per_team:
            if self._stopped is None:
                self._stopped = stop_reason(done.outcome)
                log.error("%s", self._stopped)
        elif done.job.team_id not in self._stopped_teams:
            self._stopped_teams |= {done.job.team_id}
            log.error("%s", stop_reason(done.outcome, done.job.team_id))

    def _sending_stopped(self) -> bool:
        """True while Slack refuses the single bot token. With a token per workspace, the
        workspaces Slack refused are skipped instead. Slack is asked again now and then."""
        refused = self._refused_tokens()
        if self.posters.per_team:
            self._stopped, self._stopped_teams = None, frozenset(refused)
        else:
            self._stopped = refused.get("")
        if refused and self._auth_check_due():
            for team, reason in refused.items():
                self._check_again(team, reason)
        return self._stopped is not None

    def _refused_tokens(self) -> dict[str, str]:
        """Why each stopped workspace is stopped ("" for the single bot token's)."""
        with transaction(self.sessions) as session:
            single = slack_state.stopped_reason(session)
            refused = slack_state.stopped_teams(session) if self.posters.per_team else {}
        return refused | ({"": single} if single else {})

    def _check_again(self, team: str, reason: str) -> None:
        """Ask Slack whether a refused token works again; resume sending if it does."""
        if (check := self.posters.for_team(team).check_auth()).verdict is not Verdict.SENT:
            log.error("%s (checked again: %s)", reason, check.error, extra={"team": team})
            return
        with transaction(self.sessions) as session:
            slack_state.resume_workspace(session, team)
        where = f"workspace {team}" if team else "the workspace"
        log.warning("Slack accepts the bot token of %s again: sending resumes", where)
        if self.posters.per_team:
            self._stopped_teams -= {team}
        else:
            self._stopped = None

    def _auth_check_due(self) -> bool:
        now = self.clock.monotonic()
        every = self.limits.auth_check_every.total_seconds()
        if self._auth_checked_at is not None and now - self._auth_checked_at < every:
            return False
        self._auth_checked_at = now
        return True
