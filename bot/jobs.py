"""APScheduler wiring: poll each source on its interval, deliver the outbox, reconcile claims."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.app import Services
from bot.config import SourceConfig
from bot.sources import poll_source

log = logging.getLogger(__name__)

DELIVER_EVERY_SECONDS = 2
RECONCILE_EVERY_SECONDS = 60


def build_scheduler(services: Services) -> BackgroundScheduler:
    """One job per source plus delivery and housekeeping; no job ever runs twice at once."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    for source in services.settings.sources:
        scheduler.add_job(
            poll_and_deliver,
            "interval",
            args=[services, source],
            seconds=source.interval.total_seconds(),
            jitter=min(source.interval.total_seconds() / 10, 5),
            id=f"poll:{source.name}",
            name=f"poll {source.name}",
            next_run_time=datetime.now().astimezone(),
        )
    scheduler.add_job(
        deliver_pending, "interval", args=[services], seconds=DELIVER_EVERY_SECONDS, id="deliver"
    )
    scheduler.add_job(
        reconcile, "interval", args=[services], seconds=RECONCILE_EVERY_SECONDS, id="reconcile"
    )
    return scheduler


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


def reconcile(services: Services) -> None:
    try:
        services.deliverer.reconcile_stale_claims()
    except Exception:
        log.exception("reconciling stale deliveries failed")
