"""Secrets never leave the process: planted in every setting and in the feeds' URLs, they show
up in no log line (DEBUG, every logger), no /healthz body, no Slack reply, no CLI output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import clear_slack_environment, run_cli
from fake_slack import FakeSlack
from feed_server import FeedServer, Route, rss
from slack_signing import sign, slash_command_body
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot.app import Services
from bot.config import Settings
from bot.redaction import redact, redact_url
from bot.sources import poll_source
from bot.store.db import transaction
from bot.store.models import StoredSignal

FEED_USER, FEED_PASSWORD, FEED_TOKEN = "feed-user-a1", "feed-password-b2", "feed-token-c3"
BOT_TOKEN = "xoxb-planted-bot-token-d4"
SIGNING_SECRET = "planted-signing-secret-e5"
INGEST_TOKEN = "planted-ingest-token-f6"
DATABASE_PASSWORD = "planted-database-password-g7"
PLANTED = [FEED_USER, FEED_PASSWORD, FEED_TOKEN, BOT_TOKEN, SIGNING_SECRET, INGEST_TOKEN]


# --- the rules ---------------------------------------------------------------------------------

REDACTED_URLS = {
    "https://user:pass@host.example/feed?token=x": "https://host.example/feed?…",
    "https://host.example:8443/a/b?x=1&y=2#part": "https://host.example:8443/a/b?…#…",
    "http://token@host.example/": "http://host.example/",
    "https://host.example/plain/path": "https://host.example/plain/path",
    "postgresql+psycopg://app:s3cret@db:5432/bot?sslmode=require": "postgresql+psycopg://db:5432/bot?…",
    "sqlite:///signal-bot.db": "sqlite:///signal-bot.db",
    "https://[::1]:8080/feed?k=v": "https://[::1]:8080/feed?…",
}  # fmt: skip


@pytest.mark.parametrize(("url", "shown"), REDACTED_URLS.items(), ids=list(REDACTED_URLS))
def test_a_url_keeps_where_it_points_and_loses_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redacting_twice_changes_nothing_more() -> None:
    error = f"{redact_url('https://u:p@h.example/feed?t=1')}:3: not an RSS, Atom or JSON feed"

    assert redact(error) == error == "https://h.example/feed?…:3: not an RSS, Atom or JSON feed"


def test_redact_finds_urls_and_tokens_inside_any_text() -> None:
    text = (
        "bad URL 'https://u:p@feeds.example/x?token=abc': refused; "
        "see <https://a.example/b?c=d|here>, token xoxb-123-456-abcdef, app xapp-1-A1-2-ff, "
        "and the password hunter2hunter2"
    )

    shown = redact(text, ["hunter2hunter2", "xy"])

    assert shown == (
        "bad URL 'https://feeds.example/x?…': refused; see <https://a.example/b?…|here>, "
        "token xoxb-**********, app xapp-**********, and the password **********"
    )


def test_settings_name_every_secret_including_the_database_password() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        signal_ingest_token=INGEST_TOKEN,
        database_url=f"postgresql://bot:{DATABASE_PASSWORD}@db.example/bot",
    )

    assert set(settings.secret_values()) >= {
        BOT_TOKEN,
        SIGNING_SECRET,
        INGEST_TOKEN,
        DATABASE_PASSWORD,
    }
    assert DATABASE_PASSWORD not in repr(settings)
    assert DATABASE_PASSWORD not in str(settings.model_dump())


# --- the whole app, with secrets planted everywhere ---------------------------------------------


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/good", Route(rss(("a", "Alpha"))))
        server.route("/down", Route(b"oops", status=500))
        server.route("/garbage", Route(b"<html>not a feed</html>", content_type="text/html"))
        yield server


def secret_url(feeds: FeedServer, path: str) -> str:
    """The feed's URL with credentials and a token, as a careless operator would write it."""
    plain = feeds.url(path)
    return plain.replace("http://", f"http://{FEED_USER}:{FEED_PASSWORD}@") + f"?token={FEED_TOKEN}"


@pytest.fixture
def sources_file(tmp_path: Path, feeds: FeedServer) -> Path:
    """Overrides conftest's: three feeds whose URLs hold secrets; one fails, one is garbage."""
    path = tmp_path / "signal-bot.toml"
    path.write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{secret_url(feeds, path)}"\n\n'
            for name, path in [("good", "/good"), ("down", "/down"), ("garbage", "/garbage")]
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def planted_database_url(database_url: str) -> str:
    """The test database's URL with a password (PostgreSQL's trust auth ignores it)."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        return database_url
    return url.set(password=DATABASE_PASSWORD).render_as_string(hide_password=False)


@pytest.fixture
def settings(planted_database_url: str, slack: FakeSlack, sources_file: Path) -> Settings:
    """Overrides conftest's: HTTP mode with every secret planted."""
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.base_url,
        database_url=planted_database_url,
        signal_bot_config=sources_file,
        signal_ingest_token=INGEST_TOKEN,
    )


def planted(settings: Settings) -> list[str]:
    database_password = make_url(settings.database_url.get_secret_value()).password
    return PLANTED + ([DATABASE_PASSWORD] if database_password else [])


def leaks(output: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in output]


def test_planted_secrets_leave_by_no_door(
    services: Services,
    web_url: str,
    slack: FakeSlack,
    feeds: FeedServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = planted(services.settings)

    for source in services.settings.sources:
        poll_source(services.sessions, source)
    health_answer = httpx.get(f"{web_url}/healthz")
    health = health_answer.text + json.dumps(health_answer.json(), ensure_ascii=False)
    sources_reply = slash_sources(web_url, slack)
    wrong_push = httpx.post(
        f"{web_url}/signals", json={}, headers={"Authorization": f"Bearer {FEED_TOKEN}"}
    ).text
    good_push = httpx.post(
        f"{web_url}/signals",
        json={"title": "Pushed", "published": "2026-04-23", "url": secret_url(feeds, "/x")},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    ).text
    cli = cli_outputs(services.settings, feeds, capsys, monkeypatch)
    logged = caplog.text + "".join(
        f"{record.getMessage()}{record.exc_text or ''}" for record in caplog.records
    )

    outputs = {
        "/healthz": health,
        "/signals sources": sources_reply,
        "POST /signals (wrong token)": wrong_push,
        "POST /signals": good_push,
        **cli,
        "logs": logged,
    }
    assert {door: leaks(text, secrets) for door, text in outputs.items()} == {
        door: [] for door in outputs
    }
    # Redacted, not removed: people still see which source failed and where it points.
    garbage_where = redact_url(secret_url(feeds, "/garbage"))
    assert garbage_where == feeds.url("/garbage") + "?…"
    assert garbage_where in health
    assert garbage_where in sources_reply
    assert garbage_where in cli["signal-bot sources"]
    assert "HTTP 500" in health
    assert f"GET {feeds.url('/good')}?…" in logged, "httpx's request log, redacted"


def slash_sources(web_url: str, slack: FakeSlack) -> str:
    body = slash_command_body(
        "/signals", "sources", channel_id="C0AI", response_url=slack.response_url("sources")
    )
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(f"{web_url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return json.dumps(response.json(), ensure_ascii=False)


def cli_outputs(
    settings: Settings,
    feeds: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """`signal-bot sources`, and `ingest` of secret URLs, with every secret in the environment."""
    clear_slack_environment(monkeypatch)
    environment = {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "SIGNAL_BOT_CONFIG": str(settings.signal_bot_config),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": settings.slack_api_url,
        "SIGNAL_INGEST_TOKEN": INGEST_TOKEN,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    outputs = {}
    for name, argv in {
        "signal-bot sources": ["sources"],
        "signal-bot ingest (garbage)": ["ingest", secret_url(feeds, "/garbage")],
        "signal-bot ingest (down)": ["ingest", secret_url(feeds, "/down")],
        "signal-bot ingest (bad URL)": ["ingest", f"http://{FEED_USER}:{FEED_PASSWORD}@[::1"],
        "signal-bot -v ingest (good)": ["-v", "ingest", secret_url(feeds, "/good")],
    }.items():
        code, out, err = run_cli(capsys, *argv)
        outputs[name] = f"exit {code}\n{out}{err}"
    return outputs


RELATIVE_LINK_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><guid>r1</guid><title>Relative</title><link>/articles/1?page=2</link>"
    b"<pubDate>Wed, 06 Apr 2022 21:07:47 +0000</pubDate></item></channel></rss>"
)


def test_relative_links_do_not_carry_the_feed_url_secrets(
    services: Services, feeds: FeedServer
) -> None:
    feeds.route("/relative", Route(RELATIVE_LINK_FEED))
    source = services.settings.sources[0].model_copy(
        update={"name": "relative", "url": secret_url(feeds, "/relative")}
    )

    report = poll_source(services.sessions, source)

    assert report.errors == []
    with transaction(services.sessions) as session:
        (url,) = session.scalars(select(StoredSignal.url).where(StoredSignal.source == "relative"))
    assert url == feeds.url("/articles/1?page=2"), "joined to the feed's host, nothing more"


def test_an_unreachable_database_url_keeps_its_password(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clear_slack_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    unreachable = f"postgresql+psycopg://bot:{DATABASE_PASSWORD}@127.0.0.1:1/bot?connect_timeout=5"
    monkeypatch.setenv("DATABASE_URL", unreachable)
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(tmp_path / "none.toml"))

    code, out, err = run_cli(capsys, "db", "upgrade")

    assert code != 0
    assert "127.0.0.1" in err, "the error still says where it could not connect"
    assert DATABASE_PASSWORD not in out + err + caplog.text


# --- /healthz when the database is gone ----------------------------------------------------------


def test_healthz_is_503_when_the_database_is_down(services: Services, web_url: str) -> None:
    assert httpx.get(f"{web_url}/healthz").status_code == 200

    take_database_down(services)
    answer = httpx.get(f"{web_url}/healthz")

    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "database": False,
        "reasons": ["database unreachable"],
    }
    assert not leaks(answer.text, planted(services.settings))


def take_database_down(services: Services) -> None:
    url = make_url(services.settings.database_url.get_secret_value())
    services.engine.dispose()
    if url.drivername.startswith("sqlite"):
        database = Path(str(url.database))
        database.unlink()
        database.mkdir()  # a folder where the file was: SQLite cannot open it
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()
