"""The WSGI app: /slack/events (Bolt), /healthz, and push ingest at POST /signals.

`bot.web:app` builds it from the environment on first use, for gunicorn and friends.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import cache

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.app import Services, build_services
from bot.config import Settings
from bot.health import health_report
from bot.ingest import ingest
from bot.slack_app import build_bolt_app
from bot.sources.json_signals import signals_from_payload
from bot.store.db import transaction

log = logging.getLogger(__name__)

PUSH_SOURCE = "push"
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


def _bolt_app(services: Services) -> App | None:
    settings = services.settings
    if services.slack_client is None or settings.slack_signing_secret is None:
        return None
    return build_bolt_app(
        client=services.slack_client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        commands=services.commands,
    )


def _push(services: Services) -> tuple[Response, int]:
    token = services.settings.signal_ingest_token
    if token is None:
        return jsonify(error="push ingest is off: set SIGNAL_INGEST_TOKEN to turn it on"), 404
    if not _bearer_matches(request.headers.get("Authorization", ""), token.get_secret_value()):
        return jsonify(error="missing or wrong bearer token"), 401
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify(error="the body is not JSON", problems=[]), 422
    try:
        signals = [s.keyed(PUSH_SOURCE) for s in signals_from_payload(payload)]
    except ValidationError as error:
        problems = [{"field": _field_path(e["loc"]), "problem": e["msg"]} for e in error.errors()]
        return jsonify(error="invalid signal", problems=problems), 422
    with transaction(services.sessions) as session:
        report = ingest(session, signals, announce=True)
    if report.queued:
        services.deliverer.deliver_pending()
    body = {"stored": report.new + report.revised, "new": report.new, "unchanged": report.unchanged}
    return jsonify(body), 201 if report.new else 200


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


@cache
def _app_from_environment() -> Flask:
    return create_app(build_services(Settings()))


def __getattr__(name: str) -> Flask:
    # `bot.web:app` for WSGI servers, built lazily so importing this module has no side effects.
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)
