"""Settings: the environment (and `.env`) plus the sources file. The only reader of either."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
RESERVED_SOURCE_NAMES = frozenset({"push", "cli"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str | int | float) -> timedelta:
    """`30s`, `5m`, `1h`, `1.5d` or a number of seconds -> timedelta."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


class SourceConfig(BaseModel):
    """One `[[sources]]` table of signal-bot.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Names are their own slug, so `source:NAME` filters compare them exactly.
    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Literal["folder", "feed", "json"]
    path: Path | None = None
    url: str | None = None
    interval: timedelta = timedelta(seconds=30)
    defaults: dict[str, str] = Field(default_factory=dict)
    backfill: bool = False

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if isinstance(value, str | int | float):
            interval = parse_duration(value)
            if interval < timedelta(seconds=1):
                raise ValueError("interval must be at least 1s")
            return interval
        raise ValueError("interval must be a duration like 30s, 5m or 1h")


def load_sources(path: Path) -> list[SourceConfig]:
    """Read `[[sources]]` from the sources file; a missing file means no sources."""
    if not path.exists():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    base = path.parent
    sources = []
    for index, table in enumerate(document.get("sources", [])):
        try:
            source = SourceConfig.model_validate(table)
        except ValidationError as error:
            problems = "; ".join(_describe(e) for e in error.errors())
            raise ConfigError(f"{path}: sources[{index}]: {problems}") from error
        sources.append(_checked(source, base, path))
    _reject_duplicate_names(sources, path)
    return sources


def _describe(error: object) -> str:
    assert isinstance(error, dict)
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {error['msg']}"


def _checked(source: SourceConfig, base: Path, file: Path) -> SourceConfig:
    if source.kind == "folder":
        if source.path is None:
            raise ConfigError(f"{file}: source {source.name!r} (folder) needs a path")
        folder = source.path if source.path.is_absolute() else base / source.path
        return source.model_copy(update={"path": folder})
    if not source.url:
        raise ConfigError(f"{file}: source {source.name!r} ({source.kind}) needs a url")
    return source


def _reject_duplicate_names(sources: list[SourceConfig], file: Path) -> None:
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{file}: source names must be unique: {', '.join(duplicates)}")
    reserved = sorted(set(names) & RESERVED_SOURCE_NAMES)
    if reserved:
        raise ConfigError(
            f"{file}: {', '.join(reserved)} is the name signals get from "
            "POST /signals (push) or `signal-bot ingest` (cli): pick another source name"
        )


class Settings(BaseSettings):
    """Everything signal-bot reads from the environment (CONTRACT.md, Configuration)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # A SecretStr: a PostgreSQL URL holds its password.
    database_url: SecretStr = SecretStr("sqlite:///signal-bot.db")
    port: int = 3000
    signal_bot_config: Path = Path("signal-bot.toml")
    signal_ingest_token: SecretStr | None = None
    templates_dir: Path | None = None
    # Workspace-wide cap on chat.* writes per workspace; 429s teach each workspace lower.
    signal_bot_posts_per_minute: float = Field(default=1200, gt=0, le=100_000)
    signal_bot_send_concurrency: int = Field(default=16, ge=1, le=256)
    signal_bot_log_format: Literal["text", "json"] = "text"
    # All three set: multi-workspace mode (OAuth install flow, a token per workspace).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_state_secret: SecretStr | None = None
    # Who may change channel subscriptions and mutes: `everyone`, `admins`, or user IDs
    # (workspace admins and owners always may). See bot.managers.
    signal_bot_managers: str = "everyone"
    # `signal-bot web` processes sharing $PORT (bot.web_workers); `--workers N` overrides.
    # WEB_CONCURRENCY is the platforms' name (Heroku sets it by dyno size; gunicorn reads it).
    signal_bot_web_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        validation_alias=AliasChoices("signal_bot_web_workers", "web_concurrency"),
    )

    @property
    def local_mode(self) -> bool:
        """No token at all: deliveries go to the terminal and commands are typed on the CLI."""
        return self.slack_bot_token is None and not self.multi_workspace

    @property
    def multi_workspace(self) -> bool:
        """Installed through OAuth in any number of workspaces, each with its own token."""
        return bool(self.slack_client_id and self.slack_client_secret and self.slack_state_secret)

    def secret_values(self) -> list[str]:
        """Every secret this process holds, to mask wherever text leaves it."""
        values = [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        try:
            password = make_url(self.database_url.get_secret_value()).password
        except ArgumentError:
            password = None  # not a URL at all: connecting will say so
        return values + ([str(password)] if password else [])

    @cached_property
    def sources(self) -> list[SourceConfig]:
        """The sources declared in the sources file."""
        return load_sources(self.signal_bot_config)

    def require_http_secrets(self) -> None:
        """HTTP mode cannot verify Slack's requests without the signing secret."""
        if self.slack_bot_token and not self.slack_signing_secret and not self.slack_app_token:
            raise ConfigError("SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN in HTTP mode")
        if self.multi_workspace and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required with SLACK_CLIENT_ID (install flow)"
            )
        if self.multi_workspace and self.slack_app_token:
            raise ConfigError(
                "the install flow (SLACK_CLIENT_ID …) runs in HTTP mode: Slack does not let "
                "Socket Mode apps be installed in other workspaces; unset SLACK_APP_TOKEN"
            )
        oauth = (self.slack_client_id, self.slack_client_secret, self.slack_state_secret)
        if any(oauth) and not all(oauth):
            raise ConfigError(
                "the install flow needs all of SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                "SLACK_STATE_SECRET"
            )
