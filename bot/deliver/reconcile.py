"""Reconciling orphaned claims: rows a worker claimed and never settled because it died.

Such a row goes back in line. If it was being posted, it is marked unconfirmed, and the next
attempt reads the channel's history (message metadata carries the signal key) before it posts,
so a message that did go out is recorded, not sent twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.deliver.outcome import DeliveryLimits
from bot.store import digests, leases, outbox
from bot.store.db import transaction

log = logging.getLogger(__name__)


def reconcile_orphans(
    sessions: sessionmaker[Session], limits: DeliveryLimits, *, worker: str, now: datetime
) -> int:
    """Requeue in-flight rows whose worker is gone (or that are far too old); how many."""
    with transaction(sessions) as session:
        live = leases.live_workers(session, now=now) | {worker}
        orphans = outbox.orphaned_claims(
            session, live_workers=live, stale_before=now - limits.stale_claim_after
        )
        requeued = [
            row
            for row in orphans
            if outbox.requeue_orphan(session, row, now=now, max_attempts=limits.max_attempts)
        ]
        digests_requeued = digests.requeue_orphans(
            session, live_workers=live, stale_before=now - limits.stale_claim_after, now=now
        )
        leases.forget_expired(session, before=now - limits.worker_timeout * 100)
    if digests_requeued:
        log.warning("%d digest(s) left sending by a stopped worker: back in line", digests_requeued)
    for row in requeued:
        log.warning(
            "delivery %s to %s was left %s by worker %s: %s",
            row.id,
            row.channel_id,
            row.state,
            row.claimed_by,
            "failed, out of attempts" if row.attempts >= limits.max_attempts else "back in line",
        )
    return len(requeued) + digests_requeued
