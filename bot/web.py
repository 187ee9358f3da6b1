"""The WSGI app: /slack/events (Bolt), /healthz, /metrics, and push ingest at POST /signals.

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
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from werkzeug.exceptions import RequestEntityTooLarge

from bot import metrics
from bot.app import Services, build_services
from bot.config import Settings
from bot.health import health_report
from bot.installs import oauth_settings
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
        if services.installations is not None:  # the install flow: Bolt answers both
            for path in ("/slack/install", "/slack/oauth_redirect"):
                web.add_url_rule(path, path, lambda: handler.handle(request), methods=["GET"])

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        report = health_report(services, scheduler_running=scheduler_running)
        return jsonify(report), 503 if report["status"] == "unavailable" else 200

    @web.post("/signals")
    def push_signals() -> tuple[Response, int]:
        return _push(services)

    @web.get("/metrics")
    def prometheus_metrics() -> Response:
        text = metrics.exposition(services.sessions)
        return Response(text, content_type=metrics.CONTENT_TYPE_LATEST)

    return web


def workspace_stopper(services: Services) -> Callable[[str, str], None]:
    """What Slack's app_uninstalled / tokens_revoked events do: stop sending to that
    workspace (forgetting its install), or everywhere with a single bot token."""
    installations = services.installations

    def stop(reason: str, team_id: str) -> None:
        if installations is not None and team_id:
            installations.uninstalled(team_id, reason)
            return
        log.error("stopped sending: %s", reason)
        with transaction(services.sessions) as session:
            stop_workspace(session, reason, now=utcnow())

    return stop


def _bolt_app(services: Services) -> App | None:
    settings = services.settings
    if services.slack_client is None or settings.slack_signing_secret is None:
        return None
    installations = services.installations
    return build_bolt_app(
        client=_tokenless(services.slack_client) if installations else services.slack_client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        commands=services.commands,
        on_app_removed=workspace_stopper(services),
        oauth_settings=oauth_settings(settings, installations) if installations else None,
        workspace_clients=services.workspace_clients,
    )


def _tokenless(client: WebClient) -> WebClient:
    """Bolt finds each request's token itself when workspaces install the app."""
    return WebClient(base_url=client.base_url, timeout=client.timeout)


def socket_mode_handler(services: Services) -> SocketModeHandler | None:
    """With SLACK_APP_TOKEN: Slack's requests over a WebSocket, to the same Bolt listeners."""
    settings = services.settings
    if settings.slack_app_token is None or services.slack_client is None:
        return None
    secret = settings.slack_signing_secret
    bolt = build_bolt_app(
        client=services.slack_client,
        signing_secret=secret.get_secret_value() if secret else "",
        commands=services.commands,
        on_app_removed=workspace_stopper(services),
        workspace_clients=services.workspace_clients,
    )
    return SocketModeHandler(bolt, settings.slack_app_token.get_secret_value())


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
