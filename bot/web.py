"""The WSGI app: /slack/events (Bolt), /healthz, and push ingest at POST /signals.

`bot.web:app` builds it from the environment on first use, for gunicorn and friends.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import cache

from flask import Flask, Response, jsonify, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from werkzeug.exceptions import RequestEntityTooLarge

from bot.app import Services, build_services
from bot.config import Settings
from bot.health import health_report
from bot.slack_app import build_bolt_app
from bot.sources.push import PushRejected, ingest_pushed, signals_from_body
from bot.store.db import transaction
from bot.store.models import utcnow
from bot.store.slack_state import stop_workspace

log = logging.getLogger(__name__)

MAX_PUSH_BYTES = 5 * 1024 * 1024


def create_app(services: Services, *, scheduler_running: Callable[[], bool] | None = None) -> Flask:
    """The HTTP face of the bot; `scheduler_running` reports an in-process scheduler."""
    web = Flask("signal-bot")
    web.config["MAX_CONTENT_LENGTH"] = MAX_PUSH_BYTES
    bolt = _bolt_app(services)
    if bolt is not None:
        handler = SlackRequestHandler(bolt)
        web.add_url_rule(
            "/slack/events", "slack_events", lambda: handler.handle(request), methods=["POST"]
        )

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        report = health_report(services, scheduler_running=scheduler_running)
        return jsonify(report), 503 if report["status"] == "unavailable" else 200

    @web.post("/signals")
    def push_signals() -> tuple[Response, int]:
        return _push(services)

    return web


def workspace_stopper(services: Services) -> Callable[[str], None]:
    """What Slack's app_uninstalled / tokens_revoked events do: stop sending, everywhere."""

    def stop(reason: str) -> None:
        log.error("stopped sending: %s", reason)
        with transaction(services.sessions) as session:
            stop_workspace(session, reason, now=utcnow())

    return stop


def _bolt_app(services: Services) -> App | None:
    settings = services.settings
    if services.slack_client is None or settings.slack_signing_secret is None:
        return None
    return build_bolt_app(
        client=services.slack_client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        commands=services.commands,
        on_app_removed=workspace_stopper(services),
    )


def _push(services: Services) -> tuple[Response, int]:
    token = services.settings.signal_ingest_token
    if token is None:
        return jsonify(error="push ingest is off: set SIGNAL_INGEST_TOKEN to turn it on"), 404
    if not _bearer_matches(request.headers.get("Authorization", ""), token.get_secret_value()):
        response = jsonify(error="missing or wrong bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="signal-bot"'
        return response, 401
    try:
        signals = signals_from_body(request.get_data(cache=False))
    except RequestEntityTooLarge:
        return jsonify(error=f"the body is over {MAX_PUSH_BYTES} bytes", problems=[]), 413
    except PushRejected as rejected:
        problems = [{"field": p.field, "problem": p.problem} for p in rejected.problems]
        return jsonify(error=rejected.error, problems=problems), 422
    # Stored and queued in one transaction: the worker's deliver job posts them, so the
    # answer never waits for Slack.
    report = ingest_pushed(services.sessions, signals)
    body = {
        "stored": report.new + report.revised,
        "new": report.new,
        "revised": report.revised,
        "unchanged": report.unchanged,
        "queued": report.queued,
    }
    return jsonify(body), 202


def _bearer_matches(header: str, token: str) -> bool:
    """Constant-time check of `Bearer TOKEN`; any other header (empty, another scheme,
    non-ASCII, huge) is simply not a match."""
    scheme, _, given = header.partition(" ")
    # compare_digest refuses str holding non-ASCII; WSGI decoded the header's raw bytes as
    # Latin-1, so encoding back gives exactly what the client sent.
    given_bytes = given.strip().encode("latin-1", "replace")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode("utf-8"))


@cache
def _app_from_environment() -> Flask:
    return create_app(build_services(Settings()))


def __getattr__(name: str) -> Flask:
    # `bot.web:app` for WSGI servers, built lazily so importing this module has no side effects.
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)
