"""APScheduler wiring: poll sources, gather due digests and reconcile claims on the one leader;
deliver everywhere.

Every worker process runs this scheduler. Polling sources and reconciling dead workers' claims
run only in the process holding the `poll` lease, so at most one process does them at a time
(SQLite and PostgreSQL alike). Delivery runs in every process and shares the outbox through its
claim (FOR UPDATE SKIP LOCKED on PostgreSQL). On SQLite, run one worker process: the lease and
the claim keep a second one from double-posting, but SQLite serializes writers and cannot scale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot.app import Services
from bot.config import SourceConfig
from bot.deliver.digests import gather_due_digests
from bot.sources import poll_source
from bot.store import leases, mutes
from bot.store.db import transaction
from bot.store.models import utcnow

log = logging.getLogger(__name__)

POLL_LEASE = "poll"
MUTE_KEPT_AFTER_END = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class WorkerTiming:
    """How often the scheduler's own jobs run, and how long the polling lease lasts."""

    lease_ttl: timedelta = timedelta(seconds=30)
    deliver_every: timedelta = timedelta(seconds=1)
    reconcile_every: timedelta = timedelta(seconds=10)
    # Digest periods are due-times in the database: one indexed query per tick, however many.
    digests_every: timedelta = timedelta(seconds=10)


class Leadership:
    """The `poll` lease: this process polls sources only while it holds it."""

    def __init__(self, sessions: sessionmaker[Session], holder: str, ttl: timedelta) -> None:
        self.sessions = sessions
        self.holder = holder
        self.ttl = ttl
        self._renew_after: datetime | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        """True while this process holds the lease; takes or renews it when due."""
        with self._lock:
            now = utcnow()
            if self._renew_after is not None and now < self._renew_after:
                return True
            with transaction(self.sessions) as session:
                held = leases.acquire(session, POLL_LEASE, self.holder, ttl=self.ttl, now=now)
            if held and self._renew_after is None:
                log.info("worker %s now polls the sources", self.holder)
            self._renew_after = now + self.ttl / 3 if held else None
            return held

    def resign(self) -> None:
        """Let another worker take over at once (a clean shutdown)."""
        with self._lock, transaction(self.sessions) as session:
            leases.release(session, POLL_LEASE, self.holder)
            self._renew_after = None


def build_scheduler(services: Services, timing: WorkerTiming | None = None) -> BackgroundScheduler:
    """One job per source plus delivery and housekeeping; no job ever runs twice at once."""
    timing = timing or WorkerTiming()
    leadership = Leadership(services.sessions, services.deliverer.worker, timing.lease_ttl)
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    now = datetime.now().astimezone()
    for source in services.settings.sources:
        scheduler.add_job(
            as_leader,
            "interval",
            args=[leadership, poll_and_deliver, services, source],
            seconds=source.interval.total_seconds(),
            jitter=min(source.interval.total_seconds() / 10, 5),
            id=f"poll:{source.name}",
            name=f"poll {source.name}",
            next_run_time=now,
        )
    scheduler.add_job(
        deliver_pending,
        "interval",
        args=[services],
        seconds=_seconds(timing.deliver_every),
        id="deliver",
        next_run_time=now,
    )
    scheduler.add_job(
        as_leader,
        "interval",
        args=[leadership, reconcile, services],
        seconds=_seconds(timing.reconcile_every),
        id="reconcile",
        next_run_time=now,
    )
    scheduler.add_job(
        as_leader,
        "interval",
        args=[leadership, gather_digests, services],
        seconds=_seconds(timing.digests_every),
        id="digests",
        next_run_time=now,
    )
    scheduler.add_job(
        as_leader,
        "interval",
        args=[leadership, forget_ended_mutes, services],
        hours=1,
        id="mutes",
    )
    scheduler.add_job(
        _keep_lease, "interval", args=[leadership], seconds=_seconds(timing.lease_ttl) / 3
    )
    scheduler.add_listener(_on_shutdown(services, leadership), EVENT_SCHEDULER_SHUTDOWN)
    return scheduler


def as_leader(leadership: Leadership, job: Callable[..., None], *args: object) -> None:
    """Run `job` only in the process that holds the polling lease."""
    try:
        leading = leadership.is_leader()
    except Exception:  # the database may be briefly away; the next tick tries again
        log.exception("checking the polling lease failed")
        return
    if leading:
        job(*args)


def poll_and_deliver(services: Services, source: SourceConfig) -> None:
    """Poll one source; if it queued deliveries, send them now rather than at the next tick."""
    report = poll_source(services.sessions, source)
    if report.ingest.queued:
        deliver_pending(services)


def deliver_pending(services: Services) -> None:
    try:
        services.deliverer.deliver_pending()
    except Exception:  # the database may be briefly away; the next tick tries again
        log.exception("delivery run failed")


def gather_digests(services: Services) -> None:
    """Close the digest periods that have ended; post the digests now rather than next tick."""
    try:
        queued = gather_due_digests(services.sessions)
    except Exception:
        log.exception("gathering due digests failed")
        return
    if queued:
        deliver_pending(services)


def forget_ended_mutes(services: Services) -> None:
    """Mutes end by themselves (nothing reads an ended one); this only tidies the table."""
    try:
        with transaction(services.sessions) as session:
            mutes.delete_expired(session, now=utcnow() - MUTE_KEPT_AFTER_END)
    except Exception:
        log.exception("forgetting ended mutes failed")


def reconcile(services: Services) -> None:
    try:
        services.deliverer.reconcile_stale_claims()
    except Exception:
        log.exception("reconciling stale deliveries failed")


def _keep_lease(leadership: Leadership) -> None:
    try:
        leadership.is_leader()
    except Exception:
        log.exception("renewing the polling lease failed")


def _on_shutdown(services: Services, leadership: Leadership) -> Callable[[SchedulerEvent], None]:
    def leave(_event: SchedulerEvent) -> None:
        try:
            leadership.resign()
            services.deliverer.leave()
        except Exception:
            log.exception("releasing the worker's leases failed")

    return leave


def _seconds(interval: timedelta) -> float:
    return interval.total_seconds()
