"""The `signal-bot` command line: the slash-command mirrors, ingest, preview, and local mode."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from conftest import SEED, clear_slack_environment, run_cli, wait_until
from long_briefs import brief_text, section_bodies

from bot.search.backends.level_index import level_index_kind
from bot.store.db import make_engine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Local mode on a fresh SQLite file, sources from an empty folder, run in tmp_path."""
    clear_slack_environment(monkeypatch)
    (tmp_path / "signals").mkdir()
    config = tmp_path / "signal-bot.toml"
    config.write_text('[[sources]]\nname = "optyx"\nkind = "folder"\npath = "signals"\n')
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ingest_stores_once_then_says_why_it_stored_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(capsys, "ingest", str(SEED))
    again, _, err = run_cli(capsys, "ingest", str(SEED))

    assert code == 0
    assert out.startswith("new")
    assert "Meta Pivots To Closed-Source AI" in out
    assert again == 1
    assert "already stored" in err
    assert len(err.strip().splitlines()) == 1


def test_ingest_of_garbage_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello\nthis is not a brief\n")

    code, _, err = run_cli(capsys, "ingest", str(garbage))

    assert code == 1
    assert f"{garbage}:" in err
    assert len(err.strip().splitlines()) == 1


def test_mirrors_subscribe_list_search_latest_show(capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "ingest", str(SEED))

    _, subscribed, _ = run_cli(capsys, "subscribe", "C0AI", "AI", "Advances")
    _, listed, _ = run_cli(capsys, "list", "C0AI")
    _, found, _ = run_cli(capsys, "search", "muse")
    _, latest, _ = run_cli(capsys, "latest", "entity:meta")
    signal_id = found.split("`")[1] if "`" in found else ""
    _, shown, _ = run_cli(capsys, "show", signal_id)
    _, gone, _ = run_cli(capsys, "unsubscribe", "C0AI", "ai-advances")

    assert "subscribed" in subscribed
    assert "#1" in listed
    assert "Muse Spark" in found
    assert "Muse Spark" in latest
    assert "AI Governance Impact" in shown
    assert "Unsubscribed" in gone


def test_preview_prints_the_message_or_its_block_kit(capsys: pytest.CaptureFixture[str]) -> None:
    _, text, _ = run_cli(capsys, "preview", str(SEED))
    _, blocks, _ = run_cli(capsys, "preview", "--json", str(SEED))

    assert "The OPTYX Analysis" in text
    assert '"type": "header"' in blocks


def test_db_upgrade_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "db", "upgrade")[0] == 0
    assert run_cli(capsys, "db", "upgrade")[0] == 0


def test_db_search_index_on_sqlite_needs_no_rebuild(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "db", "search-index")

    assert code == 0
    assert "needs no rebuild" in out


@pytest.mark.postgres
def test_db_search_index_rebuilds_postgresql_search_as_gin_or_rum(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    assert run_cli(capsys, "db", "upgrade")[0] == 0

    code, out, _ = run_cli(capsys, "db", "search-index", "--gin")
    keyword_index = "keyword: index present"  # pg_trgm ships with PostgreSQL
    assert (code, out.strip().splitlines()) == (0, ["search index rebuilt: GIN", keyword_index])
    assert index_kind(postgres_url) == "gin"

    code, out, _ = run_cli(capsys, "db", "search-index")
    kind = index_kind(postgres_url)
    assert (code, out.strip().splitlines()) == (
        0,
        [f"search index rebuilt: {kind.upper()}", keyword_index],
    )
    assert kind == ("rum" if os.environ.get("CI") == "true" else kind)


def index_kind(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as connection:
        kind = level_index_kind(connection)
    engine.dispose()
    return kind


def test_a_bad_sources_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], local_environment: Path
) -> None:
    (local_environment / "signal-bot.toml").write_text('[[sources]]\nname = "x"\nkind = "ftp"\n')

    code, _, err = run_cli(capsys, "sources")

    assert code == 2
    assert "signal-bot.toml" in err
    assert "kind" in err


@pytest.mark.slow
def test_run_in_local_mode_prints_briefs_dropped_into_the_folder(local_environment: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=local_environment,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _read_until(process, "local mode")
        wait_until(lambda: _primed(local_environment / "cli.db"), 30, "the first poll")
        (local_environment / "signals" / "brief.txt").write_text(SEED.read_text("utf-8"), "utf-8")
        printed = _read_until(process, "AI Governance Impact")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
    assert "Meta Pivots To Closed-Source AI" in printed
    assert code == 0


def _primed(database: Path) -> bool:
    """The first poll stored what the folder held (nothing) without posting it."""
    try:
        with closing(sqlite3.connect(database)) as connection:
            row = connection.execute("SELECT primed FROM source_state WHERE name = 'optyx'")
            return bool(row.fetchone() == (1,))
    except sqlite3.OperationalError:  # no database or table yet: the bot is still starting
        return False


def _read_until(process: subprocess.Popen[str], marker: str, limit: int = 400) -> str:
    assert process.stdout is not None
    seen = []
    for _ in range(limit):
        line = process.stdout.readline()
        seen.append(line)
        if marker in line or not line:
            break
    text = "".join(seen)
    assert marker in text, text
    return text


def test_bot_web_app_is_a_wsgi_app_built_from_the_environment() -> None:
    import bot.web

    app = bot.web.app
    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["database"] is True
    assert bot.web.app is app


@pytest.mark.parametrize("name", ["push", "cli"])
def test_source_names_of_push_and_cli_ingest_are_reserved(
    capsys: pytest.CaptureFixture[str], local_environment: Path, name: str
) -> None:
    (local_environment / "signal-bot.toml").write_text(
        f'[[sources]]\nname = "{name}"\nkind = "folder"\npath = "signals"\n'
    )

    code, _, err = run_cli(capsys, "sources")

    assert code == 2
    assert "pick another source name" in err


def test_preview_shows_a_long_brief_as_a_post_and_its_thread(
    capsys: pytest.CaptureFixture[str], local_environment: Path
) -> None:
    long_brief = local_environment / "long.txt"
    long_brief.write_text(brief_text("long-1", section_bodies(35_000)), encoding="utf-8")

    _, full, _ = run_cli(capsys, "preview", str(long_brief))
    _, compact, _ = run_cli(capsys, "preview", "--format", "compact", str(long_brief))

    assert "── threaded reply 4 of 4 ──" in full
    assert "── threaded reply 5 of 5 ──" in compact
