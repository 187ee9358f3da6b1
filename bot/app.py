"""The composition root: builds the database, Slack client, renderer and services from Settings."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import SlackChannels
from bot.commands import ChannelAccess, Commands, OpenChannels
from bot.config import Settings
from bot.deliver import Deliverer
from bot.deliver.clock import Clock
from bot.deliver.outcome import DeliveryLimits, Poster
from bot.deliver.slack_poster import SlackPoster
from bot.deliver.terminal_poster import TerminalPoster
from bot.people import NoPeople, SlackPeople
from bot.redaction import install_log_redaction
from bot.render import Renderer
from bot.store.db import make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)

LOCAL_CHANNEL = "local"
PREVIEW_DIR = Path("local-preview")


@dataclass(frozen=True)
class Services:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    renderer: Renderer
    slack_client: WebClient | None
    commands: Commands
    deliverer: Deliverer


def build_services(
    settings: Settings,
    *,
    out: TextIO = sys.stdout,
    migrate: bool = True,
    delivery_limits: DeliveryLimits | None = None,
    clock: Clock | None = None,
) -> Services:
    """Wire the stages together for `settings` (applying pending migrations unless told not to)."""
    install_log_redaction(settings.secret_values())
    engine = make_engine(settings.database_url.get_secret_value())
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    renderer = Renderer(settings.templates_dir)
    client = make_slack_client(settings)
    poster: Poster
    channels: ChannelAccess
    if client is None:
        poster, channels = TerminalPoster(out, PREVIEW_DIR), OpenChannels()
    else:
        poster, channels = SlackPoster(client), SlackChannels(client)
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        renderer=renderer,
        slack_client=client,
        commands=Commands(
            sessions,
            renderer,
            channels,
            sources=settings.sources,
            push_enabled=settings.signal_ingest_token is not None,
            people=NoPeople() if client is None else SlackPeople(client),
            clock=clock,
        ),
        deliverer=Deliverer(sessions, poster, renderer, delivery_limits, clock=clock),
    )


def make_slack_client(settings: Settings) -> WebClient | None:
    """The one WebClient of the process, pointed at SLACK_API_URL; None in local mode."""
    if settings.slack_bot_token is None:
        return None
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )
