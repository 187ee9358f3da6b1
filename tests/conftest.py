"""Shared fixtures: real databases (SQLite, and PostgreSQL when available), a fake Slack on
loopback, and the real services wired exactly as `signal-bot run` wires them."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack, read_by_slack
from hypothesis import settings
from postgres_cluster import ClusterUnavailable, ThrowawayCluster, server_binaries
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from waitress.server import create_server

from bot import slack_app
from bot.app import Services, build_services
from bot.cli import main
from bot.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "briefs" / "seed_meta_muse_spark.txt"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
POSTGRES_URL_VARIABLE = "SIGNAL_BOT_TEST_POSTGRES_URL"

# No wall-clock limit per example: on a loaded machine Hypothesis's default deadline (200 ms)
# failed tests that were right (a test asserts what it checks, never how long it took).
settings.register_profile("signal-bot", deadline=None)
settings.load_profile("signal-bot")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for this test session (one per xdist worker): the one
    SIGNAL_BOT_TEST_POSTGRES_URL names, else a throwaway cluster started from the installed
    binaries and stopped at the end. Without either the PostgreSQL tests skip, with one reason;
    on CI (`CI=true`) they fail instead, so CI cannot pass without running them."""
    if url := os.environ.get(POSTGRES_URL_VARIABLE):
        yield url
        return
    try:
        cluster = ThrowawayCluster(server_binaries())
    except ClusterUnavailable as unavailable:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the PostgreSQL tests: {unavailable}")
        pytest.skip(str(unavailable))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    yield from throwaway_postgres_database(postgres_server)


POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=["sqlite", POSTGRESQL])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'signal-bot.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def throwaway_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on `server_url`, dropped (even if still in use) afterwards."""
    name = f"signal_bot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def patient_slack_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Slack wants a slash command's answer within 3 s, so the app answers through
    response_url whatever takes longer than its budget. The fake has no such deadline, and a
    loaded test machine can miss the budget, which would turn a direct answer into a deferred
    one at random: tests wait for the answer itself. The test of the deferred path sets its own."""
    monkeypatch.setattr(slack_app, "ANSWER_BUDGET_SECONDS", 60.0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'signal-bot.db'}"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack; a test fails if it sent anything real Slack would refuse as malformed."""
    with FakeSlack() as fake:
        yield fake
    if not fake.expect_refusals:
        assert not fake.refusals, f"Slack would have refused these messages: {fake.refusals}"


@pytest.fixture
def signals_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "signals"
    folder.mkdir()
    return folder


@pytest.fixture
def sources_file(tmp_path: Path, signals_dir: Path) -> Path:
    path = tmp_path / "signal-bot.toml"
    path.write_text(
        f'[[sources]]\nname = "optyx"\nkind = "folder"\npath = "{signals_dir}"\ninterval = "1s"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings(database_url: str, slack: FakeSlack, sources_file: Path) -> Settings:
    return http_mode_settings(database_url, slack, sources_file)


def http_mode_settings(database_url: str, slack: FakeSlack, sources_file: Path) -> Settings:
    """HTTP mode against the fake Slack, with every secret set."""
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.base_url,
        database_url=database_url,
        signal_bot_config=sources_file,
        signal_ingest_token="push-secret",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def web_url(services: Services, slack: FakeSlack) -> Iterator[str]:
    """The real WSGI app behind the real waitress server on 127.0.0.1; what it answers Slack
    is checked as Slack would (a refusal fails the test, see `slack`)."""
    from bot.web import create_app

    app = read_by_slack(create_app(services), slack)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=_serve_until_closed, args=[server], daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
    server.task_dispatcher.shutdown()  # no request thread outlives its test


def _serve_until_closed(server: Any) -> None:
    # server.close() pulls the socket from under waitress's loop: that OSError is the stop.
    with contextlib.suppress(OSError):
        server.run()


def clear_slack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local mode, whatever the developer's shell exports."""
    for variable in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_STATE_SECRET",
        "TEMPLATES_DIR",
    ):
        monkeypatch.delenv(variable, raising=False)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`signal-bot ARGV` in this process: exit code, stdout, stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail saying `what` did not happen within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
