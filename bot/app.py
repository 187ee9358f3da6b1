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
from bot.deliver.outcome import DeliveryLimits, Poster, TeamPosters
from bot.deliver.slack_poster import SlackPoster
from bot.deliver.terminal_poster import TerminalPoster
from bot.installs import WorkspaceInstallations
from bot.managers import ManagerPolicy, Permissions
from bot.people import NoPeople, SlackPeople, WorkspaceClients, one_workspace
from bot.redaction import install_log_redaction
from bot.render import Renderer
from bot.slack.roles import SlackRoles
from bot.store.db import make_engine, make_session_factory, upgrade
from bot.workspaces import InstalledPosters, TeamChannels

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
    # Multi-workspace mode: each workspace's install (and so its token); None with one token.
    installations: WorkspaceInstallations | None = None
    # The client to act with in a workspace (users.info, views.publish); None in local mode.
    workspace_clients: WorkspaceClients | None = None


def build_services(
    settings: Settings,
    *,
    out: TextIO = sys.stdout,
    migrate: bool = True,
    delivery_limits: DeliveryLimits | None = None,
    clock: Clock | None = None,
    page_cache_kib: int | None = None,
) -> Services:
    """Wire the stages together for `settings` (applying pending migrations unless told not to;
    `page_cache_kib`: bot.store.db.make_engine)."""
    delivery_limits = delivery_limits or limits_from(settings)
    install_log_redaction(settings.secret_values())
    engine = make_engine(settings.database_url.get_secret_value(), page_cache_kib=page_cache_kib)
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    renderer = Renderer(settings.templates_dir)
    client = make_slack_client(settings)
    poster: Poster | TeamPosters
    channels: ChannelAccess
    installations = None
    clients: WorkspaceClients | None = None
    if settings.multi_workspace:
        assert client is not None
        assert settings.slack_client_id
        installations = WorkspaceInstallations(settings.slack_client_id, engine, sessions)
        single = SlackPoster(client) if client.token else None
        poster = InstalledPosters(installations, client, fallback=single)
        channels = TeamChannels(poster, SlackChannels(client) if client.token else None)
        clients = poster.workspace_client
    elif client is None:
        poster, channels = TerminalPoster(out, PREVIEW_DIR), OpenChannels()
    else:
        poster, channels = SlackPoster(client), SlackChannels(client)
        clients = one_workspace(client)
    policy = ManagerPolicy.parse(settings.signal_bot_managers)
    permissions = Permissions(policy, SlackRoles(clients).is_workspace_admin if clients else None)
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
            permissions=permissions,
            people=NoPeople() if clients is None else SlackPeople(clients),
            clock=clock,
        ),
        deliverer=Deliverer(sessions, poster, renderer, delivery_limits, clock=clock),
        installations=installations,
        workspace_clients=clients,
    )


def limits_from(settings: Settings) -> DeliveryLimits:
    """Delivery limits: the defaults, with what the environment sets."""
    return DeliveryLimits(
        concurrency=settings.signal_bot_send_concurrency,
        workspace_per_minute=settings.signal_bot_posts_per_minute,
    )


def make_slack_client(settings: Settings) -> WebClient | None:
    """The one WebClient of the process, pointed at SLACK_API_URL; None in local mode. In
    multi-workspace mode it holds SLACK_BOT_TOKEN only if set: workspaces use their own."""
    if settings.local_mode:
        return None
    token = settings.slack_bot_token
    return WebClient(
        token=token.get_secret_value() if token else None,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )
