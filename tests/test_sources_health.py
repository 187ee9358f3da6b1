"""Source health where people look: /healthz, `/signals sources` and `signal-bot sources`; and
`signal-bot ingest` of feed files and URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import clear_slack_environment, run_cli
from feed_server import FeedServer, Route, rss
from slack_sdk.models.blocks import Block
from sqlalchemy import update
from test_sources_feed import CORPUS

from bot.app import Services
from bot.jobs import build_scheduler
from bot.sources import poll_source
from bot.store.db import transaction
from bot.store.models import SourceState, utcnow
from bot.store.subscriptions import ChannelRef


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.route("/good", Route(rss(("a", "Alpha"))))
        running.route("/bad", Route(b"oops", status=500))
        yield running


@pytest.fixture
def sources_file(tmp_path: Path, signals_dir: Path, server: FeedServer) -> Path:
    """Overrides conftest's: the folder source plus a healthy and a failing feed."""
    path = tmp_path / "signal-bot.toml"
    path.write_text(
        f'[[sources]]\nname = "optyx"\nkind = "folder"\npath = "{signals_dir}"\n\n'
        f'[[sources]]\nname = "good-feed"\nkind = "feed"\nurl = "{server.url("/good")}"\n\n'
        f'[[sources]]\nname = "bad-feed"\nkind = "feed"\nurl = "{server.url("/bad")}"\n',
        encoding="utf-8",
    )
    return path


def poll_all(services: Services) -> None:
    for source in services.settings.sources:
        poll_source(services.sessions, source)


def test_healthz_shows_the_failing_source_and_the_healthy_ones(
    services: Services, web_url: str
) -> None:
    poll_all(services)

    health = httpx.get(f"{web_url}/healthz").json()

    assert health["status"] == "degraded"
    sources = {source["name"]: source for source in health["sources"]}
    bad, good = sources["bad-feed"], sources["good-feed"]
    assert bad["failing"]
    assert bad["last_error"] == "HTTP 500 Internal Server Error"
    assert bad["last_status"] == 500
    assert bad["consecutive_failures"] == 1
    assert bad["failing_since"]
    assert bad["next_poll_at"]
    assert not bad["failing_for_long"]
    assert not good["failing"]
    assert good["items_seen"] == 1
    assert good["items_new"] == 1
    assert good["last_success_at"]
    assert good["next_poll_at"]
    assert good["primed"]
    assert any("bad-feed" in reason and "HTTP 500" in reason for reason in health["reasons"])
    assert "push" not in sources, "push ingest shows once something was pushed"


def test_slash_sources_lists_failing_sources_first_as_valid_blocks(services: Services) -> None:
    poll_all(services)

    reply = services.commands.signals("sources", ChannelRef(channel_id="C0AI"))

    text = json.dumps(reply.message.blocks)
    assert "bad-feed" in text
    assert "good-feed" in text
    assert "optyx" in text
    assert text.index("bad-feed") < text.index("good-feed")
    assert "HTTP 500 Internal Server Error" in text
    assert "1 failing" in reply.message.text
    for block in reply.message.blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def test_a_source_failing_for_long_is_flagged_everywhere(services: Services, web_url: str) -> None:
    poll_all(services)
    with transaction(services.sessions) as session:
        session.execute(
            update(SourceState)
            .where(SourceState.name == "bad-feed")
            .values(failing_since=utcnow() - timedelta(hours=2))
        )

    health = httpx.get(f"{web_url}/healthz").json()
    reply = services.commands.signals("sources", ChannelRef(channel_id="C0AI"))

    (bad,) = [source for source in health["sources"] if source["name"] == "bad-feed"]
    assert bad["failing_for_long"]
    assert any("FAILING FOR LONG" in reason for reason in health["reasons"])
    blocks = json.dumps(reply.message.blocks)
    assert blocks.index(":red_circle:") < blocks.index("good-feed"), "at a glance, at the top"


def test_slash_sources_lists_configured_sources_before_any_poll(services: Services) -> None:
    reply = services.commands.signals("sources", ChannelRef(channel_id="C0AI"))
    listing = json.dumps(reply.message.blocks, ensure_ascii=False)
    for source in services.settings.sources:
        assert f"*{source.name}* ({source.kind}) \u2014 not polled yet" in listing


def test_poll_jobs_never_pile_up(services: Services) -> None:
    scheduler = build_scheduler(services)
    scheduler.start(paused=True)  # job defaults apply once started; paused, nothing runs
    try:
        polls = [job for job in scheduler.get_jobs() if job.id.startswith("poll:")]
    finally:
        scheduler.shutdown(wait=False)

    assert len(polls) == 3
    for job in polls:
        assert job.max_instances == 1
        assert job.coalesce
        assert job.trigger.jitter


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sources_file: Path) -> Path:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(sources_file))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.usefixtures("cli_environment")
def test_cli_sources_shows_health_at_a_glance(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import build_services
    from bot.config import Settings

    services = build_services(Settings(_env_file=None))
    poll_all(services)
    services.engine.dispose()

    code, out, _ = run_cli(capsys, "sources")

    assert code == 0
    bad_line = next(line for line in out.splitlines() if line.startswith("bad-feed"))
    assert "failing" in bad_line
    assert "HTTP 500 Internal Server Error" in out
    assert (
        next(line for line in out.splitlines() if line.startswith("good-feed")).split()[2] == "ok"
    )


@pytest.mark.usefixtures("cli_environment")
def test_cli_ingests_a_feed_file_and_a_feed_url(
    capsys: pytest.CaptureFixture[str], server: FeedServer
) -> None:
    code, out, _ = run_cli(capsys, "ingest", str(CORPUS / "rss2-vulncheck-kev.xml"))
    from_url, url_out, _ = run_cli(capsys, "ingest", server.url("/good"), "--source", "loop")
    json_feed, json_out, _ = run_cli(capsys, "ingest", str(CORPUS / "jsonfeed-daringfireball.json"))

    assert code == 0
    assert len(out.splitlines()) == 10
    assert out.startswith("new")
    assert "CVE-2025-1316" in out
    assert from_url == 0
    assert "Alpha" in url_out
    assert json_feed == 0
    assert len(json_out.splitlines()) == 48


@pytest.mark.usefixtures("cli_environment")
def test_cli_ingest_of_a_broken_feed_or_url_says_why_in_one_line(
    capsys: pytest.CaptureFixture[str], server: FeedServer
) -> None:
    broken, _, broken_err = run_cli(
        capsys, "ingest", str(CORPUS / "rss2-reuters-most-read-server-error.xml")
    )
    failing, _, failing_err = run_cli(capsys, "ingest", server.url("/bad"))

    assert (broken, failing) == (1, 1)
    assert "broken feed" in broken_err
    assert len(broken_err.strip().splitlines()) == 1
    assert "HTTP 500" in failing_err
    assert len(failing_err.strip().splitlines()) == 1
