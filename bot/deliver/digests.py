"""Digests through the delivery machinery: gather due periods into digest rows, then claim,
render, post and settle them in a fan-out that shares the workspace cap and channel pacing
with every other post (bot.deliver.Deliverer runs both)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.digest_lines import grouped
from bot.deliver.clock import Clock
from bot.deliver.fanout import Finished
from bot.deliver.outcome import DeliveryLimits, Outcome, TeamPosters, Verdict
from bot.deliver.pacing import ChannelBucket
from bot.deliver.settle import stop_reason
from bot.deliver.slack_poster import digest_metadata, pause_reason
from bot.filters import SignalFilter, parse_filter
from bot.render import Message, Renderer
from bot.store import digest_periods, digests, slack_state
from bot.store.alert_models import Digest
from bot.store.db import transaction
from bot.store.digests import ClaimedDigest
from bot.store.models import utcnow
from bot.store.mutes import active_mutes
from bot.store.outbox import UNCONFIRMED
from bot.store.slack_state import ChannelPace
from bot.store.subscriptions import pause_channel

log = logging.getLogger(__name__)

RENDER_CACHE_SIZE = 256
GATHER_BATCH = 100  # subscriptions per transaction: short write locks, few round trips
FIRST_GATHER_BATCH = 10  # small, so that the first digests go out while the rest are gathered


def gather_due_digests(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Close every digest period that has ended, a batch of subscriptions per transaction.
    Returns how many digest messages were queued. Safe to run in several workers at once;
    when nothing is due it costs one indexed query, however many digest subscriptions exist."""
    now = now or utcnow()
    queued, after_id, batch = 0, 0, FIRST_GATHER_BATCH
    mutes: dict[str, list[SignalFilter]] | None = None
    while True:
        with transaction(sessions) as session:
            due = digest_periods.due_subscriptions(session, now, after_id=after_id, limit=batch)
            if not due:
                return queued
            if mutes is None:
                mutes = _muted_filters(session, now)
            queued += digest_periods.gather(session, due, now, mutes)
        after_id, batch = due[-1], GATHER_BATCH


def _muted_filters(session: Session, now: datetime) -> dict[str, list[SignalFilter]]:
    muted: dict[str, list[SignalFilter]] = {}
    for mute in active_mutes(session, now=now):
        muted.setdefault(mute.channel_id, []).append(parse_filter(mute.filter))
    return muted


def render_digest(renderer: Renderer, job: ClaimedDigest) -> Message:
    zone = ZoneInfo(job.tz)
    period = f"{job.period_at.astimezone(zone):%a %d %b, %H:%M} {job.tz}"
    return renderer.render(
        "digest.json.j2",
        groups=grouped(job.lines),
        count=len(job.lines),
        period=period,
        part=job.part,
        parts=job.parts,
    )


class DigestOutbox:
    """The fan-out's Work over the digests table (see bot.deliver.fanout.Work). Each digest
    goes out on its workspace's token, and a refused token stops that workspace's digests."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        posters: TeamPosters,
        renderer: Renderer,
        limits: DeliveryLimits,
        clock: Clock,
        worker: str,
        *,
        closing: Callable[[], bool] = lambda: False,
    ) -> None:
        self.sessions = sessions
        self.posters = posters
        self.renderer = renderer
        self.limits = limits
        self.clock = clock
        self.worker = worker
        self.closing = closing  # a graceful stop: claim nothing more
        self._stopped = False  # the single bot token was refused
        self._stopped_teams: frozenset[str] = frozenset()  # installed workspaces refused
        # Channels subscribed alike get the same digest: render it once for all of them.
        self._rendered: dict[tuple[object, ...], Message] = {}
        self._lock = threading.Lock()

    def claim(self, limit: int, skip_teams: frozenset[str] = frozenset()) -> list[ClaimedDigest]:
        if self.closing():
            return []
        with transaction(self.sessions) as session:
            return digests.claim_due(
                session,
                limit=limit,
                worker=self.worker,
                now=self.clock.now(),
                skip_teams=skip_teams,
            )

    def send(self, job: ClaimedDigest) -> Outcome:
        try:
            message = self._message(job)
        except Exception as error:  # a template bug fails this digest loudly, not the worker
            log.exception("rendering digest %s failed", job.key)
            return Outcome(Verdict.FAIL, error=f"render error: {error}")
        poster = self.posters.for_team(job.team_id)
        if job.maybe_posted:
            oldest = (job.created_at - self.limits.history_margin).timestamp()
            found = poster.find_posted(job.channel_id, job.key, oldest)
            if found is not None and found.verdict in (Verdict.SENT, Verdict.STOP):
                return found
            if found is not None and found.verdict is not Verdict.PAUSE:
                return Outcome(Verdict.RETRY, error=found.error, ambiguous=True)
        return poster.post(job.channel_id, message, digest_metadata(job.key))

    def _message(self, job: ClaimedDigest) -> Message:
        key = (job.lines, job.period_at, job.tz, job.part, job.parts)
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        message = render_digest(self.renderer, job)
        with self._lock:
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[key] = message
        return message

    def settle(self, finished: list[Finished[ClaimedDigest]]) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            rows = digests.owned(session, [done.job.id for done in finished], self.worker)
            paces = slack_state.channel_paces(session, {done.job.channel_id for done in finished})
            for done in finished:
                row = rows.get(done.job.id)
                if row is not None:
                    self._apply(session, paces, row, done, now)
        for done in finished:
            if done.outcome.verdict is Verdict.STOP:
                self._note_stop(done)

    def _team(self, job: ClaimedDigest) -> str:
        """The workspace whose stop a refusal records ("" for the single bot token)."""
        return job.team_id if self.posters.per_team else ""

    def _note_stop(self, done: Finished[ClaimedDigest]) -> None:
        team = self._team(done.job)
        if not self.posters.per_team:
            self._stopped = True
        elif team not in self._stopped_teams:
            self._stopped_teams |= {team}
            log.error("%s", stop_reason(done.outcome, team), extra={"team": team})

    def release(self, jobs: list[ClaimedDigest]) -> None:
        with transaction(self.sessions) as session:
            digests.release(session, [job.id for job in jobs], self.worker)

    def seconds_until_due(self) -> float | None:
        with transaction(self.sessions) as session:
            due = digests.next_due_at(session)
        return None if due is None else (due - self.clock.now()).total_seconds()

    def stopped(self) -> bool:
        return self._stopped or self.closing()

    def stopped_teams(self) -> frozenset[str]:
        return self._stopped_teams

    def resume(self, stopped_teams: frozenset[str] = frozenset()) -> None:
        """A new run: the Deliverer has checked which workspaces take posts (all but
        `stopped_teams`)."""
        self._stopped, self._stopped_teams = False, stopped_teams

    def _apply(
        self,
        session: Session,
        paces: dict[str, ChannelPace],
        row: Digest,
        done: Finished[ClaimedDigest],
        now: datetime,
    ) -> None:
        outcome = done.outcome
        error = outcome.error
        row.last_error = (UNCONFIRMED + error if outcome.ambiguous else error) if error else None
        row.claimed_by = None
        verdict = outcome.verdict
        if verdict is Verdict.SENT:
            row.state, row.message_ts, row.sent_at = "sent", outcome.ts, now
            _save_pace(
                session,
                paces,
                row.channel_id,
                self._after_send(paces, row.channel_id, done.started_at),
            )
        elif verdict is Verdict.RETRY and outcome.rate_limited:
            row.state, row.attempts, row.rate_limited = (
                "pending",
                row.attempts - 1,
                row.rate_limited + 1,
            )
            held = now + timedelta(seconds=outcome.retry_after or 1.0)
            row.next_attempt_at = held
            pace = self.limits.channel_bucket
            _save_pace(session, paces, row.channel_id, ChannelBucket.held_until(held, pace, now))
            if row.rate_limited > self.limits.max_rate_limited:
                row.state = "failed"
        elif verdict is Verdict.MORE:  # only a brief in parts says so; a digest is one post
            row.state, row.attempts, row.next_attempt_at = "pending", row.attempts - 1, now
        elif verdict is Verdict.RETRY:
            row.state = "failed" if row.attempts >= self.limits.max_attempts else "pending"
            row.next_attempt_at = now + self.limits.backoff(row.attempts)
        elif verdict is Verdict.PAUSE:
            row.state = "paused"
            pause_channel(session, row.channel_id, pause_reason(error, row.channel_id))
        elif verdict is Verdict.STOP:
            row.state, row.attempts = "pending", row.attempts - 1
            team = self._team(done.job)
            slack_state.stop_workspace(session, stop_reason(outcome, team), now=now, team_id=team)
        else:
            row.state = "failed"
            log.error("digest %s to %s failed: %s", row.key, row.channel_id, error)

    def _after_send(
        self, paces: dict[str, ChannelPace], channel_id: str, started_at: datetime
    ) -> ChannelBucket:
        pace = self.limits.channel_bucket
        stored = paces.get(channel_id)
        bucket = (
            ChannelBucket(stored.tokens, stored.refilled_at, stored.ready_at)
            if stored
            else ChannelBucket.full(pace, started_at)
        )
        return bucket.after_send(pace, started_at)


def _save_pace(
    session: Session, paces: dict[str, ChannelPace], channel_id: str, bucket: ChannelBucket
) -> None:
    row = paces.get(channel_id)
    if row is None:
        row = paces[channel_id] = ChannelPace(channel_id=channel_id)
        session.add(row)
    row.tokens, row.refilled_at, row.ready_at = bucket.tokens, bucket.at, bucket.ready_at
