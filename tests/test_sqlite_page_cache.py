"""The processes that answer searches keep a larger SQLite page cache per connection."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import http_mode_settings
from fake_slack import FakeSlack
from sqlalchemy import Engine, text

from bot import cli
from bot.app import Services, build_services
from bot.store.db import SERVING_PAGE_CACHE_KIB, make_engine

SQLITE_DEFAULT_CACHE_KIB = 2000  # `PRAGMA cache_size` answers -2000: 2,000 KiB


def cache_kib(engine: Engine) -> int:
    with engine.connect() as connection:
        return -int(connection.execute(text("PRAGMA cache_size")).scalar_one())


def test_every_connection_of_a_serving_engine_has_the_larger_cache(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}", page_cache_kib=SERVING_PAGE_CACHE_KIB)
    try:
        # Two connections at once: the second is a new one, tuned as it connects.
        with engine.connect() as first, engine.connect() as second:
            sizes = [c.execute(text("PRAGMA cache_size")).scalar_one() for c in (first, second)]
        assert sizes == [-SERVING_PAGE_CACHE_KIB] * 2
    finally:
        engine.dispose()


def test_other_processes_keep_sqlites_default(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        assert cache_kib(engine) == SQLITE_DEFAULT_CACHE_KIB
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["web", "run"])
def test_the_serving_commands_build_their_services_with_the_larger_cache(
    command: str,
    slack: FakeSlack,
    sources_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`signal-bot web` and `signal-bot run` wire the services as any command does, with the
    serving cache: stopped before serving, the engine they built is looked at."""
    settings = http_mode_settings(f"sqlite:///{tmp_path / 'bot.db'}", slack, sources_file)
    built: list[Services] = []

    def build_and_stop(*args: object, **kwargs: object) -> Services:
        services = build_services(*args, **kwargs)  # type: ignore[arg-type]
        built.append(services)
        raise SystemExit(0)

    monkeypatch.setattr(cli, "Settings", lambda: settings)
    monkeypatch.setattr(cli, "build_services", build_and_stop)
    with pytest.raises(SystemExit):
        cli.main([command])
    try:
        assert cache_kib(built[0].engine) == SERVING_PAGE_CACHE_KIB
    finally:
        built[0].engine.dispose()
