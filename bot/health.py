"""Health: the database, the scheduler, each source and Slack, as /healthz and the CLI show it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.app import Services
from bot.store import outbox
from bot.store import source_state as state_store
from bot.store.db import is_reachable, transaction
from bot.store.models import utcnow

FAILING_FOR_LONG = timedelta(hours=1)


def health_report(
    services: Services, *, scheduler_running: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """A JSON-ready report; `status` is ok, degraded (with reasons) or unavailable."""
    if not is_reachable(services.engine):
        return {"status": "unavailable", "database": False, "reasons": ["database unreachable"]}
    sources = source_health(services)
    reasons = [f"source {s['name']}: {s['last_error']}" for s in sources if s["failing"]]
    reasons += [
        f"source {s['name']}: {s['files_with_errors']} file(s) could not be read"
        for s in sources
        if s["files_with_errors"]
    ]
    stopped = services.deliverer.health.stopped_reason
    if stopped:
        reasons.append(stopped)
    with transaction(services.sessions) as session:
        deliveries = outbox.count_by_state(session)
    if deliveries.get("failed"):
        reasons.append(f"{deliveries['failed']} deliveries failed (signal-bot deliveries)")
    return {
        "status": "degraded" if reasons else "ok",
        "database": True,
        "scheduler": scheduler_running() if scheduler_running else None,
        "slack": {
            "mode": _slack_mode(services),
            "sending": stopped is None,
            "stopped_reason": stopped,
        },
        "sources": sources,
        "deliveries": deliveries,
        "reasons": reasons,
    }


def source_health(services: Services) -> list[dict[str, Any]]:
    configured = {source.name: source for source in services.settings.sources}
    with transaction(services.sessions) as session:
        states = {state.name: state for state in state_store.all_source_states(session)}
        errors = {name: state_store.file_errors(session, name) for name in configured}
    report = []
    for name, source in configured.items():
        state = states.get(name)
        failing = bool(
            state
            and state.last_error_at
            and (state.last_success_at is None or state.last_error_at > state.last_success_at)
        )
        report.append(
            {
                "name": name,
                "kind": source.kind,
                "interval_seconds": source.interval.total_seconds(),
                "primed": bool(state and state.primed),
                "last_poll_at": _iso(state.last_poll_at if state else None),
                "last_success_at": _iso(state.last_success_at if state else None),
                "last_error": state.last_error if state and failing else None,
                "failing": failing,
                "failing_for_long": failing and _failing_since(state) > FAILING_FOR_LONG,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "items_seen": state.items_seen if state else 0,
                "items_new": state.items_new if state else 0,
                "files_with_errors": len(errors[name]),
                "file_errors": [row.error for row in errors[name][:10]],
            }
        )
    return report


def _failing_since(state: Any) -> timedelta:
    since: datetime | None = state.last_success_at
    return utcnow() - since if since else timedelta.max


def _slack_mode(services: Services) -> str:
    settings = services.settings
    if settings.slack_bot_token is None:
        return "local"
    return "socket" if settings.slack_app_token else "http"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
