"""A worker's sign of life: a lease renewed while it delivers. Claims held by a worker whose
lease ran out are reconciled; the live count splits the workspace-wide cap between workers."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.deliver.clock import Clock
from bot.store import leases
from bot.store.db import transaction


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random tail (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Presence:
    """Keeps this worker's presence lease fresh; thread-safe."""

    def __init__(
        self, sessions: sessionmaker[Session], worker: str, ttl: timedelta, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.worker = worker
        self.ttl = ttl
        self.clock = clock
        self._renewed_at: float | None = None
        self._live_count = 1
        self._lock = threading.Lock()

    def keep_alive(self) -> None:
        """Renew the lease if a third of its time has passed, and recount live workers."""
        with self._lock:
            moment = self.clock.monotonic()
            if self._renewed_at is not None and moment - self._renewed_at < self._renew_every:
                return
            now = self.clock.now()
            with transaction(self.sessions) as session:
                name = leases.presence_name(self.worker)
                leases.acquire(session, name, self.worker, ttl=self.ttl, now=now)
                self._live_count = max(1, leases.count_live_workers(session, now=now))
            self._renewed_at = moment

    @property
    def live_workers(self) -> int:
        """How many workers were delivering at the last renewal (this one included)."""
        return self._live_count

    def leave(self) -> None:
        """A clean shutdown: the others need not wait for the lease to run out."""
        with transaction(self.sessions) as session:
            leases.release(session, leases.presence_name(self.worker), self.worker)
        self._renewed_at = None

    @property
    def _renew_every(self) -> float:
        return self.ttl.total_seconds() / 3
