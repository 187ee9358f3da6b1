"""Health: the database, the scheduler, each source and Slack, as /healthz and the CLI show it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings, SourceConfig
from bot.redaction import redact
from bot.search.backends.level_index import search_index_kind
from bot.sources.push import PUSH_SOURCE
from bot.store import outbox
from bot.store import source_state as state_store
from bot.store.db import is_reachable, transaction
from bot.store.models import SourceFile, SourceState, utcnow

# A source failing for longer than this (or three of its intervals, if longer) is flagged.
FAILING_FOR_LONG = timedelta(hours=1)


class SendingStatus(Protocol):
    def stopped_reason(self) -> str | None:
        """Why sending to Slack is stopped for the workspace, or None while it works."""
        ...


class InstalledWorkspaces(Protocol):
    def count_workspaces(self) -> int: ...


class HealthSources(Protocol):
    """What a health report reads (the composition root's Services is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def deliverer(self) -> SendingStatus: ...
    @property
    def installations(self) -> InstalledWorkspaces | None:
        """Multi-workspace mode's installs; None with a single bot token."""
        ...


def health_report(
    services: HealthSources, *, scheduler_running: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """A JSON-ready report; `status` is ok, degraded (with reasons) or unavailable."""
    if not is_reachable(services.engine):
        return {"status": "unavailable", "database": False, "reasons": ["database unreachable"]}
    sources = source_health(services)
    reasons = [_failing_reason(s) for s in sources if s["failing"]]
    reasons += [
        f"source {s['name']}: {s['files_with_errors']} file(s) could not be read"
        for s in sources
        if s["files_with_errors"]
    ]
    stopped = services.deliverer.stopped_reason()  # shared by every worker
    if stopped:
        reasons.append(stopped)
    with transaction(services.sessions) as session:
        deliveries = outbox.count_by_state(session)
        fallbacks = outbox.count_fallbacks(session)
        search_index = search_index_kind(session.connection())
    if deliveries.get("failed"):
        reasons.append(f"{deliveries['failed']} deliveries failed (signal-bot deliveries)")
    if fallbacks:
        reasons.append(
            f"{fallbacks} deliveries went out as a short fallback: Slack refused the full "
            "message (signal-bot deliveries)"
        )
    return {
        "status": "degraded" if reasons else "ok",
        "database": True,
        "scheduler": scheduler_running() if scheduler_running else None,
        "slack": {
            "mode": _slack_mode(services),
            "sending": stopped is None,
            "stopped_reason": stopped,
            **_installs(services),
        },
        "sources": sources,
        "deliveries": deliveries,
        "fallbacks": fallbacks,
        "search_index": search_index,
        "reasons": reasons,
    }


def source_health(services: HealthSources) -> list[dict[str, Any]]:
    """Each configured source (and push ingest, once used), with its health."""
    push_enabled = services.settings.signal_ingest_token is not None
    with transaction(services.sessions) as session:
        return configured_source_health(session, services.settings.sources, push_enabled)


def configured_source_health(
    session: Session, sources: Sequence[SourceConfig], push_enabled: bool
) -> list[dict[str, Any]]:
    """The configured sources (and push ingest, once used) in configuration order."""
    configured: dict[str, tuple[str, timedelta | None]] = {
        s.name: (s.kind, s.interval) for s in sources
    }
    states = {state.name: state for state in state_store.all_source_states(session)}
    if push_enabled and PUSH_SOURCE in states:
        configured.setdefault(PUSH_SOURCE, ("push", None))
    now = utcnow()
    return [
        describe_source(
            name,
            states.get(name),
            kind,
            interval,
            state_store.file_errors(session, name),
            now,
        )
        for name, (kind, interval) in configured.items()
    ]


def failing_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sources failing for long first, then failing ones: what needs a look leads."""
    return sorted(rows, key=lambda row: (not row["failing_for_long"], not row["failing"]))


def describe_source(
    name: str,
    state: SourceState | None,
    kind: str | None,
    interval: timedelta | None,
    file_errors: list[SourceFile],
    now: datetime,
) -> dict[str, Any]:
    """One source's health as JSON-ready data (what /healthz, the CLI and Slack show)."""
    failing = bool(state and state.consecutive_failures)
    failing_since = state.failing_since if state and failing else None
    return {
        "name": name,
        "kind": kind or (state.kind if state else None),
        "interval_seconds": interval.total_seconds() if interval else None,
        "primed": bool(state and state.primed),
        "last_poll_at": _iso(state.last_poll_at if state else None),
        "last_success_at": _iso(state.last_success_at if state else None),
        "next_poll_at": _iso(state.next_poll_at if state else None),
        "last_status": state.last_status if state else None,
        "last_error": _shown(state.last_error) if state and failing else None,
        "last_error_at": _iso(state.last_error_at if state and failing else None),
        "last_warning": _shown(state.last_warning) if state else None,
        "failing": failing,
        "failing_since": _iso(failing_since),
        "failing_for_long": _failing_for_long(failing_since, interval, now),
        "consecutive_failures": state.consecutive_failures if state else 0,
        "items_seen": state.items_seen if state else 0,
        "items_new": state.items_new if state else 0,
        "files_with_errors": len(file_errors),
        "file_errors": [redact(row.error or "") for row in file_errors[:10]],
    }


def _failing_for_long(since: datetime | None, interval: timedelta | None, now: datetime) -> bool:
    if since is None:
        return False
    threshold = max(FAILING_FOR_LONG, 3 * interval) if interval else FAILING_FOR_LONG
    return now - since >= threshold


def _failing_reason(source: dict[str, Any]) -> str:
    streak = f"{source['consecutive_failures']} failed poll(s) since {source['failing_since']}"
    flag = "FAILING FOR LONG: " if source["failing_for_long"] else ""
    return f"source {source['name']}: {flag}{source['last_error']} ({streak})"


def _slack_mode(services: HealthSources) -> str:
    settings = services.settings
    if settings.local_mode:
        return "local"
    return "socket" if settings.slack_app_token else "http"


def _installs(services: HealthSources) -> dict[str, Any]:
    """Multi-workspace mode: how many workspaces have the app installed."""
    if services.installations is None:
        return {}
    return {"installed_workspaces": services.installations.count_workspaces()}


def _shown(text: str | None) -> str | None:
    # Rows stored before errors were redacted at the source are redacted here too.
    return redact(text) if text else text


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
